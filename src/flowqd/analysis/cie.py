"""CIE 1931 colour of emission spectra, via colour-science.

Public objects
--------------
- :func:`chromaticity_xy`: CIE 1931 2° chromaticity (x, y) of an emission spectrum given in photon counts or power.
- :func:`dominant_wavelength_nm`: dominant wavelength against the equal-energy white point E = (1/3, 1/3).
- :data:`CMFS_NAME`, :data:`WHITE_POINT_E`.

Photon counts vs power
----------------------
Tristimulus values integrate a *radiometric* (power) spectrum against the colour-matching functions. A spectrometer
CCD counts photons, N(λ); the power per nm is :math:`P(λ) = N(λ)·hc/λ`, so a photon-count spectrum is multiplied by
1/λ (up to a constant, which cancels in x, y) before integration. Feeding counts in as if they were power shifts x
by about +0.007 for a 90 nm wide emission at 607 nm.

Coverage
--------
The spectrum is interpolated linearly onto the CMF table's 1 nm grid (360–830 nm) and taken as zero outside its own
range (zero extension: a PL spectrum recorded to 800 nm has no emission beyond). A spectrum that does not overlap
380–780 nm at all is an error.

References
----------
- CIE 015:2018, Colorimetry, 4th ed. (tristimulus integration, CIE 1931 standard observer).
- T. Mansencal et al., colour-science 0.4.7, doi:10.5281/zenodo.3757045 (``sd_to_XYZ``, ``dominant_wavelength``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import SpectrumError

__all__ = ["CMFS_NAME", "QUANTITIES", "WHITE_POINT_E", "chromaticity_xy", "dominant_wavelength_nm"]

CMFS_NAME = "CIE 1931 2 Degree Standard Observer"
#: Equal-energy white point (CIE illuminant E) in CIE 1931 xy.
WHITE_POINT_E: tuple[float, float] = (1.0 / 3.0, 1.0 / 3.0)
#: What an intensity spectrum's values count: photons per nm, or power per nm.
QUANTITIES: tuple[str, ...] = ("photon", "power")


def check_quantity(quantity: str, source: str | None = None) -> str:
    """Return ``quantity`` if it is ``"photon"`` or ``"power"``, else raise :class:`SpectrumError`."""
    if quantity not in QUANTITIES:
        raise SpectrumError(f"quantity must be 'photon' or 'power' (got {quantity!r})", source=source)
    return quantity


def _cmfs():
    import colour

    return colour.MSDS_CMFS[CMFS_NAME]


def chromaticity_xy(spectrum: Spectrum, quantity: str = "photon") -> tuple[float, float]:
    """CIE 1931 2° chromaticity of an emission spectrum.

    Parameters
    ----------
    spectrum : Spectrum
        An ``"intensity"`` spectrum (baseline-subtracted).
    quantity : {"photon", "power"}
        Whether the values are photon counts per nm (most CCD spectrometers) or power per nm. Photon counts are
        converted to power (× 1/λ) first.

    Returns
    -------
    (x, y) : tuple of float

    Raises
    ------
    SpectrumError
        Wrong kind or quantity, no overlap with 380–780 nm, or no positive signal.

    Notes
    -----
    ``colour.sd_to_XYZ(sd, cmfs, illuminant=None, method="Integration")`` on the CMF's own 1 nm grid.

    Examples
    --------
    >>> wl = np.arange(380.0, 781.0, 1.0)
    >>> s = Spectrum(wl, np.exp(-0.5 * ((wl - 530.0) / (40.0 / 2.3548)) ** 2), kind="intensity")
    >>> [round(v, 3) for v in chromaticity_xy(s, quantity="power")]
    [0.192, 0.74]
    """
    import colour

    src = spectrum.source or None
    check_quantity(quantity, src)
    if spectrum.kind != "intensity":
        raise SpectrumError(f"colour needs an emission (intensity) spectrum, not {spectrum.kind}", source=src)
    wl, values = spectrum.wavelength_nm, spectrum.values
    if wl[-1] < 380.0 or wl[0] > 780.0:
        raise SpectrumError(
            f"spectrum {wl[0]:g}-{wl[-1]:g} nm does not overlap the visible 380-780 nm", source=src
        )
    power = values / wl if quantity == "photon" else values
    cmfs = _cmfs()
    grid = cmfs.wavelengths
    on_grid = np.interp(grid, wl, power, left=0.0, right=0.0)
    if not np.any(on_grid > 0):
        raise SpectrumError("no positive signal in 360-830 nm", source=src)
    sd = colour.SpectralDistribution(on_grid, grid)
    XYZ = colour.sd_to_XYZ(sd, cmfs=cmfs, illuminant=None, method="Integration")
    total = float(np.sum(XYZ))
    if not total > 0:
        raise SpectrumError("tristimulus sum X+Y+Z is not positive (negative spectrum?)", source=src)
    return float(XYZ[0] / total), float(XYZ[1] / total)


def dominant_wavelength_nm(xy: npt.ArrayLike) -> float:
    """Dominant wavelength in nm of a chromaticity, against the equal-energy white point E.

    Returns NaN for colours on the purple side of the white point (no spectral colour dominates; colour-science
    then returns the complementary wavelength as a negative number, which is not passed on).

    Examples
    --------
    >>> round(dominant_wavelength_nm((0.5556, 0.4397)), 1)
    587.0
    """
    import colour

    xy_arr = np.asarray(xy, dtype=float)
    if xy_arr.shape != (2,) or not np.all(np.isfinite(xy_arr)):
        raise SpectrumError(f"xy must be two finite numbers (got {xy!r})")
    wl, *_ = colour.dominant_wavelength(xy_arr, np.asarray(WHITE_POINT_E), _cmfs())
    value = float(np.asarray(wl))
    return value if value > 0 else float("nan")


def spectral_locus_xy() -> np.ndarray:
    """CIE 1931 xy of the monochromatic colours 360-780 nm (the spectral locus), shape (N, 2); closing the polygon
    with the line of purples gives the gamut of all real light."""
    cmfs = _cmfs()
    xyz = np.asarray(cmfs.values, dtype=float)
    keep = (np.asarray(cmfs.wavelengths) >= 360) & (np.asarray(cmfs.wavelengths) <= 780) & (xyz.sum(axis=1) > 0)
    xyz = xyz[keep]
    return xyz[:, :2] / xyz.sum(axis=1, keepdims=True)
