"""Photoluminescence: peak, FWHM (nm and meV), integrated emission and CIE colour.

Public objects
--------------
- :func:`analyze_pl` -> :class:`PLResult`.
- :func:`to_photon_counts`, :func:`to_power`: explicit conversions between a power spectrum and a photon-count
  spectrum (per nm, up to a constant).
- :func:`half_maximum_crossings`: the two interpolated half-maximum wavelengths.

Photon counts vs power
----------------------
Most CCD spectrometers count photons; a radiometrically calibrated spectrum is power. The two differ by the photon
energy: :math:`N(λ) = P(λ)·λ/hc`. With ``P`` in eV s⁻¹ nm⁻¹, ``to_photon_counts`` is exact (photons s⁻¹ nm⁻¹);
otherwise it holds up to a constant, which cancels in peak, FWHM, colour and PLQY. :func:`analyze_pl` needs the
caller to say which one the input is (``quantity=``, default ``"photon"``) and works on the photon-count spectrum,
so one emission gives one peak and FWHM whatever its input form; the choice is recorded in the result.

FWHM
----
On the (optionally baseline-subtracted) photon-count spectrum: the maximum is refined by a parabola through the top
three samples; the half-maximum level is half the refined height; on each side the first crossing going outward
from the peak is linearly interpolated between the two samples that bracket it. A side without a crossing (peak
cut by the spectrum's edge) is an error, never a one-sided estimate. ``fwhm_mev`` converts the two crossing
wavelengths to energies: ``|hc/λ_left − hc/λ_right|·1000``.

References
----------
- J. Mooney and P. Kambhampati, J. Phys. Chem. Lett. 2013, 4, 3316 (photon vs power spectra, Jacobians).
- Z. Wang and D. Segets, React. Chem. Eng. 2023, 8, 316 (PL peak/FWHM of InP/ZnS from the flow platform).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flowqd.analysis.cie import check_quantity, chromaticity_xy, dominant_wavelength_nm
from flowqd.analysis.preprocess import correct_baseline, smooth
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import SpectrumError
from flowqd.units import HC_EV_NM

__all__ = ["PLResult", "analyze_pl", "half_maximum_crossings", "to_photon_counts", "to_power"]


def _require_intensity(spectrum: Spectrum) -> None:
    if spectrum.kind != "intensity":
        raise SpectrumError(f"PL needs an intensity spectrum, not {spectrum.kind}", source=spectrum.source or None)


def to_photon_counts(spectrum: Spectrum) -> Spectrum:
    """Photon-count spectrum of a power spectrum: values × λ/hc (λ in nm, hc in eV·nm).

    Examples
    --------
    >>> s = Spectrum(np.linspace(500.0, 700.0, 9), np.ones(9), kind="intensity")
    >>> round(float(to_photon_counts(s).values[4]), 5)  # 1 eV/s/nm at 600 nm = 0.48393 photons/s/nm
    0.48393
    """
    _require_intensity(spectrum)
    return spectrum.with_values(spectrum.values * spectrum.wavelength_nm / HC_EV_NM,
                                metadata={**spectrum.metadata, "quantity": "photon"})


def to_power(spectrum: Spectrum) -> Spectrum:
    """Power spectrum of a photon-count spectrum: values × hc/λ (the inverse of :func:`to_photon_counts`)."""
    _require_intensity(spectrum)
    return spectrum.with_values(spectrum.values * HC_EV_NM / spectrum.wavelength_nm,
                                metadata={**spectrum.metadata, "quantity": "power"})


@dataclass(frozen=True)
class PLResult:
    """Result of :func:`analyze_pl`.

    Attributes
    ----------
    peak_wavelength_nm : float
        Parabola-refined maximum of the photon-count spectrum.
    fwhm_nm : float
        ``half_max_right_nm − half_max_left_nm``.
    fwhm_mev : float
        The same crossings in energy, meV.
    half_max_left_nm, half_max_right_nm : float
        Interpolated half-maximum crossings.
    peak_height : float
        Refined maximum (photon units, after baseline subtraction).
    integrated_intensity : float
        Trapezoid integral of the photon-count spectrum over wavelength (photon units × nm).
    cie_x, cie_y : float
        CIE 1931 2° chromaticity.
    dominant_wavelength_nm : float
        Against white point E; NaN on the purple side.
    quantity : {"photon", "power"}
        What the input values were.
    baseline_offset : float
        Constant subtracted (0 when ``baseline_window_nm`` was None), photon units.
    source : str
    """

    peak_wavelength_nm: float
    fwhm_nm: float
    fwhm_mev: float
    half_max_left_nm: float
    half_max_right_nm: float
    peak_height: float
    integrated_intensity: float
    cie_x: float
    cie_y: float
    dominant_wavelength_nm: float
    quantity: str
    baseline_offset: float = 0.0
    source: str = ""

    def summary(self) -> str:
        """Readable lines: peak, FWHM, colour."""
        return (f"{self.source or 'PL spectrum'}\n  peak  {self.peak_wavelength_nm:.1f} nm\n"
                f"  FWHM  {self.fwhm_nm:.1f} nm ({self.fwhm_mev:.0f} meV)\n"
                f"  CIE   x {self.cie_x:.4f}, y {self.cie_y:.4f} (dominant {self.dominant_wavelength_nm:.0f} nm)")

    def plot(self, ax: Any = None, spectrum: Spectrum | None = None) -> Any:
        """Half-maximum band on ``ax`` (a new figure when None), with ``spectrum`` if given; returns the axes."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots()
        if spectrum is not None:
            ax.plot(spectrum.wavelength_nm, spectrum.values, lw=1, color="0.3", label="PL")
        ax.axvline(self.peak_wavelength_nm, color="C1", ls=":", label=f"peak {self.peak_wavelength_nm:.1f} nm")
        ax.hlines(self.peak_height / 2, self.half_max_left_nm, self.half_max_right_nm, color="C0",
                  label=f"FWHM {self.fwhm_nm:.1f} nm")
        ax.set_xlabel("wavelength (nm)")
        ax.set_ylabel("intensity")
        ax.legend(fontsize="small")
        return ax


def _refined_peak(wl: np.ndarray, y: np.ndarray, i: int) -> tuple[float, float]:
    """Vertex of the parabola through samples i-1, i, i+1 (non-uniform spacing allowed)."""
    x0, x1, x2 = wl[i - 1], wl[i], wl[i + 1]
    y0, y1, y2 = y[i - 1], y[i], y[i + 1]
    coeffs = np.polyfit([x0 - x1, 0.0, x2 - x1], [y0, y1, y2], 2)
    a, b, c = (float(v) for v in coeffs)
    if a >= 0:  # flat top of three equal samples: keep the sample
        return float(x1), float(y1)
    dx = -b / (2.0 * a)
    return float(x1 + dx), float(c - b * b / (4.0 * a))


def half_maximum_crossings(spectrum: Spectrum) -> tuple[float, float, float, float]:
    """Refined peak and the two half-maximum crossings of a (baseline-subtracted) emission spectrum.

    Returns
    -------
    (peak_wavelength_nm, peak_height, left_nm, right_nm)

    Raises
    ------
    SpectrumError
        Maximum on the first/last sample, non-positive maximum, or no crossing on one side.
    """
    src = spectrum.source or None
    wl, y = spectrum.wavelength_nm, spectrum.values
    i = int(np.argmax(y))
    if i == 0 or i == y.size - 1:
        raise SpectrumError(
            f"emission maximum at the edge of the spectrum ({wl[i]:g} nm); cannot locate the peak", source=src
        )
    peak_nm, height = _refined_peak(wl, y, i)
    if not height > 0:
        raise SpectrumError("no positive emission peak", source=src)
    half = 0.5 * height
    below_left = np.nonzero(y[:i] < half)[0]
    below_right = np.nonzero(y[i + 1:] < half)[0]
    if below_left.size == 0:
        raise SpectrumError(
            f"no half-maximum crossing on the short-wavelength side (spectrum starts at {wl[0]:g} nm)", source=src
        )
    if below_right.size == 0:
        raise SpectrumError(
            f"no half-maximum crossing on the long-wavelength side (spectrum ends at {wl[-1]:g} nm)", source=src
        )
    j = int(below_left[-1])  # y[j] < half <= y[j+1]
    left = wl[j] + (half - y[j]) * (wl[j + 1] - wl[j]) / (y[j + 1] - y[j])
    k = i + 1 + int(below_right[0])  # y[k-1] >= half > y[k]
    right = wl[k - 1] + (y[k - 1] - half) * (wl[k] - wl[k - 1]) / (y[k - 1] - y[k])
    return peak_nm, height, float(left), float(right)


def analyze_pl(
    spectrum: Spectrum,
    *,
    quantity: str = "photon",
    baseline_window_nm: tuple[float, float] | None = None,
    smooth_window_nm: float | None = None,
) -> PLResult:
    """Peak, FWHM (nm, meV), integrated photon emission and CIE colour of a PL spectrum.

    Parameters
    ----------
    spectrum : Spectrum
        ``kind="intensity"``, dark-corrected.
    quantity : {"photon", "power"}
        What the values are. ``"photon"`` (the default) is right for raw CCD spectrometer counts; a radiometrically
        calibrated spectrum is ``"power"`` and is converted with :func:`to_photon_counts` first.
    baseline_window_nm : (float, float) or None
        If given, a constant offset fitted in this emission-free window is subtracted first
        (:func:`~flowqd.analysis.preprocess.correct_baseline`, ``method="constant"``).
    smooth_window_nm : float or None
        If given, peak and half-maximum crossings are found on a Savitzky–Golay-smoothed copy (cubic, window in
        nm; :func:`~flowqd.analysis.preprocess.smooth`) — for noisy spectra, where the three-point parabola would
        follow the noise. The integral and the colour always use the unsmoothed spectrum.

    Returns
    -------
    PLResult

    Examples
    --------
    >>> wl = np.arange(450.0, 800.0, 0.5)
    >>> sigma_nm = 90.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    >>> s = Spectrum(wl, np.exp(-0.5 * ((wl - 607.0) / sigma_nm) ** 2), kind="intensity")
    >>> r = analyze_pl(s, quantity="photon")
    >>> round(r.peak_wavelength_nm, 2), round(r.fwhm_nm, 2), round(r.fwhm_mev, 1)
    (607.0, 90.0, 304.5)
    """
    _require_intensity(spectrum)
    check_quantity(quantity, spectrum.source or None)
    photons = spectrum if quantity == "photon" else to_photon_counts(spectrum)
    offset = 0.0
    if baseline_window_nm is not None:
        photons, fit = correct_baseline(photons, baseline_window_nm, method="constant")
        offset = fit.coefficients[0]
    from flowqd.analysis.quality import check_chromaticity, check_emission

    check_emission(photons)
    shape = photons if smooth_window_nm is None else smooth(photons, smooth_window_nm, polyorder=3)
    peak_nm, height, left, right = half_maximum_crossings(shape)
    x, y = chromaticity_xy(photons, quantity="photon")
    check_chromaticity(x, y, source=spectrum.source or None)
    return PLResult(
        peak_wavelength_nm=peak_nm,
        fwhm_nm=right - left,
        fwhm_mev=abs(HC_EV_NM / left - HC_EV_NM / right) * 1000.0,
        half_max_left_nm=left,
        half_max_right_nm=right,
        peak_height=height,
        integrated_intensity=float(np.trapezoid(photons.values, photons.wavelength_nm)),
        cie_x=x,
        cie_y=y,
        dominant_wavelength_nm=dominant_wavelength_nm((x, y)),
        quantity=quantity,
        baseline_offset=float(offset),
        source=spectrum.source,
    )
