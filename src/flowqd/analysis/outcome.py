"""What the platform keeps of the analysis of one spectrum: :class:`SpectrumOutcome`.

The platform's analyzer (:class:`flowqd.platform.analyzer.SpectrumAnalyzer`) turns each acquired spectrum into one
:class:`SpectrumOutcome`: the analysis package's own result objects (:class:`~flowqd.analysis.absorbance.
AbsorbanceResult`, :class:`~flowqd.analysis.exciton.ExcitonResult`, :class:`~flowqd.analysis.pl.PLResult`,
:class:`~flowqd.analysis.plqy.PLQYResult`, :class:`~flowqd.analysis.emission.EmissionCheck`), the yield of the
condition (:class:`YieldOutcome`) and what went wrong (``error``, ``saturated``). The store
persists it as

- the key scalars (:meth:`SpectrumOutcome.scalars`, one typed source per column of
  :data:`SCALAR_FIELDS`), and
- the JSON payload (:meth:`SpectrumOutcome.to_payload`), whose keys are the **payload schema** below.

Payload schema (version 1, the keys every flowqd version has written): the absorbance payload is
:meth:`AbsorbanceResult.to_dict` plus the yield keys ``yield``, ``production_mg_h``, ``in_feed_mol_l``,
``outlet_flow_ml_min``, ``yield_error``; the exciton-only payload ``peak_wavelength_nm``, ``peak_energy_ev``,
``peak_absorbance``, ``peak_method``; the PL payload the fields of :class:`PLResult` plus, on an integrating sphere,
``plqy``, ``absorptance``, ``plqy_method``, ``absorbed_photons``, ``emitted_photons``, ``plqy_warnings``,
``excitation_band_nm``, ``emission_band_nm``, ``emission_detected`` and, without emission,
``plqy_upper_limit`` and ``note``; a failed analysis ``error``; a saturated spectrum ``saturated``.
:data:`PAYLOAD_SCALAR_KEYS` names, for each scalar column, the one payload key it is read from when a payload
(rather than a :class:`SpectrumOutcome`) is stored; :class:`StoredOutcome` is a stored payload read back, typed (what
the report draws from).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from flowqd.analysis.absorbance import AbsorbanceResult
    from flowqd.analysis.emission import EmissionCheck
    from flowqd.analysis.exciton import ExcitonResult
    from flowqd.analysis.pl import PLResult
    from flowqd.analysis.plqy import PLQYResult

__all__ = ["PAYLOAD_SCALAR_KEYS", "SCALAR_FIELDS", "SpectrumOutcome", "StoredOutcome", "YieldOutcome",
           "finite_or_none", "scalars_from_payload"]

#: The key scalars of an analysis (columns of the store's ``analysis_results`` table). For PL spectra
#: ``peak_wavelength_nm``/``fwhm_nm`` are the emission peak and width; for absorbance spectra ``peak_wavelength_nm``
#: is the first excitonic peak. ``rsd``, ``conversion`` and ``plqy`` are fractions, not percentages.
SCALAR_FIELDS: tuple[str, ...] = (
    "peak_wavelength_nm", "fwhm_nm", "x13_nm", "sigma_nm", "rsd", "conversion", "production_rate_mg_h",
    "plqy", "cie_x", "cie_y",
)

#: Payload schema version 1: the one payload key each scalar column is read from (top level only).
PAYLOAD_SCALAR_KEYS: Mapping[str, str] = {
    "peak_wavelength_nm": "peak_wavelength_nm", "fwhm_nm": "fwhm_nm", "x13_nm": "x13_nm",
    "sigma_nm": "sigma_nm", "rsd": "rsd", "conversion": "yield", "production_rate_mg_h": "production_mg_h",
    "plqy": "plqy", "cie_x": "cie_x", "cie_y": "cie_y",
}


def finite_or_none(value: Any) -> float | None:
    """``float(value)`` when it is a finite number, else None (NaN, inf, None, text).

    Examples
    --------
    >>> finite_or_none(3), finite_or_none(float("nan")), finite_or_none("x"), finite_or_none(None)
    (3.0, None, None, None)
    """
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def scalars_from_payload(payload: Mapping[str, Any]) -> dict[str, float | None]:
    """The key scalars of a stored payload (schema version 1), each from its one key of :data:`PAYLOAD_SCALAR_KEYS`.

    Examples
    --------
    >>> s = scalars_from_payload({"peak_wavelength_nm": 560.0, "yield": 0.7, "rsd_percent": 9.0})
    >>> s["peak_wavelength_nm"], s["conversion"], s["rsd"]
    (560.0, 0.7, None)
    """
    return {column: finite_or_none(payload.get(key)) for column, key in PAYLOAD_SCALAR_KEYS.items()}


@dataclass(frozen=True)
class YieldOutcome:
    """Chemical yield and production rate of one absorbance spectrum (Hens method), with the flows they used.

    ``conversion`` is None when the In feed is unknown or the value implausible (then ``conversion_error`` says
    why); ``production_rate_mg_h`` is None when the outlet flow is unknown.
    """

    in_feed_mol_l: float | None = None
    outlet_flow_ml_min: float | None = None
    conversion: float | None = None
    conversion_error: str | None = None
    production_rate_mg_h: float | None = None

    def to_payload(self) -> dict[str, Any]:
        """The yield keys of the payload schema (only those that were computed)."""
        out: dict[str, Any] = {}
        if self.outlet_flow_ml_min is not None:
            out["production_mg_h"] = self.production_rate_mg_h
            out["outlet_flow_ml_min"] = self.outlet_flow_ml_min
        if self.in_feed_mol_l is not None:
            out["in_feed_mol_l"] = self.in_feed_mol_l
            if self.conversion_error is not None:
                out["yield_error"] = self.conversion_error
            else:
                out["yield"] = self.conversion
        return out


@dataclass(frozen=True)
class SpectrumOutcome:
    """The analysis of one platform spectrum, typed: what was found, and what went wrong.

    Attributes
    ----------
    method : str
        ``"absorbance"`` (full analysis), ``"exciton"`` (peak only), ``"pl"`` or ``"error"`` (nothing usable).
    absorbance, exciton, pl, quantum, emission : result objects or None
        The analysis package's results (``quantum`` is the PLQY of an integrating-sphere measurement).
    yields : YieldOutcome or None
        Yield and production rate of an absorbance spectrum.
    excitation_band_nm, emission_band_nm : tuple of float or None
        The sphere's bands (PL on an integrating sphere).
    error : str or None
        Why the spectrum (or its PL peak) could not be analysed.
    saturated : bool
        The detector saturated (kept, flagged; not used for the steady-state judgement).
    """

    method: str
    absorbance: AbsorbanceResult | None = None
    exciton: ExcitonResult | None = None
    pl: PLResult | None = None
    quantum: PLQYResult | None = None
    emission: EmissionCheck | None = None
    yields: YieldOutcome | None = None
    excitation_band_nm: tuple[float, float] | None = None
    emission_band_nm: tuple[float, float] | None = None
    error: str | None = None
    saturated: bool = False

    @classmethod
    def failed(cls, message: str) -> SpectrumOutcome:
        """A spectrum that could not be analysed (the message on one line)."""
        return cls("error", error=" ".join(message.split()))

    def flagged_saturated(self) -> SpectrumOutcome:
        """The same outcome, marked saturated."""
        return dataclasses.replace(self, saturated=True)

    # ------------------------------------------------------------------ the key scalars
    @property
    def peak_wavelength_nm(self) -> float | None:
        """First exciton (absorbance, exciton) or emission peak (PL), nm; None when not found."""
        if self.absorbance is not None:
            return finite_or_none(self.absorbance.peak_wavelength_nm)
        if self.exciton is not None:
            return finite_or_none(self.exciton.wavelength_nm)
        if self.pl is not None:
            return finite_or_none(self.pl.peak_wavelength_nm)
        return None

    @property
    def fwhm_nm(self) -> float | None:
        """Emission FWHM (PL), nm."""
        return None if self.pl is None else finite_or_none(self.pl.fwhm_nm)

    @property
    def x13_nm(self) -> float | None:
        """Volume-balanced mean diameter x1,3 of the PSD, nm."""
        return None if self.absorbance is None else finite_or_none(self.absorbance.psd.x13_nm)

    @property
    def sigma_nm(self) -> float | None:
        """Standard deviation of the PSD, nm."""
        return None if self.absorbance is None else finite_or_none(self.absorbance.psd.sigma_nm)

    @property
    def rsd(self) -> float | None:
        """σ / x1,3 (fraction)."""
        return None if self.absorbance is None else finite_or_none(self.absorbance.psd.rsd)

    @property
    def conversion(self) -> float | None:
        """Chemical yield (= In conversion), fraction: the condition's yield, else the analysis's own."""
        if self.yields is not None and self.yields.in_feed_mol_l is not None and self.yields.conversion_error is None:
            return finite_or_none(self.yields.conversion)
        return None if self.absorbance is None else finite_or_none(self.absorbance.yield_fraction)

    @property
    def production_rate_mg_h(self) -> float | None:
        """Production rate, mg/h: the condition's, else the analysis's own."""
        if self.yields is not None and self.yields.outlet_flow_ml_min is not None:
            return finite_or_none(self.yields.production_rate_mg_h)
        return None if self.absorbance is None else finite_or_none(self.absorbance.production_mg_h)

    @property
    def plqy(self) -> float | None:
        """PLQY (fraction) of an integrating-sphere measurement with emission detected."""
        if self.quantum is None or (self.emission is not None and not self.emission.detected):
            return None
        return finite_or_none(self.quantum.plqy)

    @property
    def cie_x(self) -> float | None:
        """CIE 1931 x of the emission."""
        return None if self.pl is None else finite_or_none(self.pl.cie_x)

    @property
    def cie_y(self) -> float | None:
        """CIE 1931 y of the emission."""
        return None if self.pl is None else finite_or_none(self.pl.cie_y)

    @property
    def note(self) -> str:
        """Quality note for people (no emission above the noise); empty when there is none."""
        return "" if self.emission is None else self.emission.note

    def scalars(self) -> dict[str, float | None]:
        """The key scalars, one per :data:`SCALAR_FIELDS` (None when not measured)."""
        return {name: getattr(self, name) for name in SCALAR_FIELDS}

    # ------------------------------------------------------------------ the payload
    def to_payload(self) -> dict[str, Any]:
        """JSON-ready payload with the keys of the payload schema (module docstring)."""
        out: dict[str, Any] = {}
        if self.absorbance is not None:
            out.update(self.absorbance.to_dict())
            if self.yields is not None:
                out.update(self.yields.to_payload())
        if self.exciton is not None:
            ex = self.exciton
            out.update(peak_wavelength_nm=float(ex.wavelength_nm), peak_energy_ev=float(ex.energy_ev),
                       peak_absorbance=float(ex.absorbance), peak_method=ex.method)
        if self.pl is not None:
            out.update(dataclasses.asdict(self.pl))
        if self.error is not None:
            out["error"] = self.error
        out.update(self._quantum_payload())
        if self.saturated:
            out["saturated"] = True
        return out

    def _quantum_payload(self) -> dict[str, Any]:
        if self.excitation_band_nm is None or self.emission_band_nm is None:
            return {}
        out: dict[str, Any] = {}
        detected = self.emission is None or self.emission.detected
        if self.quantum is not None:
            q = self.quantum
            out.update(plqy=float(q.plqy), absorptance=float(q.absorptance), plqy_method=q.method,
                       absorbed_photons=float(q.absorbed), emitted_photons=float(q.emitted),
                       plqy_warnings=list(q.warnings))
            if not detected:  # the ratio of noise to the absorbed photons is not a quantum yield
                del out["plqy"], out["absorbed_photons"]
        out.update(excitation_band_nm=list(self.excitation_band_nm), emission_band_nm=list(self.emission_band_nm))
        if self.emission is not None:
            if not self.emission.detected and self.emission.plqy_upper_limit is not None:
                out["plqy_upper_limit"] = self.emission.plqy_upper_limit
            out["emission_detected"] = self.emission.detected
            if not self.emission.detected:
                out["note"] = self.emission.note
        return out


@dataclass(frozen=True)
class StoredOutcome:
    """A stored analysis payload (schema version 1) read back, typed: the parts the report and the console draw.

    Each attribute comes from one payload key: ``psd`` from ``psd.diameter_nm``/``psd.q3`` (None unless two equal
    lists of at least three numbers), ``psd_warnings`` from ``psd.warnings``, the uncertainties from
    ``x13_uncertainty_nm``/``rsd_uncertainty``, ``emission_band_nm``, ``emission_detected`` (True when absent: only
    a sphere analysis that found no emission says False) and ``plqy_upper_limit``; ``method`` is the stored
    analysis method.

    Examples
    --------
    >>> o = StoredOutcome.from_payload("pl", {"emission_detected": False, "plqy_upper_limit": 0.004})
    >>> o.emission_detected, o.plqy_upper_limit, o.psd
    (False, 0.004, None)
    """

    method: str
    psd: tuple[np.ndarray, np.ndarray] | None = None
    psd_warnings: tuple[str, ...] = ()
    x13_uncertainty_nm: float | None = None
    rsd_uncertainty: float | None = None
    emission_band_nm: tuple[float, float] | None = None
    emission_detected: bool = True
    plqy_upper_limit: float | None = None

    @classmethod
    def from_payload(cls, method: str, payload: Mapping[str, Any] | Any) -> StoredOutcome:
        """Read a stored payload (anything but a mapping reads as an empty one)."""
        p: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
        psd_map = p.get("psd")
        psd, warnings = None, ()
        if isinstance(psd_map, Mapping):
            d, q = psd_map.get("diameter_nm"), psd_map.get("q3")
            if isinstance(d, list) and isinstance(q, list) and len(d) == len(q) >= 3:
                psd = (np.asarray(d, float), np.asarray(q, float))
            warnings = tuple(str(w) for w in psd_map.get("warnings") or ())
        band = p.get("emission_band_nm")
        return cls(method, psd, warnings, finite_or_none(p.get("x13_uncertainty_nm")),
                   finite_or_none(p.get("rsd_uncertainty")),
                   (float(band[0]), float(band[1])) if isinstance(band, list | tuple) and len(band) == 2 else None,
                   bool(p.get("emission_detected", True)), finite_or_none(p.get("plqy_upper_limit")))
