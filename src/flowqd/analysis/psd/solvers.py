r"""Solvers of the regularised NNLS: scipy's ``nnls`` (the reference) and the batched dual primal-dual active-set
method (PDAS) on numpy and on JAX, which share one step function and one warm start.

The problem depends on a spectrum only through Kᵀa (:func:`~flowqd.analysis.psd.problem.reduced_system`). With
H = KᵀK + λLᵀL and the unconstrained solution x_u = H⁻¹Kᵀa, each PDAS step (:func:`_dual_pdas_step`, written
once against ``xp`` = numpy or jax.numpy) solves for the multipliers ν of the active set A and updates A until the
KKT conditions hold. How the k×k blocks (H⁻¹)_AA are gathered and solved is the one thing the backends do
differently, because jit-compiled code needs static shapes:

- numpy (:func:`_multipliers_bucketed`): rows sorted by |A| and cut into buckets of width ``_PAD``, each solved at
  its own width from an identity-padded per-λ stack of H⁻¹; converged rows leave the loop (compaction).
- JAX (:func:`_jax_solver`): one static width k for all rows, masked; every row steps until all have converged,
  inside a device-side ``lax.while_loop``.

The numpy path limits BLAS to one thread for its scope (:func:`single_blas_thread`, threadpoolctl): it issues
hundreds of small LAPACK/BLAS calls, which a multi-threaded BLAS on shared cores makes up to 10× slower.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from flowqd.analysis.psd.problem import (
    _N_LAMBDA_FINE,
    RegularizedProblem,
    _gcv_lambda,
    _lambda_from_index,
    _lambda_index,
    reduced_system,
)
from flowqd.errors import ConfigError

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

__all__ = ["single_blas_thread", "solve_nnls_scipy"]

_PAD = 4  # sentinel columns of the padded H⁻¹ stack = the bucket width of the numpy PDAS loop


@lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    """threadpoolctl's handle on the loaded BLAS libraries, found once per process (lazily imported).

    Building a controller walks every loaded shared library (~2.7 ms here), 200× what entering its ``limit``
    costs (~12 µs), and ``threadpool_limits`` builds one per call: that would add more than half to the latency of
    :func:`~flowqd.analysis.psd.invert_psd`. scipy.linalg is imported first so that scipy's own OpenBLAS (a
    second copy beside numpy's in the wheels) is loaded and limited as well."""
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS before the libraries are listed)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_blas_thread() -> AbstractContextManager[Any]:
    """Context manager in which the BLAS libraries (numpy's and scipy's OpenBLAS, MKL, ...) run one thread each.

    Scoped to the ``with`` block and restored on exit (threadpoolctl's ``limit(limits=1, user_api="blas")`` on a
    controller found once, :func:`_blas_controller`). The PDAS solver and the single-spectrum path issue hundreds of
    small (k×k, n×M) LAPACK/BLAS calls, which a multi-threaded BLAS on shared cores makes up to 10× slower (thread
    hand-offs per call). The setting is process-wide while it lasts, so the batch enters it once, around its worker
    threads.

    >>> from threadpoolctl import threadpool_info
    >>> with single_blas_thread():
    ...     {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    {1}
    """
    return _blas_controller().limit(limits=1, user_api="blas")


def solve_nnls_scipy(
    problem: RegularizedProblem, absorbance: npt.ArrayLike, lam: float, *, form: str = "reduced"
) -> np.ndarray:
    """Reference solver: ``scipy.optimize.nnls`` (scaled units).

    ``form="stacked"`` solves the stacked (N+M)×M system [K; sqrt(λ) L]; ``form="reduced"`` (default) the
    identical problem in its M×M form (:func:`reduced_system`), about 10× cheaper, same minimiser.
    Returns the size-class weights followed by the offset (all non-negative)."""
    from scipy.optimize import nnls

    a = np.asarray(absorbance, dtype=float)
    mt = problem.kernel.shape[1]
    if form == "stacked":
        A = np.vstack([problem.kernel, np.sqrt(lam) * problem.reg])
        b = np.concatenate([a, np.zeros(mt)])
    elif form == "reduced":
        A, b = reduced_system(problem, a, lam)
    else:
        raise ConfigError(f"form must be 'reduced' or 'stacked' (got {form!r})")
    x, _ = nnls(A, b, maxiter=50 * mt)
    return x


def _start(beta: Any, lam: Any, s: Any, vt_linv_t: Any) -> Any:
    """Unconstrained regularised solution from the SVD (cheap warm start: its positive part seeds F)."""
    return (beta * (s / (s * s + lam[:, None]))) @ vt_linv_t


def _pdas_setup(xp: Any, A: Any, beta: Any, b: Any, lam: Any, s: Any, lambdas: Any, vt_linv_t: Any
                ) -> tuple[Any, Any, Any, Any, Any]:
    """Start of the batched PDAS, written once for numpy and jax.numpy: λ per row (GCV when ``lam`` is None)
    rounded to the solvers' fine grid, its index j into the per-λ H⁻¹ stack, the unconstrained solution x_u
    (from the SVD; its non-positive classes seed the active set) and the KKT tolerance on the multipliers.

    ``A`` (B, N) scaled spectra, β = Uᵀa (B, M), b = Kᵀa (B, M). Returns (j, λ, x_u, A₀, tol)."""
    if lam is None:
        perp = xp.maximum(xp.einsum("ij,ij->i", A, A) - xp.einsum("ij,ij->i", beta, beta), 0.0)
        lam = _gcv_lambda(xp, beta, perp, s, lambdas, A.shape[1])
    j = _lambda_index(s, xp.asarray(lam, dtype=A.dtype), xp)
    lam_g = _lambda_from_index(s, j).astype(A.dtype)
    xu = _start(beta, lam_g, s, vt_linv_t)
    act = xu <= 0  # every variable is non-negative (the offset too: see regularized_problem)
    tol = 1e-11 * xp.max(xp.abs(b), axis=1, keepdims=True)
    return j, lam_g, xu, act, tol


def _dual_pdas_step(xp: Any, multipliers: Callable[[Any], tuple[Any, Any]], act: Any, tol: Any
                    ) -> tuple[Any, Any, Any]:
    """One primal-dual active-set step (Hintermüller, Ito & Kunisch 2002), in the multipliers of the (small)
    active set A, for all rows at once. Written once for numpy and jax.numpy.

    With H = KᵀK + λLᵀL, b = Kᵀa and the unconstrained solution x_u = H⁻¹b, the minimiser with x_A = 0 is
    x = x_u + (H⁻¹)_{:,A} ν with (H⁻¹)_{AA} ν = −x_u,A, and ν = ∇_A (the multipliers). Only the k×k block of
    H⁻¹ is gathered and factorised (k = |A|), not the free block: ``multipliers(act)`` does that and returns ν
    (B, M; 0 off A) and x_u + (H⁻¹)_{:,A} ν (B, M) — the backend's part (:func:`_multipliers_bucketed` for
    numpy, the fixed-width gather of :func:`_jax_solver` for JAX).
    Update: A ← {i ∈ A: ν_i ≥ −tol} ∪ {i ∉ A: x_i ≤ 0}; a row has converged (KKT) when A does not
    change. Returns (x, new A, converged)."""
    nu, x = multipliers(act)
    x = xp.where(act, 0.0, x)
    new_act = (act & (nu >= -tol)) | (~act & (x <= 0))
    return x, new_act, xp.all(new_act == act, axis=1)


def _numpy_consts(problem: RegularizedProblem, lambda_index: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """U (N, M+1) contiguous, for β = Uᵀa (Kᵀa follows from β), and the (181, M+1+P, M+1+P) stack of
    H_j⁻¹ = W diag(1/(s²+λ_j)) Wᵀ (W = L⁻¹V) padded with a P×P identity block (P = ``_PAD``): the rows of a
    bucket whose active set is narrower than the bucket gather their spare slots from that block, which gives
    the identity padding directly (no masking). Kept on the problem (cached); the λ slices are filled when first
    needed: those of ``lambda_index``, or all of them when it is None (before a batch's worker threads start).
    One spectrum needs one slice (~0.3 ms) instead of the whole stack (~20-40 ms per new energy window)."""
    cache = problem.device_cache
    with problem.lock:  # creation and filling are one step for concurrent callers (threads of one process)
        if "np-consts" not in cache:
            mt = problem.vt_linv_t.shape[0]
            hp = np.zeros((_N_LAMBDA_FINE, mt + _PAD, mt + _PAD))
            hp[:, mt:, mt:] = np.eye(_PAD)
            cache["np-consts"] = (np.ascontiguousarray(problem.u), hp, np.zeros(_N_LAMBDA_FINE, dtype=bool))
        u, hp, filled = cache["np-consts"]
        need = np.flatnonzero(~filled) if lambda_index is None else np.unique(lambda_index[~filled[lambda_index]])
        if need.size:
            W = problem.vt_linv_t.T
            mt = W.shape[0]
            # slice by slice, so that a slice's values do not depend on which others were built with it
            for jj, lam_j in zip(need, _lambda_from_index(problem.s, need), strict=True):
                h = (W * (1.0 / (problem.s**2 + lam_j))) @ W.T
                hp[jj, :mt, :mt] = 0.5 * (h + h.T)
            filled[need] = True
    return u, hp


def _batch_solve_numpy_kta(
    problem: RegularizedProblem, A: np.ndarray, lam: np.ndarray | None, *, max_iter: int = 20
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_batch_solve_numpy` that also returns λ (GCV when ``lam`` is None, on the fine grid) and b = Kᵀa.

    β = Uᵀa is one GEMM and Kᵀa = (VᵀL)ᵀ(s∘β) (K = U S Vᵀ L) follows without a second N-length product. Each
    dual PDAS step (:func:`_dual_pdas_step`) runs on all unconverged rows at once (:func:`_pdas_loop_numpy`), with
    one BLAS thread (:func:`single_blas_thread`)."""
    beta = A @ problem.u
    b = (problem.s * beta) @ problem.vt_reg
    j, lam_g, xu, act, tol = _pdas_setup(np, A, beta, b, lam, problem.s, problem.lambdas, problem.vt_linv_t)
    _, hpad = _numpy_consts(problem, np.asarray(j))
    x = xu.copy()
    with single_blas_thread():
        todo = _pdas_loop_numpy(x, act, xu, j, tol, hpad, np.arange(A.shape[0]), max_iter)
    for i in todo:  # rare cycling rows: scipy nnls on the reduced system, exact
        x[i] = solve_nnls_scipy(problem, A[i], float(lam_g[i]))
    x[:, : problem.n_classes] = np.maximum(x[:, : problem.n_classes], 0.0)
    return x, lam_g, b


def _active_first(ag: np.ndarray, ka: np.ndarray, k: int) -> np.ndarray:
    """(g, k) indices: each row's active indices ascending, then sentinels mt, mt+1, ... (padded block).

    >>> _active_first(np.array([[False, True, True], [True, False, False]]), np.array([2, 1]), 2).tolist()
    [[1, 2], [0, 3]]
    """
    mt = ag.shape[1]
    order = mt + np.arange(k)[None, :] - ka[:, None]
    r, c = np.nonzero(ag)
    start = np.cumsum(ka) - ka
    order[r, np.arange(r.size) - start[r]] = c
    return order


def _multipliers_bucketed(xu: np.ndarray, xup: np.ndarray, j: np.ndarray, hpad: np.ndarray, act: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """The numpy backend's part of :func:`_dual_pdas_step`: ν and x_u + (H⁻¹)_{:,A} ν for the rows given.

    Rows are sorted by |A| and cut into buckets of width ``_PAD``; the k×k blocks (H⁻¹)_AA are gathered from the
    flattened, identity-padded per-λ stack ``hpad`` with one ``np.take`` (the spare slots of a bucket's narrower
    rows gather from the identity block, so the padding needs no masking) and solved by one batched
    ``np.linalg.solve`` per bucket; x = x_u + H⁻¹ν is one GEMM per distinct λ (no (B, k, M) gather).
    ``xup``: −x_u padded with zeros to the stack's width; ``j``: the rows' λ indices."""
    mt = xu.shape[1]
    mp = hpad.shape[1]
    hflat = hpad.reshape(-1)
    ka = act.sum(axis=1)
    srt = np.argsort(ka, kind="stable")
    kq = -(-ka[srt] // _PAD) * _PAD
    cuts = np.flatnonzero(np.diff(kq)) + 1
    nu = np.zeros((act.shape[0], mp))
    for grp in np.split(srt, cuts):
        kg = ka[grp]
        k = max(int(kg.max()), 1)
        order = _active_first(act[grp], kg, k)
        base = ((j[grp] * mp)[:, None] + order) * mp
        S = np.take(hflat, base[:, :, None] + order[:, None, :])
        rhs = np.take_along_axis(xup[grp], order, axis=1)
        sol = np.linalg.solve(S, rhs[:, :, None])[:, :, 0]
        ng = np.zeros((grp.size, mp))
        np.put_along_axis(ng, order, sol, axis=1)  # sentinel slots solve to exactly 0
        nu[grp] = ng
    x = xu.copy()
    ju, inv = np.unique(j, return_inverse=True)
    for q, jj in enumerate(ju):
        r = np.flatnonzero(inv == q)
        x[r] += (nu[r] @ hpad[jj])[:, :mt]
    return nu[:, :mt], x


def _pdas_loop_numpy(x: np.ndarray, act: np.ndarray, xu: np.ndarray, j: np.ndarray, tol: np.ndarray,
                     hpad: np.ndarray, todo: np.ndarray, max_iter: int) -> np.ndarray:
    """The dual PDAS iterations of :func:`_batch_solve_numpy_kta` (updates x and act in place); returns the rows
    that have not converged. Converged rows leave the loop (only the unconverged ones are stepped)."""
    xup = np.zeros((xu.shape[0], hpad.shape[1]))
    xup[:, : xu.shape[1]] = -xu
    for _ in range(max_iter):
        if todo.size == 0:
            break
        multipliers = partial(_multipliers_bucketed, xu[todo], xup[todo], j[todo], hpad)
        xt, na, conv = _dual_pdas_step(np, multipliers, act[todo], tol[todo])
        x[todo] = xt
        act[todo] = na
        todo = todo[~conv]
    return todo


def _batch_solve_numpy(
    problem: RegularizedProblem, A: np.ndarray, lam: np.ndarray, *, max_iter: int = 20
) -> np.ndarray:
    """Exact batched solve of the regularised NNLS (λ on the fine grid, see :func:`_lambda_index`).

    Warm start: the unconstrained solution x_u (from the SVD); its non-positive classes seed the active set.
    Then batched primal-dual active-set steps on the free set (:func:`_batch_solve_numpy_kta`). Rows that have not
    converged after ``max_iter`` steps (PDAS can cycle on non-M-matrices; ~0.5 % of rows) are finished by scipy
    nnls on the reduced M×M system. Returns x (B, M+1) in scaled units."""
    return _batch_solve_numpy_kta(problem, A, lam, max_iter=max_iter)[0]


@lru_cache(maxsize=8)
def _jax_solver(k: int, max_iter: int, gcv: bool) -> Callable[..., Any]:
    """jit-compiled batched solve: one GEMM for Kᵀa and Uᵀa, GCV λ and warm start (:func:`_pdas_setup`), dual
    PDAS steps (:func:`_dual_pdas_step`) in a device-side ``lax.while_loop`` (no host round trips). ``k`` is the
    static width of the gathered active set; rows whose active set outgrows it, or that have not converged, are
    flagged (and finished on the host)."""
    import jax
    import jax.numpy as jnp

    def solve(KU: Any, s: Any, vt_linv_t: Any, lambdas: Any, hstack: Any, A: Any, lam: Any) -> Any:
        m = vt_linv_t.shape[0]
        bb = A @ KU
        b, beta = bb[:, :m], bb[:, m:]
        j, lam, xu, act0, tol = _pdas_setup(jnp, A, beta, b, None if gcv else lam, s, lambdas, vt_linv_t)
        rows = jnp.arange(A.shape[0])[:, None]
        eye = jnp.eye(k, dtype=xu.dtype)[None]

        def multipliers(act: Any) -> tuple[Any, Any]:
            """The JAX backend's part of the step: the first k active indices (static width), masked."""
            order = jnp.argsort(jnp.where(act, 0, 1).astype(jnp.int32), axis=1, stable=True)[:, :k]
            valid = jnp.take_along_axis(act, order, axis=1)
            hrows = hstack[j[:, None], order]  # (B, k, M) rows of H⁻¹
            S = jnp.take_along_axis(hrows, order[:, None, :], axis=2)  # (B, k, k)
            S = jnp.where(valid[:, :, None] & valid[:, None, :], S, 0.0) + eye * (~valid)[:, :, None]
            rhs = jnp.where(valid, -jnp.take_along_axis(xu, order, axis=1), 0.0)
            nu = jnp.where(valid, jnp.linalg.solve(S, rhs[:, :, None])[:, :, 0], 0.0)
            x = xu + (nu[:, None, :] @ hrows)[:, 0, :]
            return jnp.zeros_like(xu).at[rows, order].set(nu), x

        def cond(st: tuple[Any, ...]) -> Any:
            return (st[3] < max_iter) & ~jnp.all(st[2])

        def body(st: tuple[Any, ...]) -> tuple[Any, ...]:
            x, act, conv, it = st
            xn, an, cn = _dual_pdas_step(jnp, multipliers, act, tol)
            cn = cn & (jnp.sum(act, axis=1) <= k)  # an active set wider than k was not solved for
            keep = conv[:, None]
            return jnp.where(keep, x, xn), jnp.where(keep, act, an), conv | cn, it + 1

        st = (xu, act0, jnp.zeros(A.shape[0], bool), jnp.asarray(0))
        x, _, conv, _ = jax.lax.while_loop(cond, body, st)
        x = jnp.maximum(x, 0.0)
        return x, conv, lam

    return jax.jit(solve)


def _jax_arrays(problem: RegularizedProblem, dtype: str) -> tuple[Any, ...]:
    """Device copies of the per-grid constants, incl. the full per-λ stack of H⁻¹ (181 × M × M), built on the
    device once per problem and dtype (kept in the LRU-cached problem)."""
    cache = problem.device_cache
    key = f"jax-{dtype}"
    if key not in cache:
        import jax
        import jax.numpy as jnp

        with jax.enable_x64(True):  # build in float64, then cast
            W = jnp.asarray(problem.vt_linv_t.T)
            lam = jnp.asarray(_lambda_from_index(problem.s, np.arange(_N_LAMBDA_FINE)))
            h = jnp.einsum("ik,lk,jk->lij", W, 1.0 / (jnp.asarray(problem.s) ** 2 + lam[:, None]), W)
            h = 0.5 * (h + jnp.swapaxes(h, 1, 2))
            dt = jnp.float64 if dtype == "float64" else jnp.float32
            ku = np.hstack([problem.kernel, problem.u])
            arrs = (ku, problem.s, problem.vt_linv_t, problem.lambdas, h)
            cache[key] = tuple(jnp.asarray(a, dtype=dt) for a in arrs)
    return cache[key]


def _batch_solve(problem: RegularizedProblem, A: Any, lam: np.ndarray | None, backend: str,
                 *, max_iter: int = 20, dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    """Batched solve; returns (x (B, M+1), λ (B,), on the fine grid). ``lam=None``: GCV.
    ``A`` may already be a device array (JAX); it is then not copied through the host."""
    from flowqd._backend import resolve_backend

    if dtype not in ("float64", "float32"):
        raise ConfigError(f"dtype must be 'float64' or 'float32' (got {dtype!r})")
    name = resolve_backend(backend, auto_needs_accelerator=True)
    if name == "numpy":
        x, lam_g, _ = _batch_solve_numpy_kta(problem, np.asarray(A, dtype=float), lam, max_iter=max_iter)
        return x, lam_g
    import jax
    import jax.numpy as jnp

    consts = _jax_arrays(problem, dtype)
    m = problem.kernel.shape[1]
    with jax.enable_x64(dtype == "float64"):
        dt = jnp.float64 if dtype == "float64" else jnp.float32
        Aj = jnp.asarray(A, dtype=dt)
        lj = jnp.zeros(Aj.shape[0], dt) if lam is None else jnp.asarray(lam, dtype=dt)
        k = problem.active_width
        while True:
            x, conv, lam_out = _jax_solver(k, max_iter, lam is None)(*consts, Aj, lj)
            conv_h = np.asarray(conv)
            if conv_h.mean() > 0.98 or k >= m:
                break
            k = min(m, 2 * k)  # active sets wider than expected on this grid: recompile once with room
        problem.device_cache["active_width"] = k
        x = np.array(x, dtype=float)
        lam_h = np.asarray(lam_out, dtype=float)
    lam_h = _lambda_from_index(problem.s, _lambda_index(problem.s, lam_h))  # exact grid values (float32 safe)
    bad = np.flatnonzero(~conv_h)
    if bad.size:  # rare: finish on the host (exact, float64)
        x[bad] = _batch_solve_numpy(problem, np.asarray(A, dtype=float)[bad], lam_h[bad], max_iter=max_iter)
    return x, lam_h

