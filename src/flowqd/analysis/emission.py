"""Is there emission at all? The detection test of an integrating-sphere PL measurement and the PLQY upper limit.

A two-measurement sphere measurement (:func:`flowqd.analysis.plqy.plqy_from_spectra`) gives the emitted photons
as the emission-band integral of the sample minus that of the blank. With no emission, that difference is noise,
and the ratio of noise to the absorbed photons is not a quantum yield. :func:`check_emission` decides: the blank
holds no emission in the emission band, so the scatter of its pixels there is the per-pixel noise σ; the integral
of the difference of two such spectra over N pixels of width Δλ has the standard deviation

.. math:: σ_E = σ\\,Δλ\\,\\sqrt{2N}

(the trapezoid weights are Δλ inside the band; two independent spectra add their variances). Emission is
detected when the emitted photons exceed ``threshold_sigma`` σ_E (10 by default, a conservative limit of
detection: IUPAC's 3σ limit of detection, M. Thompson, S. L. R. Ellison, R. Wood, Pure Appl. Chem. 2002, 74,
835, doi:10.1351/pac200274050835, leaves about one false detection in a few hundred spectra on a long run). When it
is not, what the measurement does say is an upper limit on the PLQY:

.. math:: η < \\frac{k\\,σ_E}{L_\\mathrm{blank} - L_\\mathrm{sample}}

with k = ``threshold_sigma`` and the absorbed photons L_blank − L_sample of the excitation band (de Mello, Wittmann
and Friend, Adv. Mater. 1997, 9, 230, doi:10.1002/adma.19970090308).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowqd.analysis.spectrum import Spectrum

__all__ = ["EMISSION_THRESHOLD_SIGMA", "EmissionCheck", "check_emission", "emission_noise", "plqy_upper_limit"]

#: Emission must exceed this many standard deviations of the emission integral's noise to count as detected.
EMISSION_THRESHOLD_SIGMA = 10.0


@dataclass(frozen=True)
class EmissionCheck:
    """Outcome of :func:`check_emission`.

    Attributes
    ----------
    detected : bool
        Emitted photons above ``threshold_sigma`` × ``noise``.
    emitted : float
        Emitted photons (sample − blank over the emission band; 0 when the PLQY could not be computed).
    noise : float
        1σ of the emission integral, σ Δλ √(2N) (integrated units).
    threshold_sigma : float
        The detection threshold in σ.
    plqy_upper_limit : float or None
        ``threshold_sigma`` σ_E / absorbed photons when not detected and some photons were absorbed, else None.
    """

    detected: bool
    emitted: float
    noise: float
    threshold_sigma: float = EMISSION_THRESHOLD_SIGMA
    plqy_upper_limit: float | None = None

    @property
    def threshold(self) -> float:
        """``threshold_sigma`` × ``noise``: the emitted photons needed to detect emission."""
        return self.threshold_sigma * self.noise

    @property
    def note(self) -> str:
        """One line for people: empty when detected, else what was measured against the threshold."""
        if self.detected:
            return ""
        return (f"no emission above noise (emitted {self.emitted:.3g} vs {self.threshold_sigma:g} σ = "
                f"{self.threshold:.3g})")


def emission_noise(blank: Spectrum, emission_band_nm: tuple[float, float]) -> float:
    """1σ of the (sample − blank) emission-band integral, σ Δλ √(2N), from the blank's scatter in the band.

    σ is the standard deviation of the blank's N pixels in the band and Δλ their mean spacing; fewer than three
    pixels give 0 (nothing to estimate a scatter from).

    Examples
    --------
    >>> wl = np.arange(600.0, 700.0, 2.0)
    >>> blank = Spectrum(wl, np.where(np.arange(wl.size) % 2 == 0, 1.0, -1.0), kind="intensity")
    >>> round(emission_noise(blank, (600.0, 698.0)), 6)  # σ = 1, Δλ = 2 nm, N = 50: 2 √100
    20.0
    """
    band = blank.window(*emission_band_nm)
    sigma = float(np.std(band.values)) if band.values.size > 2 else 0.0
    step = float(np.mean(np.diff(band.wavelength_nm))) if band.values.size > 2 else 0.0
    return float(sigma * step * np.sqrt(2.0 * band.values.size))


def plqy_upper_limit(noise: float, absorbed: float, threshold_sigma: float = EMISSION_THRESHOLD_SIGMA) -> float | None:
    """The PLQY upper limit ``threshold_sigma`` × noise / absorbed; None when no photons were absorbed.

    Examples
    --------
    >>> plqy_upper_limit(20.0, 1.0e5)
    0.002
    >>> plqy_upper_limit(20.0, 0.0) is None
    True
    """
    if not absorbed > 0:
        return None
    return float(threshold_sigma * noise / absorbed)


def check_emission(blank: Spectrum, sample: Spectrum, *, excitation_band_nm: tuple[float, float],
                   emission_band_nm: tuple[float, float], emitted: float, absorbed: float | None = None,
                   threshold_sigma: float = EMISSION_THRESHOLD_SIGMA) -> EmissionCheck:
    """Decide whether ``sample`` emits, given the emitted photons a PLQY computation found (0 if it failed).

    Parameters
    ----------
    blank, sample : Spectrum
        Blank (solvent in the sphere) and sample, dark-subtracted, photon counts.
    excitation_band_nm, emission_band_nm : tuple of float
        The bands of the PLQY computation.
    emitted : float
        Emitted photons (sample − blank over the emission band). A negative value is noise here.
    absorbed : float, optional
        Absorbed photons of the PLQY computation; when None (it failed) the excitation-band difference
        blank − sample (:func:`flowqd.analysis.plqy.integrate_band`) is used for the upper limit.
    threshold_sigma : float
        Detection threshold in σ of the emission integral (:data:`EMISSION_THRESHOLD_SIGMA`).

    Returns
    -------
    EmissionCheck
        With ``plqy_upper_limit`` set when emission is not detected (and some photons were absorbed).
    """
    noise = emission_noise(blank, emission_band_nm)
    if emitted > threshold_sigma * noise:
        return EmissionCheck(True, float(emitted), noise, threshold_sigma)
    if absorbed is None:
        from flowqd.analysis.plqy import integrate_band

        absorbed = integrate_band(blank, excitation_band_nm) - integrate_band(sample, excitation_band_nm)
    return EmissionCheck(False, float(emitted), noise, threshold_sigma,
                         plqy_upper_limit(noise, absorbed, threshold_sigma))
