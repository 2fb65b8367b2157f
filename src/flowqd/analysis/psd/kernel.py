r"""The PSD kernel K(E; x), the size grid, size distributions and their moments, and the forward model.

Pure and vectorised: the absorbance of a dispersion is the volume-weighted sum of the kernel over size classes
(the theory is in :mod:`flowqd.analysis.psd`). The kernel's parameters are the material's ``[psd_kernel]`` table
(:class:`PSDKernel`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from flowqd.analysis.preprocess import trapezoid_weights
from flowqd.errors import ConfigError, RangeError
from flowqd.materials import Material, get_material
from flowqd.units import HC_EV_NM, LN10

__all__ = [
    "PSDKernel",
    "diameter_grid_nm",
    "forward_absorbance",
    "kernel_matrix",
    "psd_gaussian",
    "psd_lognormal",
    "psd_moments",
]


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
    bands : tuple of (offset_ev, width_ev, strength)
        Higher discrete transitions (Norris & Bawendi 1996 for CdSe), each a Gaussian ``strength·μ_i(E_1S)·
        exp(-(E - E_1S - offset)² / (2 width²))`` (strength scales with size like f_X). Default none.
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
    bands: tuple[tuple[float, float, float], ...] = ()

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
                bands=tuple((float(b["offset_ev"]), float(b["width_ev"]), float(b["strength"]))
                            for b in table.get("bands", ())),
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
        if (min([k.exciton_width_ev, k.onset_width_ev, k.diameter_step_nm, *(b[1] for b in k.bands)]) <= 0
                or min([k.exciton_strength, *(b[2] for b in k.bands)]) < 0):
            raise ConfigError("[psd_kernel] widths and step must be > 0, strength >= 0", source=material.source or None)
        return k



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
    size_factor = (d / 3.0) ** prm.exciton_strength_size_exponent
    k = mu_e[:, None] * onset
    # the 1S band (at E_1S), then the higher discrete bands above it
    for offset_ev, width_ev, band_strength in ((0.0, prm.exciton_width_ev, prm.exciton_strength), *prm.bands):
        k += (band_strength * size_factor * mu_1)[None, :] * np.exp(-0.5 * ((u - offset_ev) / width_ev) ** 2)
    return k


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



def _moments_from_p(d: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tot = p.sum(axis=-1, keepdims=True)
    pn = p / tot
    x13 = pn @ d
    var = np.sum(pn * (d[None, :] - x13[..., None]) ** 2, axis=-1) if p.ndim > 1 else float(
        np.sum(pn * (d - x13) ** 2))
    sig = np.sqrt(np.maximum(var, 0.0))
    return x13, sig, sig / x13
