"""Results of the inversion (:class:`PSDResult`, :class:`PSDBatchResult`), island pruning of the solution and
the uncertainty of x13 and RSD (noise propagated through the solution, plus model error)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowqd.analysis.psd.kernel import _moments_from_p
from flowqd.analysis.psd.problem import RegularizedProblem
from flowqd.materials import Material
from flowqd.units import HC_EV_NM

__all__ = ["PSDBatchResult", "PSDResult", "prune_islands"]


@dataclass(frozen=True)
class PSDResult:
    """Result of :func:`invert_psd`.

    Attributes
    ----------
    diameter_nm, q3, q0 : ndarray
        Size grid and the volume density q3 (1/nm, ∫q3 dx = 1) and number density q0 ∝ q3/x³ (∫q0 dx = 1).
    x13_nm, sigma_nm, rsd : float
        Eqs 1-3 of Wang & Segets 2023 (RSD as a fraction).
    x13_uncertainty_nm, rsd_uncertainty : float
        One standard uncertainty: noise propagated through the solution (linearised on its free set) combined
        with model error (:func:`_with_model_error`: the sizing curve's own uncertainty and the kernel's misfit).
    energy_ev, absorbance, fitted, residual : ndarray
        The fit window: data, model and data − model.
    fit_residual_rms : float
        RMS of the residual, absorbance units.
    lambda_reg : float
        Regularisation parameter (scaled problem).
    volume_fraction_path_cm : float
        φ·L (cm) implied by the fit (A = μ_i φ L / ln10 far above the edge).
    method : str
    exciton_wavelength_nm, exciton_method : float, str
        The first exciton found on the way (:func:`~flowqd.analysis.exciton.find_exciton`; NaN and ``"none"``
        for a featureless spectrum).
    offset : float
        The constant offset of the fit, absorbance units (a baseline the correction left, or the whole baseline
        when none was measured); bounded below by :func:`~flowqd.analysis.psd.offset_floor`.
    solved_range_nm : tuple of float
        The smallest and largest diameter solved for: the classes whose 1S band lies inside the fit window (q3 is
        0 outside by construction). NaN when unknown.
    """

    diameter_nm: np.ndarray
    q3: np.ndarray
    q0: np.ndarray
    x13_nm: float
    sigma_nm: float
    rsd: float
    x13_uncertainty_nm: float
    rsd_uncertainty: float
    energy_ev: np.ndarray
    absorbance: np.ndarray
    fitted: np.ndarray
    residual: np.ndarray
    fit_residual_rms: float
    lambda_reg: float
    volume_fraction_path_cm: float
    method: str
    exciton_wavelength_nm: float = float("nan")
    exciton_method: str = "none"
    offset: float = 0.0
    solved_range_nm: tuple[float, float] = (float("nan"), float("nan"))

    @property
    def wavelength_nm(self) -> np.ndarray:
        """Wavelengths of the fit window, nm."""
        return HC_EV_NM / self.energy_ev


@dataclass(frozen=True)
class PSDBatchResult:
    """Result of :func:`invert_psd_batch` (one row per spectrum)."""

    diameter_nm: np.ndarray
    q3: np.ndarray  # (B, M)
    x13_nm: np.ndarray
    sigma_nm: np.ndarray
    rsd: np.ndarray
    lambda_reg: np.ndarray
    fit_residual_rms: np.ndarray
    backend: str


def _linearised_uncertainty(
    problem: RegularizedProblem, x: np.ndarray, lam: float, noise: float
) -> tuple[float, float]:
    """σ(x13), σ(RSD) from noise ``noise`` (scaled units) propagated through the solution on its free set."""
    m = problem.n_classes
    d = np.concatenate([problem.diameter_nm, np.zeros(x.size - m)])
    free = x > 0
    if np.count_nonzero(x[:m] > 0) == 0:
        return float("nan"), float("nan")
    ix = np.ix_(free, free)
    gk = problem.gram[ix]
    H = gk + lam * problem.reg_gram[ix]
    tot = x[:m].sum()
    x13, sig, _ = _moments_from_p(problem.diameter_nm, x[:m])
    is_class = (np.arange(x.size) < m)[free]  # the offset is free when positive, but it is not a size
    df = d[free]
    g_x13 = np.where(is_class, (df - x13) / tot, 0.0)
    g_var = np.where(is_class, ((df - x13) ** 2 - sig**2) / tot, 0.0)
    g_rsd = g_var / (2 * sig * x13) - sig / x13**2 * g_x13 if sig > 0 else g_x13 * 0
    # σ² = noise² ‖K_F H⁻¹ g‖² = noise² yᵀ(KᵀK)_FF y with y = H⁻¹g: two solves, no (N × |F|) products
    y = np.linalg.solve(H, np.stack([g_x13, g_rsd], axis=1))
    u_x13 = noise * float(np.sqrt(max(y[:, 0] @ gk @ y[:, 0], 0.0)))
    u_rsd = noise * float(np.sqrt(max(y[:, 1] @ gk @ y[:, 1], 0.0)))
    return u_x13, u_rsd


#: Model error of the kernel shape: relative standard uncertainty of x13 and of the RSD (absolute, as a fraction)
#: per unit relative misfit of the fit (residual RMS / absorbance at the exciton), with a floor. Calibrated by the
#: coverage test on spectra from a generator independent of the kernel (tests/analysis/test_coverage.py).
_MODEL_X13_REL = (0.012, 0.6)
_MODEL_RSD_ABS = (0.015, 0.8)


def _with_model_error(mat: Material, x13: float, u_x13: float, u_rsd: float, *, fit_residual_rel: float
                      ) -> tuple[float, float]:
    """Combine the noise uncertainty with model error (in quadrature).

    - Sizing curve: its standard uncertainty in energy (``uncertainty_ev``, the literature's scatter about it)
      through the curve's slope, δx = δE / |dE/dx| at x13.
    - Kernel shape: a floor plus a term growing with the relative misfit of the fit (a spectrum the kernel
      cannot follow is sized less surely), :data:`_MODEL_X13_REL`, :data:`_MODEL_RSD_ABS`.
    """
    if not np.isfinite(u_x13):
        return u_x13, u_rsd
    curve = mat.sizing
    lo, hi = curve.valid_diameter_nm
    x = float(np.clip(x13, lo + 1e-3, hi - 1e-3))
    slope = abs(float(curve.dgap_ddiameter_ev_per_nm(x)))
    u_curve = curve.uncertainty_ev / slope if slope > 0 else 0.0
    u_shape = x13 * (_MODEL_X13_REL[0] + _MODEL_X13_REL[1] * fit_residual_rel)
    u_rsd_model = _MODEL_RSD_ABS[0] + _MODEL_RSD_ABS[1] * fit_residual_rel
    return (float(np.sqrt(u_x13**2 + u_curve**2 + u_shape**2)), float(np.sqrt(u_rsd**2 + u_rsd_model**2)))


def prune_islands(kernel: np.ndarray, x: np.ndarray, absorbance: np.ndarray, noise: float,
                  threshold_sigma: float = 5.0) -> np.ndarray:
    """Remove separate modes of the solution that the data do not support.

    The volume-weighted σ is very sensitive to a fraction of a percent of volume far from the main mode, and a
    regularised NNLS solution sometimes parks such sub-noise "islands" at the ends of the size grid. Every
    contiguous run of non-zero weights other than the one holding most volume is tested: it is dropped (and the
    rest rescaled by the best single factor) when the χ² increase is below ``threshold_sigma²`` in units of the
    noise variance, i.e. when it is not detected at ``threshold_sigma``. Pure; returns a new array.
    """
    x = np.asarray(x, dtype=float)
    idx = np.flatnonzero(x > 0)
    if idx.size == 0 or noise <= 0:
        return x.copy()
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    if len(runs) == 1:
        return x.copy()
    main = int(np.argmax([x[r].sum() for r in runs]))
    out = x.copy()
    for k, r in enumerate(runs):
        if k == main:
            continue
        r0 = absorbance - kernel @ out
        trial = out.copy()
        trial[r] = 0.0
        m = kernel @ trial
        c = float(m @ absorbance) / float(m @ m)
        r1 = absorbance - c * m
        if (r1 @ r1 - r0 @ r0) / noise**2 < threshold_sigma**2:
            out = trial * c
    return out


def _prune_islands_batch(gram: np.ndarray, x: np.ndarray, g: np.ndarray, noise: np.ndarray,
                         threshold_sigma: float) -> np.ndarray:
    """:func:`prune_islands` for many rows at once, in the normal-equation form.

    With g = Kᵀa' (a' the data less the offset) and G = KᵀK: ‖a' − Kx‖² = ‖a'‖² − 2xᵀg + xᵀGx, and the best
    rescaled trial t leaves ‖a'‖² − (tᵀg)²/(tᵀGt); the χ² increase needs no N-length products. Runs are labelled
    by a cumulative sum of run starts, volumes by ``np.bincount``; the runs are tested in the same order as the
    per-row loop (the k-th run of every row at once), each drop updating the row before its next run."""
    out = x.copy()
    pos = out > 0
    start = pos.copy()
    start[:, 1:] &= ~pos[:, :-1]
    label = np.cumsum(start, axis=1) * pos  # 1..n_runs, 0 off-support
    nr = label.max(axis=1)
    rows = np.flatnonzero(nr > 1)
    if rows.size == 0:
        return out
    lab = label[rows]
    nmax = int(nr[rows].max())
    vol = np.bincount((np.arange(rows.size)[:, None] * (nmax + 1) + lab).ravel(), weights=out[rows].ravel(),
                      minlength=rows.size * (nmax + 1)).reshape(rows.size, nmax + 1)
    main = np.argmax(vol[:, 1:], axis=1) + 1
    o, gr, nz = out[rows], g[rows], noise[rows]
    ok = nz > 0
    thr = threshold_sigma**2 * nz**2
    for k in range(1, nmax + 1):
        sel = np.flatnonzero(ok & (k <= nr[rows]) & (k != main))
        if sel.size == 0:
            continue
        os_ = o[sel]
        trial = np.where(lab[sel] == k, 0.0, os_)
        go = np.einsum("ij,ij->i", os_, gr[sel])
        oGo = np.einsum("ij,ij->i", os_ @ gram, os_)
        tg = np.einsum("ij,ij->i", trial, gr[sel])
        tGt = np.einsum("ij,ij->i", trial @ gram, trial)
        c = tg / tGt
        d_chi = -c * tg + 2 * go - oGo  # ‖r1‖² − ‖r0‖²
        drop = d_chi < thr[sel]
        o[sel[drop]] = trial[drop] * c[drop, None]
    out[rows] = o
    return out

