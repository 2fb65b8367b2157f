"""Photoluminescence quantum yield (PLQY) from integrating-sphere measurements.

Public objects
--------------
- :func:`plqy_de_mello`: three measurements (empty sphere, sample out of the beam, sample in the beam).
- :func:`plqy_two_measurement`: blank vs sample (the form of commercial sphere software).
- :data:`PLQY_METHODS`, :func:`plqy_from_spectra`: the same from spectra, with band integration.
- :func:`integrate_band`: trapezoid integral of a spectrum over a wavelength band (edges interpolated).
- :class:`PLQYResult`.

All inputs are integrated **photon counts** (a power spectrum is converted with λ/hc first); the detection system
is assumed to be spectrally corrected (sphere + detector response).

Equations
---------
de Mello, Wittmann & Friend (1997), with L the integrated excitation (laser) band and P the integrated emission:

.. math:: A = 1 - L_c / L_b, \\qquad η = \\frac{P_c - (1 - A) P_b}{L_a A}

Two measurements (blank = solvent only, sample), E the emission band and L the excitation band:

.. math:: η = \\frac{E_\\mathrm{sample} - E_\\mathrm{blank}}{L_\\mathrm{blank} - L_\\mathrm{sample}},
          \\qquad A = 1 - L_\\mathrm{sample} / L_\\mathrm{blank}

Range rules
-----------
Zero or negative absorbed photons (A ≤ 0) and negative emitted photons are errors
(:class:`~flowqd.errors.RangeError`). An absorptance below 0.1 still gives a result but adds a ``warnings`` entry:
van Dam et al. showed that when the uncertainty approaches ~10 % of the absorptance the QY distribution skews and
the QY is underestimated. A PLQY above 1 is reported with a warning (check the band limits and the sphere
correction), never clipped.

Uncertainty
-----------
With ``poisson=True`` the integrated values are treated as photon counts with Poisson variance (σ² = N for a scalar;
σ² = Σ wᵢ² yᵢ for a band integral Σ wᵢ yᵢ of raw counts per pixel) and propagated to η to first order (central
differences). Only shot noise is included — not the sphere calibration, not the reproducibility of sample placement,
which usually dominate; ``uncertainty`` is None when ``poisson=False``.

References
----------
- J. C. de Mello, H. F. Wittmann and R. H. Friend, Adv. Mater. 1997, 9, 230, doi:10.1002/adma.19970090308.
- B. van Dam, B. Bruhn, G. Dohnal, et al., "Quantum-yield measurements of ... absorbers", arXiv:1711.06200
  (bias at low absorptance).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from flowqd.analysis.cie import check_quantity
from flowqd.analysis.pl import to_photon_counts
from flowqd.analysis.preprocess import trapezoid_weights
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import RangeError, SpectrumError

__all__ = [
    "LOW_ABSORPTANCE",
    "PLQY_METHODS",
    "PLQYResult",
    "integrate_band",
    "plqy_de_mello",
    "plqy_from_spectra",
    "plqy_two_measurement",
]

#: Below this absorptance a result carries a warning (van Dam et al., arXiv:1711.06200).
LOW_ABSORPTANCE = 0.1
_VAN_DAM = (
    "absorptance {a:.3f} < 0.1: PLQY is biased low when the measurement uncertainty nears ~10 % of the "
    "absorptance (van Dam et al., arXiv:1711.06200); use a more concentrated sample"
)


@dataclass(frozen=True)
class PLQYResult:
    """PLQY with the absorptance and the counts it came from.

    Attributes
    ----------
    plqy : float
        Emitted / absorbed photons.
    absorptance : float
        Fraction of the excitation absorbed by the sample.
    method : str
        Key of :data:`PLQY_METHODS`.
    uncertainty : float or None
        1σ from Poisson counting noise only (``poisson=True``), else None.
    absorbed, emitted : float
        Absorbed and emitted photons (integrated units).
    warnings : tuple of str
        Reasons to distrust the number (low absorptance, η > 1).
    """

    plqy: float
    absorptance: float
    method: str
    uncertainty: float | None
    absorbed: float
    emitted: float
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _check_inputs(names: Sequence[str], values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    for name, v in zip(names, arr, strict=True):
        if not np.isfinite(v):
            raise RangeError(f"{name} = {v} is not finite")
        if v < 0:
            raise RangeError(f"{name} = {v:g} is negative (integrated photon counts must be >= 0)")
    return arr


def _propagate(f: Callable[[np.ndarray], float], x: np.ndarray, variances: np.ndarray | None) -> float | None:
    """First-order propagation of independent variances through ``f`` by central differences."""
    if variances is None:
        return None
    grad = np.empty_like(x)
    for i in range(x.size):
        h = 1e-6 * max(abs(x[i]), 1e-12)
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2.0 * h)
    return float(np.sqrt(np.sum(grad**2 * variances)))


def _finish(method: str, eta: float, a: float, absorbed: float, emitted: float, unc: float | None) -> PLQYResult:
    warnings: list[str] = []
    if a < LOW_ABSORPTANCE:
        warnings.append(_VAN_DAM.format(a=a))
    if eta > 1.0:
        warnings.append(f"PLQY {eta:.3f} > 1: check the band limits, the sphere correction and photon units")
    return PLQYResult(plqy=eta, absorptance=a, method=method, uncertainty=unc, absorbed=absorbed,
                      emitted=emitted, warnings=tuple(warnings))


def _de_mello(x: np.ndarray) -> float:
    L_a, L_b, P_b, L_c, P_c = x
    a = 1.0 - L_c / L_b
    return float((P_c - (1.0 - a) * P_b) / (L_a * a))


def _de_mello_result(x: np.ndarray, variances: np.ndarray | None) -> PLQYResult:
    L_a, L_b, P_b, L_c, P_c = (float(v) for v in x)
    if L_a <= 0 or L_b <= 0:
        raise RangeError(f"excitation counts L_a = {L_a:g}, L_b = {L_b:g} must be positive")
    a = 1.0 - L_c / L_b
    if a <= 0:
        raise RangeError(f"absorptance A = 1 - L_c/L_b = {a:.4g} <= 0: the sample absorbs no excitation photons")
    emitted = P_c - (1.0 - a) * P_b
    if emitted < 0:
        raise RangeError(f"emitted photons P_c - (1-A)·P_b = {emitted:g} < 0 (swapped measurements?)")
    return _finish("de-mello", _de_mello(x), a, L_a * a, emitted, _propagate(_de_mello, x, variances))


def plqy_de_mello(L_a: float, L_b: float, P_b: float, L_c: float, P_c: float, *,
                  poisson: bool = False) -> PLQYResult:
    """PLQY by the three-measurement method of de Mello, Wittmann & Friend (1997).

    Parameters
    ----------
    L_a : float
        Integrated excitation, empty sphere (a).
    L_b, P_b : float
        Integrated excitation and emission, sample in the sphere but out of the beam (b).
    L_c, P_c : float
        Integrated excitation and emission, beam on the sample (c).
    poisson : bool
        Treat the inputs as photon counts with Poisson variance and fill ``uncertainty``.

    Returns
    -------
    PLQYResult
        ``absorptance`` is :math:`A = 1 - L_c/L_b`, ``plqy`` is :math:`[P_c - (1-A)P_b]/(L_a A)`.

    References
    ----------
    J. C. de Mello, H. F. Wittmann and R. H. Friend, Adv. Mater. 1997, 9, 230.

    Examples
    --------
    >>> r = plqy_de_mello(1e6, 9e5, 2e4, 5.4e5, 1.56e5)
    >>> round(r.absorptance, 3), round(r.plqy, 4)
    (0.4, 0.36)
    """
    x = _check_inputs(("L_a", "L_b", "P_b", "L_c", "P_c"), (L_a, L_b, P_b, L_c, P_c))
    return _de_mello_result(x, x.copy() if poisson else None)


def _two(x: np.ndarray) -> float:
    E_s, E_b, L_b, L_s = x
    return float((E_s - E_b) / (L_b - L_s))


def _two_result(x: np.ndarray, variances: np.ndarray | None) -> PLQYResult:
    E_s, E_b, L_b, L_s = (float(v) for v in x)
    absorbed = L_b - L_s
    if L_b <= 0 or absorbed <= 0:
        raise RangeError(
            f"absorbed photons L_blank - L_sample = {absorbed:g} <= 0: the sample absorbs no excitation photons"
        )
    emitted = E_s - E_b
    if emitted < 0:
        raise RangeError(f"emitted photons E_sample - E_blank = {emitted:g} < 0 (swapped blank and sample?)")
    return _finish("two-measurement", _two(x), absorbed / L_b, absorbed, emitted, _propagate(_two, x, variances))


def plqy_two_measurement(E_sample: float, E_blank: float, L_blank: float, L_sample: float, *,
                         poisson: bool = False) -> PLQYResult:
    """PLQY from a blank and a sample measurement: η = (E_sample − E_blank)/(L_blank − L_sample).

    Parameters
    ----------
    E_sample, E_blank : float
        Integrated emission band, sample and blank (solvent) in the beam.
    L_blank, L_sample : float
        Integrated excitation band, blank and sample.
    poisson : bool
        Treat the inputs as photon counts with Poisson variance and fill ``uncertainty``.

    References
    ----------
    B. van Dam et al., arXiv:1711.06200 (definition, and the low-absorptance bias).

    Examples
    --------
    >>> r = plqy_two_measurement(1.25e5, 1.0e3, 1.0e6, 6.0e5, poisson=True)
    >>> round(r.plqy, 4), round(r.absorptance, 2), round(r.uncertainty, 5)
    (0.31, 0.4, 0.00132)
    """
    x = _check_inputs(("E_sample", "E_blank", "L_blank", "L_sample"), (E_sample, E_blank, L_blank, L_sample))
    return _two_result(x, x.copy() if poisson else None)


def _band_weights(spectrum: Spectrum, band_nm: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Grid and trapezoid weights w such that Σ w·y is the integral over the band (edges interpolated)."""
    lo, hi = (float(v) for v in band_nm)
    wl = spectrum.wavelength_nm
    src = spectrum.source or None
    if not lo < hi:
        raise SpectrumError(f"band {lo:g}-{hi:g} nm is empty", source=src)
    if lo < wl[0] or hi > wl[-1]:
        raise SpectrumError(f"band {lo:g}-{hi:g} nm is outside the spectrum ({wl[0]:g}-{wl[-1]:g} nm)", source=src)
    inner = wl[(wl > lo) & (wl < hi)]
    x = np.concatenate([[lo], inner, [hi]])
    if x.size < 3:
        raise SpectrumError(f"band {lo:g}-{hi:g} nm holds no sample of the spectrum", source=src)
    w_x = trapezoid_weights(x)
    # Express the weights on the x points in terms of the original samples (edge points are interpolations).
    w = np.zeros(wl.size)
    idx = np.searchsorted(wl, x)
    for xi, wi, j in zip(x, w_x, idx, strict=True):
        if j < wl.size and wl[j] == xi:
            w[j] += wi
        else:
            t = (xi - wl[j - 1]) / (wl[j] - wl[j - 1])
            w[j - 1] += wi * (1 - t)
            w[j] += wi * t
    return wl, w


def integrate_band(spectrum: Spectrum, band_nm: tuple[float, float]) -> float:
    """Trapezoid integral of the spectrum's values over ``band_nm`` (values interpolated at the band edges).

    Examples
    --------
    >>> s = Spectrum(np.arange(380.0, 420.0, 1.0), np.full(40, 2.0), kind="intensity")
    >>> integrate_band(s, (390.0, 410.5))
    41.0
    """
    _, w = _band_weights(spectrum, band_nm)
    return float(w @ spectrum.values)


def _band_integrals(specs: Sequence[Spectrum], bands: Sequence[tuple[float, float]],
                    poisson: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Band integrals of ``specs`` and, with ``poisson``, their shot-noise variances Σw²y (weights built once)."""
    ws = [_band_weights(s, b)[1] for s, b in zip(specs, bands, strict=True)]
    x = np.array([float(w @ s.values) for s, w in zip(specs, ws, strict=True)])
    if not poisson:
        return x, None
    for s, w in zip(specs, ws, strict=True):
        if np.any(s.values[w > 0] < 0):
            raise SpectrumError("negative counts in the band: Poisson variance needs raw counts",
                                source=s.source or None)
    return x, np.array([float(w**2 @ s.values) for s, w in zip(specs, ws, strict=True)])


def _photons(spectrum: Spectrum, quantity: str) -> Spectrum:
    if spectrum.kind != "intensity":
        raise SpectrumError(f"PLQY needs intensity spectra, not {spectrum.kind}", source=spectrum.source or None)
    return spectrum if quantity == "photon" else to_photon_counts(spectrum)


def _from_spectra_two(*, blank: Spectrum, sample: Spectrum, empty: Spectrum | None, exc: tuple[float, float],
                      emi: tuple[float, float], poisson: bool) -> PLQYResult:
    if empty is not None:
        raise SpectrumError("the two-measurement method takes no 'empty' spectrum", source=empty.source or None)
    return _two_result(*_band_integrals((sample, blank, blank, sample), (emi, emi, exc, exc), poisson))


def _from_spectra_de_mello(*, blank: Spectrum, sample: Spectrum, empty: Spectrum | None, exc: tuple[float, float],
                           emi: tuple[float, float], poisson: bool) -> PLQYResult:
    if empty is None:
        raise SpectrumError("the de Mello method needs the empty-sphere spectrum (empty=, measurement a)")
    return _de_mello_result(*_band_integrals((empty, blank, blank, sample, sample), (exc, exc, emi, exc, emi),
                                             poisson))


#: PLQY methods on spectra: name -> function(blank=, sample=, empty=, exc=, emi=, poisson=) -> PLQYResult.
PLQY_METHODS: Mapping[str, Callable[..., PLQYResult]] = {
    "de-mello": _from_spectra_de_mello,
    "two-measurement": _from_spectra_two,
}


def plqy_from_spectra(
    method: str = "two-measurement",
    *,
    blank: Spectrum,
    sample: Spectrum,
    empty: Spectrum | None = None,
    excitation_band_nm: tuple[float, float] = (390.0, 410.0),
    emission_band_nm: tuple[float, float] = (450.0, 800.0),
    quantity: str = "photon",
    poisson: bool = False,
) -> PLQYResult:
    """PLQY from integrating-sphere spectra, integrating an excitation and an emission band.

    Parameters
    ----------
    method : {"two-measurement", "de-mello"}
        Key of :data:`PLQY_METHODS`.
    blank, sample : Spectrum
        ``"two-measurement"``: solvent blank and sample, each in the beam. ``"de-mello"``: ``blank`` is
        measurement (b), the sample in the sphere *out of* the beam, and ``sample`` is (c), the beam on the sample.
    empty : Spectrum, optional
        ``"de-mello"`` only: measurement (a), the empty sphere.
    excitation_band_nm, emission_band_nm : (float, float)
        Integration bands, inside every spectrum's range, not overlapping.
    quantity : {"photon", "power"}
        What the spectra hold; power spectra are converted to photon counts (× λ/hc) before integration.
    poisson : bool
        The spectra are raw photon counts per pixel: propagate their Poisson noise into ``uncertainty``.

    Returns
    -------
    PLQYResult
    """
    check_quantity(quantity, sample.source or None)
    if method not in PLQY_METHODS:
        raise SpectrumError(f"unknown PLQY method {method!r} (use one of {', '.join(PLQY_METHODS)})")
    if poisson and quantity != "photon":
        raise SpectrumError("poisson=True needs raw photon counts (quantity='photon')")
    exc = (float(excitation_band_nm[0]), float(excitation_band_nm[1]))
    emi = (float(emission_band_nm[0]), float(emission_band_nm[1]))
    if max(exc[0], emi[0]) < min(exc[1], emi[1]):
        raise SpectrumError(f"excitation band {exc} and emission band {emi} overlap")
    from flowqd.analysis.quality import check_emission_band

    result = PLQY_METHODS[method](
        blank=_photons(blank, quantity), sample=_photons(sample, quantity),
        empty=None if empty is None else _photons(empty, quantity), exc=exc, emi=emi, poisson=poisson,
    )
    # a PLQY needs an emission band: a flat or noise-only sample must not give a number
    check_emission_band(sample, blank if method == "two-measurement" else (empty if empty is not None else blank),
                        emi)
    return result
