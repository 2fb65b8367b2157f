"""Many spectra on one energy grid at once: :func:`invert_psd_batch` (numpy in worker threads, or JAX), with the
batched island pruning and residuals in the normal-equation form (no N-length products)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from flowqd.analysis.exciton import noise_level_estimate_rows
from flowqd.analysis.psd.kernel import _moments_from_p
from flowqd.analysis.psd.problem import RegularizedProblem, regularized_problem
from flowqd.analysis.psd.results import PSDBatchResult, _prune_islands_batch
from flowqd.analysis.psd.solvers import _batch_solve, _batch_solve_numpy_kta, single_blas_thread
from flowqd.errors import ConfigError, SpectrumError
from flowqd.materials import Material

__all__ = ["invert_psd_batch", "offset_floor"]


def _batch_workers(workers: int | None, n_rows: int) -> int:
    """Worker threads of the numpy batch: ``workers`` or the usable cores (at most 8), ≥ 256 rows each."""
    import os

    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            workers = os.cpu_count() or 1
        workers = min(workers, 8)
    if workers < 1:
        raise ConfigError(f"workers must be >= 1 (got {workers})")
    return max(1, min(workers, n_rows // 256))


def _prune_rows(problem: RegularizedProblem, As: np.ndarray, x_full: np.ndarray, kta: np.ndarray | None,
                prune_sigma: float, noise_s: np.ndarray) -> np.ndarray:
    """Class weights after :func:`_prune_islands_batch` on the rows with more than one contiguous run.
    ``noise_s``: the rows' noise in scaled units (MAD of second differences, as in invert_psd)."""
    m = problem.n_classes
    x = x_full[:, :m].copy()
    pos = x > 0
    runs = pos[:, 0].astype(int) + np.sum(pos[:, 1:] & ~pos[:, :-1], axis=1)
    multi = np.flatnonzero(runs > 1)
    if multi.size:
        noise = noise_s[multi]
        # Kᵀ(a − offset) for the classes, without N-length products when Kᵀa is known
        kta_m = As[multi] @ problem.kernel[:, :m] if kta is None else kta[multi, :m]
        g = kta_m - x_full[multi, m:] @ problem.gram[m:, :m]
        x[multi] = _prune_islands_batch(problem.gram[:m, :m], x[multi], g, noise, prune_sigma)
    return x


def _residual_ss(problem: RegularizedProblem, As: np.ndarray, x: np.ndarray, kta: np.ndarray | None) -> np.ndarray:
    """‖a − Kx‖² per row (scaled units). With Kᵀa known: ‖a‖² − 2xᵀKᵀa + xᵀKᵀKx (no N-length product); rows
    where that loses more than ~1e-8 of ‖a‖² to cancellation (near-exact fits) are recomputed directly."""
    a2 = np.einsum("ij,ij->i", As, As)
    if kta is None:
        kta = As @ problem.kernel
    ss = a2 - 2.0 * np.einsum("ij,ij->i", x, kta) + np.einsum("ij,ij->i", x @ problem.gram, x)
    exact = np.flatnonzero(ss < 1e-8 * a2)
    if exact.size:
        r = As[exact] - x[exact] @ problem.kernel.T
        ss[exact] = np.einsum("ij,ij->i", r, r)
    return np.maximum(ss, 0.0)


def offset_floor(energy_ev: np.ndarray, absorbance: np.ndarray, noise: np.ndarray | None = None) -> np.ndarray:
    """Lower bound of each spectrum's fitted offset, as in :func:`invert_psd`: 3 noise below zero, or below the
    red end's level (mean of its reddest 2.5 %, at least 5 points) where that is negative. Shape (B,).
    ``noise``: the rows' noise levels when already known
    (:func:`~flowqd.analysis.exciton.noise_level_estimate_rows`)."""
    A = np.atleast_2d(absorbance)
    noise = noise_level_estimate_rows(A) if noise is None else noise
    return np.minimum(red_end_level(energy_ev, A), 0.0) - 3.0 * noise


def red_end_level(energy_ev: np.ndarray, absorbance: np.ndarray) -> np.ndarray:
    """Each spectrum's level at its red end: the mean of its reddest 2.5 % (at least 5 points). Shape (B,)."""
    red = np.argsort(energy_ev, kind="stable")[: max(5, energy_ev.size // 40)]
    return np.atleast_2d(absorbance)[:, red].mean(axis=1)


def invert_psd_batch(
    energy_ev: npt.ArrayLike,
    absorbance: npt.ArrayLike,
    material: str | Material = "InP",
    *,
    solvent: str | float = "hexane",
    backend: str = "numpy",
    lambda_reg: npt.ArrayLike | None = None,
    max_iter: int = 20,
    dtype: str = "float64",
    prune_sigma: float = 5.0,
    workers: int | None = None,
) -> PSDBatchResult:
    """Invert many baseline-corrected spectra on a common energy grid at once.

    Same regularised problem as :func:`invert_psd` (per-spectrum GCV λ from the precomputed SVD) and the same
    minimiser as scipy nnls: Kᵀa and Uᵀa for all spectra are one matrix product; the unconstrained solution
    seeds the active set; dual primal-dual active-set steps (masked k×k solves on the gathered active set, with
    H⁻¹ from a per-λ stack) land on the exact minimiser, typically in 3-8 steps. ``backend="jax"`` jit-compiles
    the same algorithm (GCV and PDAS inside one ``lax.while_loop``; CPU or GPU; float64 by default,
    ``dtype="float32"`` for GPUs, accurate to ~1e-3 nm in x13).

    Parameters
    ----------
    energy_ev : array_like, shape (N,)
        The energies (the fit window; every point is used).
    absorbance : array_like, shape (B, N)
    material, solvent
    backend : {"numpy", "jax", "auto"}
        ``"auto"``: JAX when it runs on a GPU/TPU, else numpy (on a CPU the numpy path is ~20× faster).
    lambda_reg : array_like (B,), optional
        Fixed λ per spectrum (scaled problem), rounded to the solvers' 0.05-decade grid; default GCV.
    max_iter : int
        PDAS steps before a (rare) cycling row is handed to scipy nnls on the reduced system.
    prune_sigma : float
        As in :func:`invert_psd` (applied to the rows with more than one mode; 0 disables it).
    workers : int, optional
        Threads of the numpy backend (the rows are split into contiguous chunks of at least 256; each thread
        runs single-threaded BLAS). Default: the usable cores, at most 8. The result does not depend on it.

    Returns
    -------
    PSDBatchResult
    """
    from flowqd._backend import resolve_backend

    A = np.atleast_2d(np.asarray(absorbance, dtype=float))
    e = np.asarray(energy_ev, dtype=float).reshape(-1)
    if A.shape[1] != e.size:
        raise SpectrumError(f"absorbance has {A.shape[1]} columns but {e.size} energies")
    if not np.all(np.isfinite(A)):
        raise SpectrumError("a spectrum in the batch holds NaN or infinite values")
    problem = regularized_problem(e, material, solvent=solvent)
    if np.any(np.max(np.abs(A), axis=1) <= 0):
        raise SpectrumError("a spectrum in the batch is all zeros")
    noise = noise_level_estimate_rows(A)  # once: for the floor and (scaled) for the pruning
    floor = offset_floor(e, A, noise)
    scale = np.max(np.abs(A - floor[:, None]), axis=1)
    As = (A - floor[:, None]) / scale[:, None]
    noise_s = noise / scale
    lam_in = None if lambda_reg is None else np.broadcast_to(np.asarray(lambda_reg, dtype=float), (A.shape[0],))
    name = resolve_backend(backend, auto_needs_accelerator=True)
    m = problem.n_classes
    if name == "numpy":
        n_workers = _batch_workers(workers, A.shape[0])
        chunks = np.array_split(np.arange(A.shape[0]), n_workers)

        def solve_chunk(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            x_c, lam_c, kta_c = _batch_solve_numpy_kta(problem, As[rows], None if lam_in is None else lam_in[rows],
                                                       max_iter=max_iter)
            if prune_sigma:
                x_c[:, :m] = _prune_rows(problem, As[rows], x_c, kta_c, prune_sigma, noise_s[rows])
            return x_c, lam_c, _residual_ss(problem, As[rows], x_c, kta_c)

        with single_blas_thread():  # one BLAS thread per worker (process-wide setting: entered once, here)
            if n_workers == 1:
                parts = [solve_chunk(chunks[0])]
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(n_workers) as pool:
                    parts = list(pool.map(solve_chunk, chunks))
        x_full = np.concatenate([p_[0] for p_ in parts])
        lam = np.concatenate([p_[1] for p_ in parts])
        ss = np.concatenate([p_[2] for p_ in parts])
    else:
        x_full, lam = _batch_solve(problem, As, lam_in, name, max_iter=max_iter, dtype=dtype)
        x_full[:, :m] = np.maximum(x_full[:, :m], 0.0)
        if prune_sigma:
            x_full[:, :m] = _prune_rows(problem, As, x_full, None, prune_sigma, noise_s)
        ss = _residual_ss(problem, As, x_full, None)
    x = x_full[:, :m]
    tot = x.sum(axis=1, keepdims=True)
    if np.any(tot <= 0):
        raise SpectrumError("no size distribution fits one of the spectra (all weights zero)")
    pn = x / tot
    x13, sig, rsd = _moments_from_p(problem.diameter_nm, pn)
    rms = np.sqrt(ss / A.shape[1]) * scale
    q3 = np.zeros((A.shape[0], problem.grid_nm.size))
    q3[:, problem.active] = pn / problem.weights
    return PSDBatchResult(problem.grid_nm, q3, x13, sig, rsd, lam, rms, name)
