r"""Particle size distribution (PSD) of quantum dots from their UV-vis absorbance (after Segets et al.).

The absorbance of a dispersion is the volume-weighted superposition of the absorbance of its size classes
(Segets 2009, 2012; Segets 2016 review: "superimposed individual optical contributions according to the relative
abundance of different sizes"). With :math:`p_j = q_3(x_j)\,\omega_j` the volume fraction of size class
:math:`x_j` (:math:`\omega_j` trapezoid weights of the size grid, :math:`\sum p_j = 1`):

.. math::  A(E) = \frac{\varphi L}{\ln 10} \sum_j p_j\, K(E; x_j)

where :math:`\varphi` is the volume fraction of semiconductor, :math:`L` the path length and :math:`K` the
absorption coefficient per unit volume of semiconductor (1/cm) of dots of diameter :math:`x_j`.

Kernel
------
A pure sum of shifted bulk spectra is monotone in energy and cannot produce the first excitonic *maximum* seen in
measured InP spectra. The kernel therefore treats the first excitonic (1S) transition explicitly:

.. math::  K(E; x) = \mu_i(E)\, S\!\left(\frac{E - E_{1S}(x) - \Delta_c}{\Gamma_c}\right)
           + f_X\, \mu_i(E_{1S}(x))\, \exp\!\left[-\frac{(E - E_{1S}(x))^2}{2 w^2}\right]
           + \sum_k f_k\, \mu_i(E_{1S}(x))\, \exp\!\left[-\frac{(E - E_{1S}(x) - \Delta_k)^2}{2 w_k^2}\right]

- :math:`E_{1S}(x)` = ``material.gap_ev(x)``, the sizing curve (first excitonic transition of a dot of equivalent-
  sphere diameter x). This is the size-dependent edge of Segets' shifted bulk spectrum.
- :math:`\mu_i(E)` is the intrinsic absorption coefficient of the dots in the solvent from bulk n, k with the
  local-field factor (Hens & Moreels 2012; :mod:`flowqd.materials.absorption`). Far above the edge the absorbance
  per volume is size-independent, so the forward model with volume fraction φ gives exactly
  :math:`A = \mu_i \varphi L/\ln 10` there — the same relation the concentration analysis inverts.
- :math:`S(u) = \tfrac12[1 + \mathrm{erf}(u)]` is a smooth continuum onset :math:`\Delta_c` above the 1S transition
  (width :math:`\Gamma_c`); it produces the dip on the blue side of the 1S peak.
- The Gaussian is the 1S band (homogeneous width w, peak strength :math:`f_X` relative to μ_i at that energy).
- The sum (``[[psd_kernel.bands]]``, none for InP) holds higher discrete transitions :math:`\Delta_k` above the 1S
  band; CdSe has two (2S3/2-1Se, and 1S1/2-1Se with 1P3/2-1Pe; Norris & Bawendi 1996), whose shape was calibrated on
  real spectra (``benchmarks/calibrate_cdse_kernel.py``). The strengths scale with size as :math:`f_X` does.

Parameters live in the material TOML ``[psd_kernel]`` table (see ``docs/design.md`` §5 for the values and
their effect).

Inversion
---------
On a fixed size grid the problem is :math:`\min_{p \ge 0, c} \|K p + c - A\|^2 + \lambda \|L p\|^2` with
:math:`L^\top L = D_2^\top D_2 + \epsilon I` (second differences plus a 1e-6 ridge that makes L invertible) and
c an offset (a residual baseline must not be fitted as large particles). c ≥ min(0, red-end level) − 3 noise
(:func:`offset_floor`): a free negative offset plus the featureless continuum of large particles mimics any slowly
varying background. Only classes whose 1S band lies inside the energy window (on both sides, with a 1.5 w margin)
are solved for; separate sub-noise modes are removed by :func:`prune_islands`.
λ is chosen by generalised cross-validation (GCV) of the unconstrained problem, evaluated in closed form from the
SVD of :math:`K L^{-1}` (precomputed once per energy grid); the non-negative solution at that λ is found by a
batched dual primal-dual active-set solver (method ``"pdas"``, the default; :func:`invert_psd_batch`, numpy or JAX)
or by ``scipy.optimize.nnls`` on the equivalent M×M reduced system (:func:`reduced_system`; method ``"nnls-gcv"``,
the reference); both reach the same minimiser. Uncertainties of x13 and RSD are the linearised propagation of the
estimated noise (residual RMS) through the solution on its free set.

Modules
-------
:mod:`~flowqd.analysis.psd.kernel` (kernel, size grid, distributions, forward model),
:mod:`~flowqd.analysis.psd.problem` (the cached regularised problem, GCV), :mod:`~flowqd.analysis.psd.solvers`
(scipy NNLS; the PDAS step shared by numpy and JAX; BLAS threads), :mod:`~flowqd.analysis.psd.results` (result
types, island pruning, uncertainty), :mod:`~flowqd.analysis.psd.batch` (:func:`invert_psd_batch`). This module holds
:func:`invert_psd` and the :data:`PSD_METHODS` registry; every public name is importable from here.

References
----------
- D. Segets, J. Gradl, R. K. Taylor, V. Vassilev and W. Peukert, ACS Nano 2009, 3, 1703-1710.
- D. Segets, J. M. Lucas, R. N. K. Taylor, M. Scheele, H. Zheng, A. P. Alivisatos and W. Peukert, ACS Nano 2012,
  6, 9021-9032.
- Z. Hens and I. Moreels, J. Mater. Chem. 2012, 22, 10406.
- Z. Wang and D. Segets, React. Chem. Eng. 2023, 8, 316 (eqs 1-3: x13, σ, RSD).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowqd.analysis.psd.batch import invert_psd_batch, offset_floor, red_end_level
from flowqd.analysis.psd.kernel import (
    PSDKernel,
    _moments_from_p,
    diameter_grid_nm,
    forward_absorbance,
    kernel_matrix,
    psd_gaussian,
    psd_lognormal,
    psd_moments,
)
from flowqd.analysis.psd.problem import RegularizedProblem, reduced_system, regularized_problem, select_lambda_gcv
from flowqd.analysis.psd.results import (
    PSDBatchResult,
    PSDResult,
    _linearised_uncertainty,
    _with_model_error,
    prune_islands,
)
from flowqd.analysis.psd.solvers import _batch_solve, single_blas_thread, solve_nnls_scipy
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import ConfigError, SpectrumError
from flowqd.materials import Material, get_material
from flowqd.units import HC_EV_NM, LN10

__all__ = [
    "PSD_METHODS",
    "PSDBatchResult",
    "PSDKernel",
    "PSDResult",
    "RegularizedProblem",
    "correct_linear_baseline",
    "diameter_grid_nm",
    "forward_absorbance",
    "invert_psd",
    "invert_psd_batch",
    "kernel_matrix",
    "offset_floor",
    "prune_islands",
    "psd_gaussian",
    "psd_lognormal",
    "psd_moments",
    "reduced_system",
    "regularized_problem",
    "select_lambda_gcv",
    "solve_nnls_scipy",
]

# ---------------------------------------------------------------------------------------------------------------
# methods
# ---------------------------------------------------------------------------------------------------------------
def _method_nnls_gcv(problem: RegularizedProblem, a: np.ndarray, lam: float | None) -> tuple[np.ndarray, float]:
    lam = float(select_lambda_gcv(problem, a)) if lam is None else float(lam)
    return solve_nnls_scipy(problem, a, lam), lam


def _method_pdas(problem: RegularizedProblem, a: np.ndarray, lam: float | None) -> tuple[np.ndarray, float]:
    # one spectrum fills one λ slice of the H⁻¹ stack (solvers._numpy_consts), computed alone, so the result does
    # not depend on what ran on the same grid before (the >200-class switch to nnls that this replaced did)
    x, lam_used = _batch_solve(problem, a[None, :], None if lam is None else np.array([lam]), "numpy")
    return x[0], float(lam_used[0])


def _method_lognormal(problem: RegularizedProblem, a: np.ndarray, lam: float | None) -> tuple[np.ndarray, float]:
    """Parametric fit: log-normal q3 (x13, RSD) and an amplitude, by bounded least squares."""
    from scipy.optimize import least_squares

    d, w = problem.diameter_nm, problem.weights
    K = problem.kernel[:, : problem.n_classes]

    def model(p: np.ndarray) -> np.ndarray:
        q = psd_lognormal(d, p[0], p[1])
        return K @ (q * w)

    def resid(p: np.ndarray) -> np.ndarray:
        m = model(p)
        amp = float(m @ a) / float(m @ m)
        return amp * m - a

    # start: size from where the model 1S lands, scanned on a coarse grid of x13
    best_r, best_x0 = float("inf"), float(d[0] + 0.5)
    for x0 in np.linspace(d[0] + 0.5, d[-1] - 0.8, 12):
        r = float(np.sum(resid(np.array([x0, 0.12])) ** 2))
        if r < best_r:
            best_r, best_x0 = r, float(x0)
    lo, hi = d[0] + 0.1, d[-1] - 0.1
    sol = least_squares(resid, np.array([best_x0, 0.12]), bounds=([lo, 0.02], [hi, 0.5]), x_scale=[0.1, 0.02])
    m = model(sol.x)
    amp = float(m @ a) / float(m @ m)
    return np.concatenate([amp * psd_lognormal(d, sol.x[0], sol.x[1]) * w, [0.0]]), float("nan")


#: Registered inversion methods: name -> solver(problem, scaled absorbance, λ or None) -> (p scaled, λ).
PSD_METHODS: dict[str, Callable[[RegularizedProblem, np.ndarray, float | None], tuple[np.ndarray, float]]] = {
    "nnls-gcv": _method_nnls_gcv,
    "pdas": _method_pdas,
    "lognormal": _method_lognormal,
}


# ---------------------------------------------------------------------------------------------------------------
# the public inversions
# ---------------------------------------------------------------------------------------------------------------
def correct_linear_baseline(spectrum: Spectrum, window_nm: tuple[float, float]) -> Spectrum:
    """Subtract a straight line fitted in the absorption-free ``window_nm`` (sloped offset from scattering or
    lamp drift) with :func:`flowqd.analysis.preprocess.correct_baseline` (``method="linear"``).

    A window beyond the red end of the spectrum means the spectrum does not reach the absorption onset.
    """
    from flowqd.analysis.preprocess import correct_baseline

    wl = spectrum.wavelength_nm
    if np.count_nonzero((wl >= window_nm[0]) & (wl <= window_nm[1])) < 5:
        raise SpectrumError(
            f"spectrum does not reach the absorption onset: fewer than 5 points in the baseline window "
            f"{window_nm[0]:g}-{window_nm[1]:g} nm (spectrum covers {wl[0]:.0f}-{wl[-1]:.0f} nm)",
            source=spectrum.source or None,
        )
    corrected, _ = correct_baseline(spectrum, window_nm=window_nm, method="linear")
    return corrected


#: the fit window's blue end is rounded up to a multiple of this (eV), so that similar spectra share a problem
_WINDOW_STEP_EV = 0.05


def invert_psd(
    spectrum: Spectrum,
    material: str | Material = "InP",
    *,
    method: str = "pdas",
    solvent: str | float = "hexane",
    baseline_window_nm: tuple[float, float] | None = None,
    fit_window_ev: tuple[float, float] | None = None,
    lambda_reg: float | None = None,
    search_nm: tuple[float, float] = (420.0, 750.0),
    min_points: int = 30,
    prune_sigma: float = 5.0,
    require_onset: bool = True,
) -> PSDResult:
    """Volume-weighted PSD (q3) of a QD dispersion from its absorbance spectrum.

    Parameters
    ----------
    spectrum : Spectrum
        Absorbance spectrum. Must be baseline-corrected unless ``baseline_window_nm`` is given.
    material : str or Material
        Material with a ``[psd_kernel]`` table.
    method : str
        Key of :data:`PSD_METHODS`: ``"pdas"`` (default: the batched primal-dual active-set solver on one row),
        ``"nnls-gcv"`` (reference: ``scipy.optimize.nnls`` on the same problem; same minimiser to ~1e-12, about
        1 ms slower), ``"lognormal"`` (parametric).
    solvent : str or float
        Solvent of the dispersion (local-field factor of the kernel).
    baseline_window_nm : tuple of float, optional
        Absorption-free long-wavelength window; a straight line fitted there is subtracted first.
    fit_window_ev : tuple of float, optional
        Energy window fitted. Default: from the red end of the spectrum to ``fit_above_peak_ev`` (material,
        0.6 eV for InP) above the first exciton.
    lambda_reg : float, optional
        Fixed regularisation parameter (scaled problem); default: GCV.
    search_nm : tuple of float
        Exciton search window (:func:`flowqd.analysis.exciton.find_exciton`).
    min_points : int
        Fewer points than this in the fit window is an error.
    prune_sigma : float
        Detection threshold of :func:`prune_islands` (0 disables it).
    require_onset : bool
        Refuse a spectrum that does not reach the absorption onset or whose red end still absorbs (the baseline
        must have been measured). ``False`` when the baseline is left to the fit's offset (a spectrum with
        no absorption-free region, e.g. 350-600 nm for 3 nm CdSe).

    Returns
    -------
    PSDResult

    Raises
    ------
    SpectrumError
        Saturated at the exciton, no exciton in range, spectrum does not reach the absorption onset, too few
        points in the fit window.
    """
    from flowqd.analysis.exciton import NoExcitonError, find_exciton, noise_level_estimate

    if method not in PSD_METHODS:
        raise ConfigError(f"unknown PSD method {method!r}; known: {', '.join(PSD_METHODS)}")
    # single-spectrum work is all small matrices: one BLAS thread is faster and steadier than thread hand-offs
    with single_blas_thread():
        src = spectrum.source or None
        if spectrum.kind != "absorbance":
            raise SpectrumError(f"PSD needs an absorbance spectrum, got {spectrum.kind}", source=src)
        mat = get_material(material)
        prm = PSDKernel.from_material(mat)
        spec = spectrum if baseline_window_nm is None else correct_linear_baseline(spectrum, baseline_window_nm)
        e_all = spec.energy_ev
        a_all = spec.values
        noise = noise_level_estimate(a_all)
        e_red = float(e_all.min())
        try:
            exc = find_exciton(spec, search_nm=search_nm)
        except NoExcitonError as err:
            if not err.absorbing:
                raise
            exc = None  # featureless (very broad) spectrum: fit it all, no onset-margin check
        if require_onset and exc is not None and e_red > exc.energy_ev - prm.onset_margin_ev:
            raise SpectrumError(
                f"spectrum does not reach the absorption onset: it ends at {HC_EV_NM / e_red:.0f} nm, needs to extend "
                f"to at least {HC_EV_NM / (exc.energy_ev - prm.onset_margin_ev):.0f} nm ({prm.onset_margin_ev:g} eV "
                f"below the exciton at {exc.wavelength_nm:.0f} nm)",
                source=src,
            )
        ref_a = abs(exc.absorbance) if exc is not None else float(np.max(np.abs(a_all)))
        tail = float(red_end_level(e_all, a_all)[0])
        if require_onset and abs(tail) > max(0.05 * ref_a, 5 * noise):
            raise SpectrumError(
                f"spectrum does not reach the absorption onset: absorbance {tail:.3g} at "
                f"{spec.wavelength_nm[-1]:.0f} nm is {abs(tail) / ref_a:.0%} of the exciton (baseline not corrected? "
                "give a baseline window)",
                source=src,
            )
        if fit_window_ev is None:
            lo = e_red
            # the window's blue end on a 0.05 eV grid: the spectra of one growth series (peaks a few nm apart) then
            # share one energy window and one cached regularised problem instead of an SVD each
            hi = (float(e_all.max()) if exc is None
                  else _WINDOW_STEP_EV * np.ceil((exc.energy_ev + prm.fit_above_peak_ev) / _WINDOW_STEP_EV))
        else:
            lo, hi = fit_window_ev
        sel = (e_all >= lo - 1e-12) & (e_all <= hi + 1e-12)
        if np.count_nonzero(sel) < min_points:
            raise SpectrumError(
                f"too few points in the fit window {HC_EV_NM / hi:.0f}-{HC_EV_NM / lo:.0f} nm "
                f"({np.count_nonzero(sel)} < {min_points})",
                source=src,
            )
        e = e_all[sel]
        a = a_all[sel]
        noise = noise_level_estimate(a)
        problem = regularized_problem(e, mat, solvent=solvent)
        # The offset is bounded below (else it and the continuum of large particles together mimic any slowly
        # varying background): by 3 noise below zero, or below the red end's level where that is negative.
        floor = float(offset_floor(e, a[None, :], np.array([noise]))[0])
        a_scale = float(np.max(np.abs(a - floor)))
        a_s = (a - floor) / a_scale
        x_s, lam = PSD_METHODS[method](problem, a_s, lambda_reg)
        m = problem.n_classes
        p_s = x_s[:m]
        offset = problem.kernel[:, m:] @ x_s[m:]
        if method != "lognormal" and prune_sigma:
            p_s = prune_islands(problem.kernel[:, :m], p_s, a_s - offset, noise / a_scale, prune_sigma)
            x_s = np.concatenate([p_s, x_s[m:]])
        if not np.any(p_s > 0):
            raise SpectrumError("no size distribution fits the spectrum (all weights zero)", source=src)
        fitted = problem.kernel @ x_s * a_scale + floor
        resid = a - fitted
        rms = float(np.sqrt(np.mean(resid**2)))
        d, wts = problem.diameter_nm, problem.weights
        pn = p_s / p_s.sum()
        x13, sig, rsd = _moments_from_p(d, pn)
        grid = problem.grid_nm
        q3 = np.zeros(grid.size)
        q3[problem.active] = pn / wts
        q0 = q3 / grid**3
        q0 = q0 / np.trapezoid(q0, grid)
        if method == "lognormal" or not np.isfinite(lam):
            u_x13 = u_rsd = float("nan")
        else:
            u_x13, u_rsd = _linearised_uncertainty(problem, x_s, lam, rms / a_scale)
            u_x13, u_rsd = _with_model_error(mat, float(x13), u_x13, u_rsd, fit_residual_rel=rms / max(ref_a, 1e-12))
        phi_l = float(LN10 * p_s.sum() * a_scale / problem.kernel_scale_cm)
        return PSDResult(
            diameter_nm=grid, q3=q3, q0=q0, x13_nm=float(x13), sigma_nm=float(sig), rsd=float(rsd),
            x13_uncertainty_nm=u_x13, rsd_uncertainty=u_rsd, energy_ev=e, absorbance=a, fitted=fitted,
            residual=resid, fit_residual_rms=rms, lambda_reg=float(lam), volume_fraction_path_cm=phi_l,
            method=method, exciton_wavelength_nm=exc.wavelength_nm if exc is not None else float("nan"),
            exciton_method=exc.method if exc is not None else "none",
            offset=float((offset * a_scale)[0]) + floor if np.ndim(offset) and offset.size else floor,
            solved_range_nm=(float(d[0]), float(d[-1])),
        )

