"""Analysis of each spectrum as it arrives (the engine's link to :mod:`flowqd.analysis`).

An analyzer is any callable ``analyzer(reading) -> (method, result_dict)``. The result dict uses the analysis
package's keys (``peak_wavelength_nm``, ``x13_nm``, ``sigma_nm``, ``rsd`` for absorbance; ``peak_wavelength_nm``,
``fwhm_nm``, ``cie_x``, ``cie_y`` — and ``plqy`` on an integrating sphere — for PL); the engine judges steady
state on ``peak_wavelength_nm``.

PL on an integrating sphere (two-measurement method): the reading's ``reference`` is the run's **blank** (stock /
solvent in the cell, the scattered excitation band) and its spectrum the **sample** (attenuated excitation +
emission). Peak, FWHM and CIE come from the emission band of the sample; the PLQY from
:func:`flowqd.analysis.plqy.plqy_from_spectra` (``method="two-measurement"``) on blank and sample.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from flowqd.devices.protocols import SpectrumReading
from flowqd.errors import FlowqdError

__all__ = ["Analyzer", "SpectrumAnalyzer"]

Analyzer = Callable[[SpectrumReading], tuple[str, dict[str, Any]]]


def _as_dict(result: Any) -> dict[str, Any]:
    if hasattr(result, "to_dict"):
        return dict(result.to_dict())
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    return dict(result)


class SpectrumAnalyzer:
    """Default analyzer: full absorbance analysis (peak + PSD: x1,3, σ, RSD) or the exciton peak only; PL peak.

    Parameters
    ----------
    material : str
        Material of the sizing curve (``"InP"``).
    path_mm : float
        Flow-cell path.
    psd : bool
        Run the full absorbance analysis (:func:`flowqd.analysis.absorbance.analyze_absorbance`: exciton, PSD
        inversion). When false, only the first exciton peak is located (cheaper; for fast screening).
    """

    def __init__(self, material: str = "InP", path_mm: float = 1.0, *, psd: bool = True,
                 pl_excitation_band_nm: tuple[float, float] | None = None,
                 pl_emission_band_nm: tuple[float, float] | None = None,
                 plqy_method: str = "two-measurement", pl_smooth_window_nm: float | None = None,
                 dilution: float = 1.0, stock_indium_mol_l: float | None = None) -> None:
        self.material = material
        self.path_mm = float(path_mm)
        self.psd = bool(psd)
        self.pl_excitation_band_nm = None if pl_excitation_band_nm is None else (
            float(pl_excitation_band_nm[0]), float(pl_excitation_band_nm[1]))
        self.pl_emission_band_nm = None if pl_emission_band_nm is None else (
            float(pl_emission_band_nm[0]), float(pl_emission_band_nm[1]))
        self.plqy_method = plqy_method
        self.pl_smooth_window_nm = pl_smooth_window_nm
        self.dilution = float(dilution)
        self.stock_indium_mol_l = stock_indium_mol_l
        self.in_feed_mol_l: float | None = None
        self.outlet_flow_ml_min: float | None = None

    def for_condition(self, *, core_flow_ml_min: float, outlet_flow_ml_min: float) -> None:
        """Set the flows of the condition being measured (called by the engine at each condition's start): the
        In fed per outlet volume (stock In × core flow / outlet flow, the DDT stream dilutes it) and the outlet flow
        give the yield and production rate of every absorbance spectrum that follows (Hens method)."""
        self.outlet_flow_ml_min = float(outlet_flow_ml_min)
        self.in_feed_mol_l = (None if self.stock_indium_mol_l is None
                              else self.stock_indium_mol_l * core_flow_ml_min / outlet_flow_ml_min)

    @classmethod
    def for_platform(cls, platform: Any, *, psd: bool = True) -> SpectrumAnalyzer:
        """The analyzer a platform config implies (material, UV-vis path, the PL sphere's bands)."""
        pl = platform.devices.pl
        sphere = pl is not None and getattr(pl, "sphere", False)
        return cls(platform.control.material, platform.devices.uvvis.path_mm, psd=psd,
                   pl_excitation_band_nm=pl.excitation_band() if sphere else None,
                   pl_emission_band_nm=tuple(pl.emission_band_nm) if sphere else None,
                   plqy_method=pl.plqy_method if sphere else "two-measurement",
                   pl_smooth_window_nm=pl.smooth_window_nm if pl is not None else None,
                   dilution=platform.devices.uvvis.dilution, stock_indium_mol_l=platform.control.stock_indium_mol_l())

    def __call__(self, reading: SpectrumReading) -> tuple[str, dict[str, Any]]:
        """Analyse one reading; a spectrum that cannot be analysed gives ``{"error": message}``."""
        try:
            if reading.kind == "absorbance":
                return self._absorbance(reading)
            return self._pl(reading)
        except FlowqdError as exc:
            return "error", {"error": " ".join(str(exc).split())}

    def _pl(self, reading: SpectrumReading) -> tuple[str, dict[str, Any]]:
        from flowqd.analysis.pl import analyze_pl

        spectrum = reading.spectrum
        emi, exc = self.pl_emission_band_nm, self.pl_excitation_band_nm
        quantum: dict[str, Any] = {}
        if emi is not None and exc is not None and reading.reference is not None:
            from flowqd.analysis.plqy import plqy_from_spectra

            dark = reading.dark if reading.dark is not None else np.zeros_like(reading.reference)
            blank = spectrum.with_values(np.asarray(reading.reference, float) - np.asarray(dark, float),
                                         source=f"{spectrum.source} blank")
            try:
                q = plqy_from_spectra(self.plqy_method, blank=blank, sample=spectrum, excitation_band_nm=exc,
                                      emission_band_nm=emi, quantity="photon")
                quantum = {"plqy": float(q.plqy), "absorptance": float(q.absorptance), "plqy_method": q.method,
                           "absorbed_photons": float(q.absorbed), "emitted_photons": float(q.emitted),
                           "plqy_warnings": list(q.warnings)}
                emitted = float(q.emitted)
            except FlowqdError as exc_:
                quantum = {"plqy_error": " ".join(str(exc_).split())}
                emitted = 0.0
            quantum.update(excitation_band_nm=list(exc), emission_band_nm=list(emi))
            # Is there emission at all? The blank holds none in the emission band: its scatter there is the
            # per-pixel noise; the integrated emission must stand 10 σ above the noise of the (sample - blank) integral.
            band = blank.window(*emi)
            sigma = float(np.std(band.values)) if band.values.size > 2 else 0.0
            step = float(np.mean(np.diff(band.wavelength_nm))) if band.values.size > 2 else 0.0
            noise = sigma * step * np.sqrt(2.0 * band.values.size)
            if not emitted > 10.0 * noise:
                # No PLQY to report: the ratio of noise to the absorbed photons is not a quantum yield. What the
                # measurement does say is an upper limit (10 σ of the emission integral over the absorbed photons).
                # (A negative "emitted" is noise here, not swapped measurements: that error is dropped too.)
                from flowqd.analysis.plqy import integrate_band

                absorbed = quantum.pop("absorbed_photons", None)
                if absorbed is None:
                    absorbed = integrate_band(blank, exc) - integrate_band(spectrum, exc)
                quantum.pop("plqy", None)
                quantum.pop("plqy_error", None)
                if absorbed > 0:
                    quantum["plqy_upper_limit"] = float(10.0 * noise / absorbed)
                return "pl", {**quantum, "emission_detected": False,
                              "note": f"no emission above noise (emitted {emitted:.3g} vs 10 σ = {10 * noise:.3g})"}
            quantum["emission_detected"] = True
        if emi is not None:
            emission = spectrum.window(*emi)
        elif spectrum.metadata.get("excitation_nm") is not None:
            # No bands configured: keep the excitation line out of the peak search (Stokes side only).
            emission = spectrum.window(float(spectrum.metadata["excitation_nm"]) + 30.0, np.inf)
        else:
            emission = spectrum
        try:
            result = _as_dict(analyze_pl(emission, quantity="photon", smooth_window_nm=self.pl_smooth_window_nm))
        except FlowqdError as err:
            if not quantum:
                raise
            return "pl", {"error": " ".join(str(err).split()), **quantum}
        return "pl", {**result, **quantum}

    def _absorbance(self, reading: SpectrumReading) -> tuple[str, dict[str, Any]]:
        if self.psd:
            from flowqd.analysis.absorbance import analyze_absorbance

            res = analyze_absorbance(reading.spectrum, material=self.material, path_mm=self.path_mm,
                                     dilution=self.dilution)
            return "absorbance", {**_as_dict(res), **self._yield(res.concentration_mol_l, res.concentration_mg_ml)}
        from flowqd.analysis.exciton import find_exciton

        ex = find_exciton(reading.spectrum)
        return "exciton", {"peak_wavelength_nm": float(ex.wavelength_nm), "peak_energy_ev": float(ex.energy_ev),
                           "peak_absorbance": float(ex.absorbance), "peak_method": ex.method}

    def _yield(self, c_mol_l: float, c_mg_ml: float) -> dict[str, Any]:
        """Yield (= In conversion, InP being In-limited) and production rate of the condition set by
        :meth:`for_condition`; an implausible value is reported as ``yield_error``, the rest of the analysis kept."""
        from flowqd.analysis.concentration import chemical_yield, production_rate_mg_h

        out: dict[str, Any] = {}
        if not np.isfinite(c_mol_l):
            return out
        if self.outlet_flow_ml_min is not None:
            out["production_mg_h"] = float(production_rate_mg_h(c_mg_ml, self.outlet_flow_ml_min))
            out["outlet_flow_ml_min"] = self.outlet_flow_ml_min
        if self.in_feed_mol_l is not None:
            out["in_feed_mol_l"] = self.in_feed_mol_l
            try:
                out["yield"] = float(chemical_yield(c_mol_l, self.in_feed_mol_l))
            except FlowqdError as exc:
                out["yield_error"] = " ".join(str(exc).split())
        return out
