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

- :math:`E_{1S}(x)` = ``material.gap_ev(x)``, the sizing curve (first excitonic transition of a dot of equivalent-
  sphere diameter x). This is the size-dependent edge of Segets' shifted bulk spectrum.
- :math:`\mu_i(E)` is the intrinsic absorption coefficient of the dots in the solvent from bulk n, k with the
  local-field factor (Hens & Moreels 2012; :mod:`flowqd.materials.absorption`). Far above the edge the absorbance
  per volume is size-independent, so the forward model with volume fraction φ gives exactly
  :math:`A = \mu_i \varphi L/\ln 10` there — the same relation the concentration analysis inverts.
- :math:`S(u) = \tfrac12[1 + \mathrm{erf}(u)]` is a smooth continuum onset :math:`\Delta_c` above the 1S transition
  (width :math:`\Gamma_c`); it produces the dip on the blue side of the 1S peak.
- The Gaussian is the 1S band (homogeneous width w, peak strength :math:`f_X` relative to μ_i at that energy).

Parameters live in the material TOML ``[psd_kernel]`` table (see ``docs/design.md`` §5 for the values and
their effect).

Inversion
---------
On a fixed size grid the problem is :math:`\min_{p \ge 0, c} \|K p + c - A\|^2 + \lambda \|L p\|^2` with
:math:`L^\top L = D_2^\top D_2 + \epsilon I` (second differences plus a 1e-6 ridge that makes L invertible) and
c a free offset (a residual baseline must not be fitted as large particles). Only classes whose 1S band lies
inside the energy window are solved for; separate sub-noise modes are removed by :func:`prune_islands`.
λ is chosen by generalised cross-validation (GCV) of the unconstrained problem, evaluated in closed form from the
SVD of :math:`K L^{-1}` (precomputed once per energy grid); the non-negative solution at that λ is found by a
batched dual primal-dual active-set solver (method ``"pdas"``, the default; :func:`invert_psd_batch`, numpy or JAX)
or by ``scipy.optimize.nnls`` on the equivalent M×M reduced system (:func:`reduced_system`; method ``"nnls-gcv"``,
the reference); both reach the same minimiser. Uncertainties of x13 and RSD are the linearised propagation of the
estimated noise (residual RMS) through the solution on its free set.

References
----------
- D. Segets, J. Gradl, R. K. Taylor, V. Vassilev and W. Peukert, ACS Nano 2009, 3, 1703-1710.
- D. Segets, J. M. Lucas, R. N. K. Taylor, M. Scheele, H. Zheng, A. P. Alivisatos and W. Peukert, ACS Nano 2012,
  6, 9021-9032.
- Z. Hens and I. Moreels, J. Mater. Chem. 2012, 22, 10406.
- Z. Wang and D. Segets, React. Chem. Eng. 2023, 8, 316 (eqs 1-3: x13, σ, RSD).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from flowqd.analysis.preprocess import trapezoid_weights
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import ConfigError, RangeError, SpectrumError
from flowqd.materials import Material, get_material
from flowqd.units import HC_EV_NM, LN10

__all__ = [
    "PSD_METHODS",
    "PSDBatchResult",
    "PSDKernel",
    "PSDResult",
    "RegularizedProblem",
    "diameter_grid_nm",
    "forward_absorbance",
    "invert_psd",
    "invert_psd_batch",
    "kernel_matrix",
    "prune_islands",
    "psd_gaussian",
    "psd_lognormal",
    "psd_moments",
    "reduced_system",
    "regularized_problem",
    "select_lambda_gcv",
    "solve_nnls_scipy",
]

_RIDGE = 1e-6
#: log10 of the λ grid searched by GCV (relative to the largest singular value squared).
_LOG_LAMBDA_GRID = np.linspace(-9.0, 0.0, 46)
#: λ actually used is rounded to a 0.05-decade grid (181 values over the same range): GCV is flat at its minimum
#: (≤ 6 % change of λ), and a fixed set of λ values lets the batched solvers use a precomputed stack of H⁻¹.
_LAMBDA_STEP_DEC = 0.05
_N_LAMBDA_FINE = 181
#: Above this many size classes a single spectrum is not worth the H⁻¹ stack (see :func:`_method_pdas`).
_MAX_CLASSES_SINGLE_STACK = 200


# ---------------------------------------------------------------------------------------------------------------
# kernel parameters
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PSDKernel:
    """Parameters of the PSD kernel (the material's ``[psd_kernel]`` TOML table).

    Attributes
    ----------
    exciton_width_ev : float
        Gaussian width w (standard deviation) of the 1S band of one size class, eV.
    exciton_strength : float
        Peak height f_X of the 1S band relative to μ_i(E_1S), for a 3 nm dot.
    exciton_strength_size_exponent : float
        f_X(x) = f_X·(x / 3 nm)^p: the 1S oscillator strength per volume need not be size-independent (CdSe:
        ε_1S ∝ d^2.65, Yu et al. 2003, i.e. per volume ∝ d^-0.35 before inhomogeneous broadening). Default 0.
    onset_offset_ev, onset_width_ev : float
        Continuum onset Δ_c above E_1S and its erf width Γ_c, eV.
    diameter_min_nm, diameter_max_nm, diameter_step_nm : float
        The fixed size grid of the inversion.
    fit_above_peak_ev : float
        Default fit window: from the red end of the spectrum up to this far above the exciton peak, eV.
    onset_margin_ev : float
        The spectrum must extend at least this far below the exciton peak (absorption-free red region), eV.
    """

    exciton_width_ev: float
    exciton_strength: float
    onset_offset_ev: float
    onset_width_ev: float
    diameter_min_nm: float
    diameter_max_nm: float
    diameter_step_nm: float
    fit_above_peak_ev: float = 0.6
    onset_margin_ev: float = 0.3
    exciton_strength_size_exponent: float = 0.0

    @classmethod
    def from_material(cls, material: Material) -> PSDKernel:
        """Read the ``[psd_kernel]`` table of ``material``; missing table or keys raise ConfigError."""
        table: Mapping[str, Any] = material.kernel
        if not table:
            raise ConfigError(f"material {material.name} has no [psd_kernel] table", source=material.source or None)
        try:
            # a sizing curve may bring its own size grid (another size convention spans other diameters)
            grid = material.sizing.diameter_grid_nm or table["diameter_grid_nm"]
            k = cls(
                exciton_width_ev=float(table["exciton_width_ev"]),
                exciton_strength=float(table["exciton_strength"]),
                onset_offset_ev=float(table["onset_offset_ev"]),
                onset_width_ev=float(table["onset_width_ev"]),
                diameter_min_nm=float(grid[0]),
                diameter_max_nm=float(grid[1]),
                diameter_step_nm=float(grid[2]),
                fit_above_peak_ev=float(table.get("fit_above_peak_ev", 0.6)),
                onset_margin_ev=float(table.get("onset_margin_ev", 0.3)),
                exciton_strength_size_exponent=float(table.get("exciton_strength_size_exponent", 0.0)),
            )
        except KeyError as exc:
            raise ConfigError(f"[psd_kernel] misses key {exc.args[0]!r}", source=material.source or None) from exc
        lo, hi = material.sizing.valid_diameter_nm
        if k.diameter_min_nm < lo - 1e-9 or k.diameter_max_nm > hi + 1e-9:
            raise ConfigError(
                f"[psd_kernel] diameter grid {k.diameter_min_nm:g}-{k.diameter_max_nm:g} nm outside the sizing "
                f"curve's valid range {lo:g}-{hi:g} nm",
                source=material.source or None,
            )
        if min(k.exciton_width_ev, k.onset_width_ev, k.diameter_step_nm) <= 0 or k.exciton_strength < 0:
            raise ConfigError("[psd_kernel] widths and step must be > 0, strength >= 0", source=material.source or None)
        return k


class _Ref:
    """Identity-hashed holder, so that a (non-hashable) Material can key an lru_cache."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Ref) and other.obj is self.obj


def diameter_grid_nm(material: str | Material = "InP") -> np.ndarray:
    """The fixed size grid (nm) of the inversion for ``material``.

    >>> g = diameter_grid_nm("InP")
    >>> float(g[0]), float(g[-1]), g.size
    (1.5, 6.0, 181)
    """
    k = PSDKernel.from_material(get_material(material))
    n = round((k.diameter_max_nm - k.diameter_min_nm) / k.diameter_step_nm) + 1
    return np.linspace(k.diameter_min_nm, k.diameter_max_nm, n)


def kernel_matrix(
    energy_ev: npt.ArrayLike,
    diameter_nm: npt.ArrayLike,
    material: str | Material = "InP",
    *,
    solvent: str | float = "hexane",
) -> np.ndarray:
    """Volume-normalised absorption coefficient K(E; x) in 1/cm, shape (N energies, M diameters).

    Parameters
    ----------
    energy_ev : array_like, shape (N,)
        Photon energies, eV (within the material's optical-constant tables).
    diameter_nm : array_like, shape (M,)
        Equivalent-sphere diameters, nm (within the sizing curve's valid range; else RangeError).
    material : str or Material
    solvent : str or float
        Solvent (name or refractive index) for the local-field factor of μ_i.

    Examples
    --------
    Far above the 1S transition every size class absorbs like μ_i (volume-normalised, size-independent):

    >>> K = kernel_matrix([4.0], [2.0, 3.0, 4.0])
    >>> mu = float(get_material("InP").intrinsic_absorption_cm(1239.841984 / 4.0, "hexane"))
    >>> [round(float(v) / mu, 6) for v in K[0]]
    [1.0, 1.0, 1.0]
    """
    mat = get_material(material)
    prm = PSDKernel.from_material(mat)
    e = np.asarray(energy_ev, dtype=float).reshape(-1)
    d = np.asarray(diameter_nm, dtype=float).reshape(-1)
    if np.any(e <= 0) or not np.all(np.isfinite(e)):
        raise RangeError("photon energies must be positive and finite")
    e1 = mat.gap_ev(d)  # raises RangeError outside the valid diameter range
    mu_e = _continuum_mu(mat, e, solvent)
    mu_1 = mat.intrinsic_absorption_cm(HC_EV_NM / e1, solvent)
    from scipy.special import erf

    u = e[:, None] - e1[None, :]
    onset = 0.5 * (1.0 + erf((u - prm.onset_offset_ev) / prm.onset_width_ev))
    band = np.exp(-0.5 * (u / prm.exciton_width_ev) ** 2)
    strength = prm.exciton_strength * (d / 3.0) ** prm.exciton_strength_size_exponent
    return mu_e[:, None] * onset + (strength * mu_1)[None, :] * band


def _continuum_mu(mat: Material, e: np.ndarray, solvent: str | float) -> np.ndarray:
    """μ_i at photon energies ``e``; below both the n,k table and the bulk gap it is 0 (no interband absorption
    there), so spectra that reach past the table's red end (CdSe: 827 nm) are accepted."""
    opt = mat.optical
    if opt is None:
        return mat.intrinsic_absorption_cm(HC_EV_NM / e, solvent)  # its own error
    e_min = float(opt.energy_ev[0])
    below = e < e_min
    if not np.any(below):
        return mat.intrinsic_absorption_cm(HC_EV_NM / e, solvent)
    if np.any(e[below] >= mat.bulk_gap_ev):
        raise RangeError(f"photon energies below the {mat.name} optical-constant table ({e_min:.3f} eV) but above "
                         f"its bulk gap ({mat.bulk_gap_ev:g} eV)")
    out = np.zeros_like(e)
    out[~below] = mat.intrinsic_absorption_cm(HC_EV_NM / e[~below], solvent)
    return out


# ---------------------------------------------------------------------------------------------------------------
# size distributions
# ---------------------------------------------------------------------------------------------------------------
def _normalise(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    area = np.trapezoid(q, x, axis=-1)
    if np.any(area <= 0):
        raise RangeError("size distribution has no weight on the given diameter grid")
    return q / np.expand_dims(area, -1)


def _check_dist(x13_nm: float, rsd: float) -> None:
    if not (x13_nm > 0 and 0 < rsd < 1):
        raise RangeError(f"need x13 > 0 and 0 < RSD < 1 (got x13={x13_nm}, rsd={rsd})")


def psd_lognormal(diameter_nm: npt.ArrayLike, x13_nm: float, rsd: float) -> np.ndarray:
    """Log-normal volume density q3 (1/nm) with volume-weighted mean ``x13_nm`` and relative std ``rsd``.

    The untruncated distribution has exactly these moments; the returned q3 is renormalised on the grid
    (∫q3 dx = 1 by the trapezoid rule), so moments differ slightly if the grid truncates a tail.

    >>> d = np.linspace(1.5, 6.0, 181)
    >>> [round(v, 4) for v in psd_moments(d, psd_lognormal(d, 3.0, 0.1))]
    [3.0, 0.3, 0.1]
    """
    _check_dist(x13_nm, rsd)
    d = np.asarray(diameter_nm, dtype=float)
    if np.any(d <= 0):
        raise RangeError("diameters must be positive")
    s2 = np.log1p(rsd * rsd)
    mu = np.log(x13_nm) - 0.5 * s2
    q = np.exp(-((np.log(d) - mu) ** 2) / (2 * s2)) / (d * np.sqrt(2 * np.pi * s2))
    return _normalise(d, q)


def psd_gaussian(diameter_nm: npt.ArrayLike, x13_nm: float, rsd: float) -> np.ndarray:
    """Gaussian volume density q3 (1/nm) with mean ``x13_nm`` and standard deviation ``rsd * x13_nm``.

    >>> d = np.linspace(1.5, 6.0, 181)
    >>> [round(v, 4) for v in psd_moments(d, psd_gaussian(d, 3.0, 0.1))]
    [3.0, 0.3, 0.1]
    """
    _check_dist(x13_nm, rsd)
    d = np.asarray(diameter_nm, dtype=float)
    s = rsd * x13_nm
    return _normalise(d, np.exp(-0.5 * ((d - x13_nm) / s) ** 2))


def psd_moments(diameter_nm: npt.ArrayLike, q3: npt.ArrayLike) -> tuple[float, float, float]:
    """x13 (eq. 1), σ (eq. 2) and RSD (eq. 3) of Wang & Segets 2023 from a volume density q3 (trapezoid rule).

    >>> psd_moments([1.0, 2.0, 3.0], [0.0, 1.0, 0.0])
    (2.0, 0.0, 0.0)
    """
    x = np.asarray(diameter_nm, dtype=float)
    q = np.asarray(q3, dtype=float)
    area = float(np.trapezoid(q, x))
    if not area > 0:
        raise RangeError("size distribution has no weight")
    x13 = float(np.trapezoid(x * q, x)) / area
    var = float(np.trapezoid((x - x13) ** 2 * q, x)) / area
    sigma = float(np.sqrt(max(var, 0.0)))
    return x13, sigma, sigma / x13


# ---------------------------------------------------------------------------------------------------------------
# forward model
# ---------------------------------------------------------------------------------------------------------------
def forward_absorbance(
    diameter_nm: npt.ArrayLike,
    q3: npt.ArrayLike,
    energy_ev: npt.ArrayLike | None = None,
    material: str | Material = "InP",
    *,
    wavelength_nm: npt.ArrayLike | None = None,
    solvent: str | float = "hexane",
    volume_fraction: float | npt.ArrayLike | None = None,
    path_mm: float = 1.0,
) -> np.ndarray:
    """Absorbance of a dispersion with volume density ``q3`` on ``diameter_nm`` (pure, vectorised).

    Parameters
    ----------
    diameter_nm : array_like, shape (M,)
        Size grid, nm (ascending). Classes with q3 = 0 everywhere may lie outside the sizing curve's range.
    q3 : array_like, shape (M,) or (B, M)
        Volume density (any normalisation; it is renormalised with the trapezoid rule).
    energy_ev, wavelength_nm : array_like, shape (N,)
        Where to evaluate; give exactly one.
    material, solvent
        As in :func:`kernel_matrix`.
    volume_fraction : float or array_like (B,), optional
        Volume fraction φ of semiconductor. Given: absolute absorbance for ``path_mm`` (far above the edge,
        A = μ_i φ L / ln 10 exactly). Omitted: the result is scaled to a maximum of 1 (per spectrum).
    path_mm : float
        Optical path length, mm.

    Returns
    -------
    ndarray, shape (N,) or (B, N)

    Examples
    --------
    >>> d = diameter_grid_nm()
    >>> a = forward_absorbance(d, psd_lognormal(d, 2.7, 0.08), wavelength_nm=[310.0], volume_fraction=1e-4,
    ...                        path_mm=10.0)
    >>> mu = float(get_material("InP").intrinsic_absorption_cm(310.0, "hexane"))
    >>> round(float(a[0] / (mu * 1e-4 * 1.0 / np.log(10))), 6)
    1.0
    """
    if (energy_ev is None) == (wavelength_nm is None):
        raise RangeError("give exactly one of energy_ev or wavelength_nm")
    e = (np.asarray(energy_ev, dtype=float) if energy_ev is not None
         else HC_EV_NM / np.asarray(wavelength_nm, dtype=float))
    e = np.atleast_1d(e)
    d = np.asarray(diameter_nm, dtype=float).reshape(-1)
    q = np.asarray(q3, dtype=float)
    single = q.ndim == 1
    q2 = np.atleast_2d(q)
    if q2.shape[-1] != d.size:
        raise RangeError(f"q3 has {q2.shape[-1]} classes but the grid has {d.size}")
    if np.any(q2 < 0):
        raise RangeError("q3 must be non-negative")
    p = q2 * trapezoid_weights(d)
    total = p.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise RangeError("size distribution has no weight")
    p = p / total
    used = np.any(p > 0, axis=0)
    K = kernel_matrix(e.reshape(-1), d[used], material, solvent=solvent)
    a = p[:, used] @ K.T
    if volume_fraction is None:
        a = a / np.max(a, axis=1, keepdims=True)
    else:
        phi = np.asarray(volume_fraction, dtype=float).reshape(-1, 1)
        if np.any(phi < 0) or path_mm <= 0:
            raise RangeError("volume_fraction must be >= 0 and path_mm > 0")
        a = a * phi * (path_mm * 0.1) / LN10
    a = a.reshape(q2.shape[0], *e.shape)
    return a[0] if single else a


# ---------------------------------------------------------------------------------------------------------------
# the regularised problem (precomputed per energy grid)
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class RegularizedProblem:
    """Everything that depends only on the energy grid, material and solvent (cached).

    ``diameter_nm`` holds the *active* classes: those of the material's grid (``grid_nm``) whose 1S transition
    lies inside the energy window (``active`` mask); the others are not determined by the data. The kernel is
    scaled to a maximum of 1 (``kernel_scale_cm`` is the factor) so that λ is dimensionless.
    """

    energy_ev: np.ndarray
    diameter_nm: np.ndarray
    kernel: np.ndarray  # (N, M + 1) scaled; last column: free offset
    kernel_scale_cm: float
    reg: np.ndarray  # (M, M) upper-triangular L with L^T L = D2^T D2 + eps I
    gram: np.ndarray  # K^T K
    reg_gram: np.ndarray  # L^T L
    u: np.ndarray  # (N, M) left singular vectors of K L^-1
    s: np.ndarray  # (M,)
    vt: np.ndarray  # (M, M)
    lambdas: np.ndarray  # GCV grid
    weights: np.ndarray = field(repr=False, default_factory=lambda: np.ones(0))  # trapezoid weights of the grid
    grid_nm: np.ndarray = field(repr=False, default_factory=lambda: np.ones(0))  # the full size grid
    active: np.ndarray = field(repr=False, default_factory=lambda: np.ones(0, bool))  # classes in the problem
    n_classes: int = 0  # the first n_classes columns are size classes, the last one a free offset
    vt_reg: np.ndarray = field(repr=False, default_factory=lambda: np.ones(0))  # V^T L (reduced system, C = w V^T L)
    vt_linv_t: np.ndarray = field(repr=False, default_factory=lambda: np.ones(0))  # V^T L^-T (unconstrained sol.)
    #: per-problem cache of device (JAX) copies of the constants and the learnt free-set width
    device_cache: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def active_width(self) -> int:
        """Static width of the gathered active set used by the jit-compiled solver (grows when too small)."""
        return int(self.device_cache.get("active_width", min(64, self.kernel.shape[1])))

    @property
    def nonneg(self) -> np.ndarray:
        """Mask of the variables constrained to be non-negative (the size classes)."""
        return np.arange(self.kernel.shape[1]) < self.n_classes

    @property
    def n_energy(self) -> int:
        return int(self.energy_ev.size)


@lru_cache(maxsize=16)
def _problem_cached(e_bytes: bytes, mref: _Ref, solvent: str | float) -> RegularizedProblem:
    e = np.frombuffer(e_bytes, dtype=float).copy()
    mat = mref.obj
    grid = diameter_grid_nm(mat)
    prm = PSDKernel.from_material(mat)
    # Only size classes whose 1S band lies inside the energy window (with a 1.5 w margin) are determined by the
    # data; smaller ones would only add unconstrained weight. They are reported as q3 = 0.
    active = mat.gap_ev(grid) <= float(e.max()) - 1.5 * prm.exciton_width_ev
    if np.count_nonzero(active) < 8:
        raise SpectrumError(
            f"fit window {HC_EV_NM / e.max():.0f}-{HC_EV_NM / e.min():.0f} nm resolves fewer than 8 size classes"
        )
    d = grid[active]
    K = kernel_matrix(e, d, mat, solvent=solvent)
    scale = float(np.max(K))
    K = K / scale
    m = d.size
    # one free (unconstrained) offset column: a residual offset left by the baseline correction must not be
    # explained by the continuum of large particles. (A free slope as well was tried and rejected: it is nearly
    # degenerate with the featureless absorption of broad small-size distributions.)
    K = np.hstack([K, 0.5 * np.ones((e.size, 1))])
    D2 = np.diff(np.eye(m), 2, axis=0)
    R = np.zeros((m + 1, m + 1))
    R[:m, :m] = D2.T @ D2
    R += _RIDGE * np.eye(m + 1)
    L = np.linalg.cholesky(R).T  # upper: R = L^T L
    Linv = np.linalg.inv(L)
    u, s, vt = np.linalg.svd(K @ Linv, full_matrices=False)
    lambdas = s[0] ** 2 * 10.0 ** _LOG_LAMBDA_GRID
    for a in (e, d, K, L, Linv, u, s, vt, lambdas, grid, active):
        a.setflags(write=False)
    gram = K.T @ K
    gram.setflags(write=False)
    R.setflags(write=False)
    wts = trapezoid_weights(grid)[active]
    wts.setflags(write=False)
    vt_reg = vt @ L
    vt_linv_t = vt @ Linv.T
    for a in (vt_reg, vt_linv_t):
        a.setflags(write=False)
    return RegularizedProblem(e, d, K, scale, L, gram, R, u, s, vt, lambdas, wts, grid, active, m,
                              vt_reg, vt_linv_t)


def regularized_problem(
    energy_ev: npt.ArrayLike, material: str | Material = "InP", *, solvent: str | float = "hexane"
) -> RegularizedProblem:
    """Build (or fetch from an LRU cache) the regularised problem for an energy grid."""
    e = np.ascontiguousarray(np.asarray(energy_ev, dtype=float).reshape(-1))
    return _problem_cached(e.tobytes(), _Ref(get_material(material)), solvent)


def _gcv_lambda(xp: Any, beta: Any, perp: Any, s: Any, lambdas: Any, n: int) -> Any:
    """GCV minimiser per row (grid + parabolic refinement in log λ), written once for numpy and jax.numpy."""
    f = lambdas[:, None] / (s[None, :] ** 2 + lambdas[:, None])  # (L, M)
    num = (beta * beta) @ (f * f).T + perp[:, None]
    den = (n - s.shape[0] + f.sum(axis=1)) ** 2
    g = xp.log(num / den[None, :])
    k = xp.clip(xp.argmin(g, axis=1), 1, lambdas.shape[0] - 2)[:, None]
    g0 = xp.take_along_axis(g, k - 1, axis=1)[:, 0]
    g1 = xp.take_along_axis(g, k, axis=1)[:, 0]
    g2 = xp.take_along_axis(g, k + 1, axis=1)[:, 0]
    curv = g0 - 2 * g1 + g2
    shift = xp.where(curv > 0, 0.5 * (g0 - g2) / xp.where(curv > 0, curv, 1.0), 0.0)
    shift = xp.clip(shift, -1.0, 1.0)
    step = float(_LOG_LAMBDA_GRID[1] - _LOG_LAMBDA_GRID[0])
    return 10.0 ** (xp.log10(lambdas[k[:, 0]]) + shift * step)


def select_lambda_gcv(problem: RegularizedProblem, absorbance: npt.ArrayLike) -> np.ndarray:
    r"""Regularisation parameter(s) by generalised cross-validation of the unconstrained problem.

    With :math:`K L^{-1} = U S V^\top`, :math:`\beta = U^\top a` and :math:`f_i = \lambda/(s_i^2 + \lambda)`:

    .. math:: G(\lambda) = \frac{\sum_i f_i^2 \beta_i^2 + \|a\|^2 - \|\beta\|^2}{(N - M + \sum_i f_i)^2}

    minimised over a log grid (46 points, 1e-9...1 × s_max²) with a parabolic refinement in log λ, then rounded
    to the 0.05-decade grid of the solvers. O(M · 46) per spectrum once β is known. Vectorised: ``absorbance``
    (scaled like the problem) may be (N,) or (B, N); returns a scalar array or (B,).
    """
    a = np.asarray(absorbance, dtype=float)
    a2 = np.atleast_2d(a)
    beta = a2 @ problem.u  # (B, M)
    perp = np.maximum(np.sum(a2 * a2, axis=1) - np.sum(beta * beta, axis=1), 0.0)
    out = _gcv_lambda(np, beta, perp, problem.s, problem.lambdas, problem.n_energy)
    out = _lambda_from_index(problem.s, _lambda_index(problem.s, out))
    return out if a.ndim > 1 else out[0]


# ---------------------------------------------------------------------------------------------------------------
# solvers
# ---------------------------------------------------------------------------------------------------------------
def reduced_system(problem: RegularizedProblem, absorbance: npt.ArrayLike, lam: float) -> tuple[np.ndarray, np.ndarray]:
    r"""The M×M least-squares system with the same minimiser as the stacked ``[K; √λ L] x ≈ [a; 0]``.

    With :math:`K L^{-1} = U S V^\top` (cached per energy grid) the normal matrix is
    :math:`G_\lambda = K^\top K + \lambda L^\top L = C^\top C` with :math:`C = \mathrm{diag}(\sqrt{s^2+\lambda})\,
    V^\top L`, and :math:`K^\top a = C^\top d` with :math:`d = s\,U^\top a / \sqrt{s^2+\lambda}`. Hence
    :math:`\|Kx - a\|^2 + \lambda\|Lx\|^2 = \|Cx - d\|^2 + \text{const}` for every x: the same problem (and the same
    constrained minimiser) on an M×M matrix instead of (N+M)×M. Returns (C, d).
    """
    a = np.asarray(absorbance, dtype=float)
    w = np.sqrt(problem.s**2 + lam)
    return w[:, None] * problem.vt_reg, problem.s * (a @ problem.u) / w


def solve_nnls_scipy(
    problem: RegularizedProblem, absorbance: npt.ArrayLike, lam: float, *, form: str = "reduced"
) -> np.ndarray:
    """Reference solver: ``scipy.optimize.nnls`` (scaled units).

    ``form="stacked"`` solves the stacked (N+M)×M system [K; sqrt(λ) L]; ``form="reduced"`` (default) the
    identical problem in its M×M form (:func:`reduced_system`), about 10× cheaper, same minimiser.
    Returns the size-class weights followed by the free offset."""
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
    A = np.hstack([A, -A[:, problem.n_classes:]])  # the free offset as a difference of two non-negatives
    xs, _ = nnls(A, b, maxiter=50 * mt)
    x = xs[:mt].copy()
    x[problem.n_classes:] -= xs[mt:]
    return x


def _start(beta: Any, lam: Any, s: Any, vt_linv_t: Any) -> Any:
    """Unconstrained regularised solution from the SVD (cheap warm start: its positive part seeds F)."""
    return (beta * (s / (s * s + lam[:, None]))) @ vt_linv_t


def _lambda_index(s: Any, lam: Any, xp: Any = np) -> Any:
    """Index of λ on the fine grid ``s_max² · 10^(-9 + 0.05 j)``, j = 0..180 (the λ values the solvers use);
    ``s``: the singular values of the problem (numpy or jax.numpy through ``xp``)."""
    j = xp.round((xp.log10(lam / s[0] ** 2) - _LOG_LAMBDA_GRID[0]) / _LAMBDA_STEP_DEC)
    return xp.clip(j, 0, _N_LAMBDA_FINE - 1).astype(xp.int32)


def _lambda_from_index(s: Any, j: Any) -> Any:
    return s[0] ** 2 * 10.0 ** (_LOG_LAMBDA_GRID[0] + _LAMBDA_STEP_DEC * j)


def _dual_pdas_step(xp: Any, hinv_rows: Callable[[Any], Any], xu: Any, act: Any, nn: Any, tol: Any, k: int,
                    scatter: Callable[[Any, Any], Any]) -> tuple[Any, Any, Any]:
    """One primal-dual active-set step (Hintermüller, Ito & Kunisch 2002), in the multipliers of the (small)
    active set A, for all rows at once. Written once for numpy and jax.numpy.

    With H = KᵀK + λLᵀL, b = Kᵀa and the unconstrained solution x_u = H⁻¹b, the minimiser with x_A = 0 is
    x = x_u + (H⁻¹)_{:,A} ν with (H⁻¹)_{AA} ν = −x_u,A, and ν = ∇_A (the multipliers). Only the k×k block of
    the precomputed H⁻¹ is gathered and factorised (k = |A|, padded), not the free block. Update:
    A ← {i ∈ A: ν_i ≥ −tol} ∪ {i ∉ A, constrained: x_i ≤ 0}; a row has converged (KKT) when A does not change.
    ``hinv_rows(order)``: the rows ``order`` (B, k) of each row's H⁻¹, (B, k, M), gathered from the per-λ stack.
    """
    key = xp.where(act, 0, 1).astype(xp.int32)
    order = xp.argsort(key, axis=1, stable=True)[:, :k]  # active indices first
    valid = xp.take_along_axis(act, order, axis=1)
    rows = hinv_rows(order)  # (B, k, M) rows of H⁻¹
    S = xp.take_along_axis(rows, order[:, None, :], axis=2)  # (B, k, k)
    v2 = valid[:, :, None] & valid[:, None, :]
    S = xp.where(v2, S, 0.0) + xp.eye(k, dtype=S.dtype)[None] * (~valid)[:, :, None]
    rhs = xp.where(valid, -xp.take_along_axis(xu, order, axis=1), 0.0)
    nu = xp.where(valid, xp.linalg.solve(S, rhs[:, :, None])[:, :, 0], 0.0)
    x = xu + (nu[:, None, :] @ rows)[:, 0, :]
    x = xp.where(act, 0.0, x)
    keep = scatter(order, valid & (nu >= -tol))
    new_act = keep | (~act & (x <= 0) & nn[None, :])
    conv = xp.all(new_act == act, axis=1) & (xp.sum(act, axis=1) <= k)
    return x, new_act, conv


@lru_cache(maxsize=1)
def _openblas_threads_api() -> tuple[Any, Any] | None:
    """(get, set) of the OpenBLAS bundled with numpy, or None (other BLAS, not found)."""
    import ctypes
    import glob
    import os

    libs = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "libscipy_openblas*.so"))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
            for suffix in ("64_", "_64_", ""):
                get = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None)
                set_ = getattr(lib, f"scipy_openblas_set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    set_.argtypes = [ctypes.c_int]
                    return get, set_
        except OSError:
            continue
    return None


class _SingleThreadBlas:
    """Scope in which numpy's OpenBLAS runs one thread: the PDAS loop issues hundreds of small (k×k, n×M)
    LAPACK/BLAS calls, which a multi-threaded OpenBLAS on shared cores makes up to 10× slower (thread
    hand-offs per call). No-op when the BLAS is not numpy's bundled OpenBLAS."""

    def __enter__(self) -> _SingleThreadBlas:
        api = _openblas_threads_api()
        self._old = None
        if api is not None:
            self._old = int(api[0]())
            if self._old != 1:
                api[1](1)
        return self

    def __exit__(self, *exc: object) -> None:
        api = _openblas_threads_api()
        if api is not None and self._old is not None and self._old != 1:
            api[1](self._old)


_PAD = 4  # sentinel columns of the padded H⁻¹ stack = the bucket width of the numpy PDAS loop


def _one_blas_thread(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` inside :class:`_SingleThreadBlas` (single-spectrum work is all small matrices: one thread is
    faster and its latency steadier than thread hand-offs on shared cores)."""
    import functools

    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        with _SingleThreadBlas():
            return fn(*args, **kwargs)

    return inner



def _numpy_consts(problem: RegularizedProblem) -> tuple[np.ndarray, np.ndarray]:
    """U (N, M+1) contiguous, for β = Uᵀa (Kᵀa follows from β), and the (181, M+1+P, M+1+P) stack of
    H_j⁻¹ = W diag(1/(s²+λ_j)) Wᵀ (W = L⁻¹V) padded with a P×P identity block (P = ``_PAD``): the rows of a
    bucket whose active set is narrower than the bucket gather their spare slots from that block, which gives
    the identity padding directly (no masking). Built once per problem and kept on it (cached)."""
    cache = problem.device_cache
    if "np-consts" not in cache:
        W = problem.vt_linv_t.T
        mt = W.shape[0]
        lam = _lambda_from_index(problem.s, np.arange(_N_LAMBDA_FINE))
        h = np.einsum("ik,lk,jk->lij", W, 1.0 / (problem.s**2 + lam[:, None]), W, optimize=True)
        hp = np.zeros((_N_LAMBDA_FINE, mt + _PAD, mt + _PAD))
        hp[:, :mt, :mt] = 0.5 * (h + np.swapaxes(h, 1, 2))
        hp[:, mt:, mt:] = np.eye(_PAD)
        cache["np-consts"] = (np.ascontiguousarray(problem.u), hp)
    return cache["np-consts"]


def _batch_solve_numpy_kta(
    problem: RegularizedProblem, A: np.ndarray, lam: np.ndarray | None, *, max_iter: int = 20
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_batch_solve_numpy` that also returns λ (GCV when ``lam`` is None, on the fine grid) and b = Kᵀa.

    β = Uᵀa is one GEMM and Kᵀa = (VᵀL)ᵀ(s∘β) (K = U S Vᵀ L) follows without a second N-length product. Each
    dual PDAS step (the iterates of :func:`_dual_pdas_step`) runs on all unconverged rows at once: rows are
    sorted by |A| and cut into buckets of width ``_PAD``; the k×k blocks (H⁻¹)_AA are gathered from the
    flattened, identity-padded per-λ stack with one ``np.take`` and solved by one batched ``np.linalg.solve``
    per bucket; x = x_u + H⁻¹ν is one GEMM per distinct λ (no (B, k, M) gather)."""
    nn = problem.nonneg
    u, hpad = _numpy_consts(problem)
    beta = A @ u
    b = (problem.s * beta) @ problem.vt_reg
    if lam is None:
        perp = np.maximum(np.einsum("ij,ij->i", A, A) - np.einsum("ij,ij->i", beta, beta), 0.0)
        lam = _gcv_lambda(np, beta, perp, problem.s, problem.lambdas, problem.n_energy)
    j = _lambda_index(problem.s, np.asarray(lam, dtype=float))
    lam_g = _lambda_from_index(problem.s, j)
    xu = _start(beta, lam_g, problem.s, problem.vt_linv_t)
    act = (xu <= 0) & nn[None, :]
    tol = 1e-11 * np.abs(b).max(axis=1, keepdims=True)
    x = xu.copy()
    with _SingleThreadBlas():
        todo = _pdas_loop_numpy(x, act, xu, j, tol, hpad, nn, np.arange(A.shape[0]), max_iter)
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


def _pdas_loop_numpy(x: np.ndarray, act: np.ndarray, xu: np.ndarray, j: np.ndarray, tol: np.ndarray,
                     hpad: np.ndarray, nn: np.ndarray, todo: np.ndarray, max_iter: int) -> np.ndarray:
    """The dual PDAS iterations of :func:`_batch_solve_numpy_kta` (updates x and act in place); returns the rows
    that have not converged."""
    mt = x.shape[1]
    mp = hpad.shape[1]
    hflat = hpad.reshape(-1)
    xup = np.zeros((xu.shape[0], mp))
    xup[:, :mt] = -xu
    for _ in range(max_iter):
        if todo.size == 0:
            break
        at = act[todo]
        ka = at.sum(axis=1)
        srt = np.argsort(ka, kind="stable")
        kq = -(-ka[srt] // _PAD) * _PAD
        cuts = np.flatnonzero(np.diff(kq)) + 1
        nu = np.zeros((todo.size, mp))
        jt = j[todo]
        for grp in np.split(srt, cuts):
            kg = ka[grp]
            k = max(int(kg.max()), 1)
            order = _active_first(at[grp], kg, k)
            base = ((jt[grp] * mp)[:, None] + order) * mp
            S = np.take(hflat, base[:, :, None] + order[:, None, :])
            rhs = np.take_along_axis(xup[todo[grp]], order, axis=1)
            sol = np.linalg.solve(S, rhs[:, :, None])[:, :, 0]
            ng = np.zeros((grp.size, mp))
            np.put_along_axis(ng, order, sol, axis=1)  # sentinel slots solve to exactly 0
            nu[grp] = ng
        xt = xu[todo]
        ju, inv = np.unique(jt, return_inverse=True)
        for q, jj in enumerate(ju):
            r = np.flatnonzero(inv == q)
            xt[r] += (nu[r] @ hpad[jj])[:, :mt]
        xt[at] = 0.0
        na = (at & (nu[:, :mt] >= -tol[todo])) | (~at & (xt <= 0) & nn[None, :])
        conv = np.all(na == at, axis=1)
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


@lru_cache(maxsize=8)
def _jax_solver(k: int, max_iter: int, gcv: bool) -> Callable[..., Any]:
    """jit-compiled batched solve: one GEMM for Kᵀa and Uᵀa, GCV λ, warm start, dual PDAS in a device-side
    ``lax.while_loop`` (no host round trips). ``k`` is the static width of the gathered active set; rows whose
    active set outgrows it, or that have not converged, are flagged (and finished on the host)."""
    import jax
    import jax.numpy as jnp

    def solve(KU: Any, s: Any, vt_linv_t: Any, lambdas: Any, hstack: Any, nn: Any, A: Any, lam: Any) -> Any:
        m = vt_linv_t.shape[0]
        bb = A @ KU
        b, beta = bb[:, :m], bb[:, m:]
        if gcv:
            perp = jnp.maximum(jnp.sum(A * A, axis=1) - jnp.sum(beta * beta, axis=1), 0.0)
            lam = _gcv_lambda(jnp, beta, perp, s, lambdas, A.shape[1])
        j = _lambda_index(s, lam, xp=jnp)
        lam = _lambda_from_index(s, j).astype(A.dtype)
        xu = _start(beta, lam, s, vt_linv_t)
        tol = 1e-11 * jnp.max(jnp.abs(b), axis=1, keepdims=True)
        rows = jnp.arange(A.shape[0])[:, None]

        def scatter(order: Any, vals: Any) -> Any:
            return jnp.zeros(xu.shape, bool).at[rows, order].set(vals)

        def cond(st: tuple[Any, ...]) -> Any:
            return (st[3] < max_iter) & ~jnp.all(st[2])

        def body(st: tuple[Any, ...]) -> tuple[Any, ...]:
            x, act, conv, it = st
            xn, an, cn = _dual_pdas_step(jnp, lambda o: hstack[j[:, None], o], xu, act, nn, tol, k, scatter)
            keep = conv[:, None]
            return jnp.where(keep, x, xn), jnp.where(keep, act, an), conv | cn, it + 1

        act0 = (xu <= 0) & nn[None, :]
        st = (xu, act0, jnp.zeros(A.shape[0], bool), jnp.asarray(0))
        x, _, conv, _ = jax.lax.while_loop(cond, body, st)
        x = jnp.where(nn[None, :], jnp.maximum(x, 0.0), x)
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
            cache[key] = (*(jnp.asarray(a, dtype=dt) for a in arrs), jnp.asarray(problem.nonneg))
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
        A = np.asarray(A, dtype=float)
        x, lam_g, _ = _batch_solve_numpy_kta(problem, A, lam, max_iter=max_iter)
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


# ---------------------------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------------------------
def _moments_from_p(d: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tot = p.sum(axis=-1, keepdims=True)
    pn = p / tot
    x13 = pn @ d
    var = np.sum(pn * (d[None, :] - x13[..., None]) ** 2, axis=-1) if p.ndim > 1 else float(
        np.sum(pn * (d - x13) ** 2))
    sig = np.sqrt(np.maximum(var, 0.0))
    return x13, sig, sig / x13


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
        The free constant offset of the fit, absorbance units (a baseline the correction left, or the whole
        baseline when none was measured).
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
    free = (x > 0) | ~problem.nonneg
    if np.count_nonzero(x[:m] > 0) == 0:
        return float("nan"), float("nan")
    ix = np.ix_(free, free)
    gk = problem.gram[ix]
    H = gk + lam * problem.reg_gram[ix]
    tot = x[:m].sum()
    x13, sig, _ = _moments_from_p(problem.diameter_nm, x[:m])
    is_class = problem.nonneg[free]
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


# ---------------------------------------------------------------------------------------------------------------
# methods
# ---------------------------------------------------------------------------------------------------------------
def _method_nnls_gcv(problem: RegularizedProblem, a: np.ndarray, lam: float | None) -> tuple[np.ndarray, float]:
    lam = float(select_lambda_gcv(problem, a)) if lam is None else float(lam)
    return solve_nnls_scipy(problem, a, lam), lam


def _method_pdas(problem: RegularizedProblem, a: np.ndarray, lam: float | None) -> tuple[np.ndarray, float]:
    if "np-consts" not in problem.device_cache and problem.n_classes > _MAX_CLASSES_SINGLE_STACK:
        # one spectrum on a large grid without the batch solver's 181-λ H⁻¹ stack (every spectrum of a growth series
        # has its own fit window): building the stack costs ~1 s and ~100 MB for ~250 classes (CdSe), the reduced
        # NNLS on the same problem ~2 ms and reaches the same minimiser. Deterministic: it depends on the grid only.
        return _method_nnls_gcv(problem, a, lam)
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
    best = None
    for x0 in np.linspace(d[0] + 0.5, d[-1] - 0.8, 12):
        r = float(np.sum(resid(np.array([x0, 0.12])) ** 2))
        if best is None or r < best[0]:
            best = (r, x0)
    lo, hi = d[0] + 0.1, d[-1] - 0.1
    sol = least_squares(resid, np.array([best[1], 0.12]), bounds=([lo, 0.02], [hi, 0.5]), x_scale=[0.1, 0.02])
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


@_one_blas_thread
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
        must have been measured). ``False`` when the baseline is left to the fit's free offset (a spectrum with
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
    n_tail = max(5, a_all.size // 40)
    tail = float(np.mean(a_all[-n_tail:]))
    if require_onset and abs(tail) > max(0.05 * ref_a, 5 * noise):
        raise SpectrumError(
            f"spectrum does not reach the absorption onset: absorbance {tail:.3g} at {spec.wavelength_nm[-1]:.0f} nm "
            f"is {abs(tail) / ref_a:.0%} of the exciton (baseline not corrected? give a baseline window)",
            source=src,
        )
    if fit_window_ev is None:
        lo = e_red
        hi = float(e_all.max()) if exc is None else exc.energy_ev + prm.fit_above_peak_ev
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
    a_scale = float(np.max(np.abs(a)))
    a_s = a / a_scale
    x_s, lam = PSD_METHODS[method](problem, a_s, lambda_reg)
    m = problem.n_classes
    p_s = x_s[:m]
    offset = problem.kernel[:, m:] @ x_s[m:]
    if method != "lognormal" and prune_sigma:
        p_s = prune_islands(problem.kernel[:, :m], p_s, a_s - offset, noise / a_scale, prune_sigma)
        x_s = np.concatenate([p_s, x_s[m:]])
    if not np.any(p_s > 0):
        raise SpectrumError("no size distribution fits the spectrum (all weights zero)", source=src)
    fitted = problem.kernel @ x_s * a_scale
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
        offset=float((offset * a_scale)[0]) if np.ndim(offset) and offset.size else 0.0,
    )


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
                prune_sigma: float) -> np.ndarray:
    """Class weights after :func:`_prune_islands_batch` on the rows with more than one contiguous run."""
    from flowqd.analysis.exciton import noise_level_estimate_rows

    m = problem.n_classes
    x = x_full[:, :m].copy()
    pos = x > 0
    runs = pos[:, 0].astype(int) + np.sum(pos[:, 1:] & ~pos[:, :-1], axis=1)
    multi = np.flatnonzero(runs > 1)
    if multi.size:
        noise = noise_level_estimate_rows(As[multi])  # MAD of second differences, as invert_psd
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
    problem = regularized_problem(e, material, solvent=solvent)
    scale = np.max(np.abs(A), axis=1)
    if np.any(scale <= 0):
        raise SpectrumError("a spectrum in the batch is all zeros")
    As = A / scale[:, None]
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
                x_c[:, :m] = _prune_rows(problem, As[rows], x_c, kta_c, prune_sigma)
            return x_c, lam_c, _residual_ss(problem, As[rows], x_c, kta_c)

        _numpy_consts(problem)  # build the cached H⁻¹ stack once, before the workers need it
        with _SingleThreadBlas():  # one BLAS thread per worker (process-wide setting: entered once, here)
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
            x_full[:, :m] = _prune_rows(problem, As, x_full, None, prune_sigma)
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
