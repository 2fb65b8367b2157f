"""Analysis of each spectrum as it arrives (the engine's link to :mod:`flowqd.analysis`).

An analyzer is any callable ``analyzer(reading) -> SpectrumOutcome`` (:class:`flowqd.analysis.outcome.
SpectrumOutcome`: the analysis package's result objects, the condition's yield, failure and quality notes); the
store persists it as it is and the engine judges steady state on its ``peak_wavelength_nm``.

PL on an integrating sphere (two-measurement method): the reading's ``reference`` is the run's **blank** (stock /
solvent in the cell, the scattered excitation band) and its spectrum the **sample** (attenuated excitation +
emission). Peak, FWHM and CIE come from the emission band of the sample; the PLQY from
:func:`flowqd.analysis.plqy.plqy_from_spectra` (``method="two-measurement"``) on blank and sample; whether there is
emission at all (else a PLQY upper limit) from :func:`flowqd.analysis.emission.check_emission`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from flowqd.analysis.outcome import SpectrumOutcome, YieldOutcome
from flowqd.devices.protocols import SpectrumReading
from flowqd.errors import FlowqdError

__all__ = ["Analyzer", "SpectrumAnalyzer"]

#: An analyzer turns one reading into one typed outcome (the store persists it as it is).
Analyzer = Callable[[SpectrumReading], SpectrumOutcome]


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
        bands: dict[str, Any] = {}
        if pl is not None and getattr(pl, "sphere", False):
            bands = {"pl_excitation_band_nm": pl.excitation_band(), "pl_emission_band_nm": tuple(pl.emission_band_nm),
                     "plqy_method": pl.plqy_method}
        return cls(platform.control.material, platform.devices.uvvis.path_mm, psd=psd, **bands,
                   pl_smooth_window_nm=pl.smooth_window_nm if pl is not None else None,
                   dilution=platform.devices.uvvis.dilution, stock_indium_mol_l=platform.control.stock_indium_mol_l())

    def __call__(self, reading: SpectrumReading) -> SpectrumOutcome:
        """Analyse one reading; a spectrum that cannot be analysed gives :meth:`SpectrumOutcome.failed`."""
        try:
            if reading.kind == "absorbance":
                return self._absorbance(reading)
            return self._pl(reading)
        except FlowqdError as exc:
            return SpectrumOutcome.failed(str(exc))

    def _pl(self, reading: SpectrumReading) -> SpectrumOutcome:
        from flowqd.analysis.pl import analyze_pl

        spectrum = reading.spectrum
        emi, exc = self.pl_emission_band_nm, self.pl_excitation_band_nm
        sphere: SpectrumOutcome | None = None  # the integrating-sphere part (PLQY, emission check)
        if emi is not None and exc is not None and reading.reference is not None:
            from flowqd.analysis.emission import check_emission
            from flowqd.analysis.plqy import plqy_from_spectra

            dark = reading.dark if reading.dark is not None else np.zeros_like(reading.reference)
            blank = spectrum.with_values(np.asarray(reading.reference, float) - np.asarray(dark, float),
                                         source=f"{spectrum.source} blank")
            try:
                quantum = plqy_from_spectra(self.plqy_method, blank=blank, sample=spectrum, excitation_band_nm=exc,
                                            emission_band_nm=emi, quantity="photon")
            except FlowqdError:  # emitted = 0 below: no emission detected, so the upper limit stands in for it
                quantum = None
            emission = check_emission(blank, spectrum, excitation_band_nm=exc, emission_band_nm=emi,
                                      emitted=0.0 if quantum is None else float(quantum.emitted),
                                      absorbed=None if quantum is None else float(quantum.absorbed))
            sphere = SpectrumOutcome("pl", quantum=quantum, emission=emission, excitation_band_nm=exc,
                                     emission_band_nm=emi)
            if not emission.detected:  # no PLQY, no peak: an upper limit (a negative "emitted" is noise here)
                return sphere
        if emi is not None:
            emission_part = spectrum.window(*emi)
        elif spectrum.metadata.get("excitation_nm") is not None:
            # No bands configured: keep the excitation line out of the peak search (Stokes side only).
            emission_part = spectrum.window(float(spectrum.metadata["excitation_nm"]) + 30.0, np.inf)
        else:
            emission_part = spectrum
        try:
            result = analyze_pl(emission_part, quantity="photon", smooth_window_nm=self.pl_smooth_window_nm)
        except FlowqdError as err:
            if sphere is None:
                raise
            return dataclasses.replace(sphere, error=" ".join(str(err).split()))
        return SpectrumOutcome("pl", pl=result) if sphere is None else dataclasses.replace(sphere, pl=result)

    def _absorbance(self, reading: SpectrumReading) -> SpectrumOutcome:
        if self.psd:
            from flowqd.analysis.absorbance import analyze_absorbance

            res = analyze_absorbance(reading.spectrum, material=self.material, path_mm=self.path_mm,
                                     dilution=self.dilution)
            return SpectrumOutcome("absorbance", absorbance=res,
                                   yields=self._yield(res.concentration_mol_l, res.concentration_mg_ml))
        from flowqd.analysis.exciton import find_exciton

        return SpectrumOutcome("exciton", exciton=find_exciton(reading.spectrum))

    def _yield(self, c_mol_l: float, c_mg_ml: float) -> YieldOutcome | None:
        """Yield (= In conversion, InP being In-limited) and production rate of the condition set by
        :meth:`for_condition`; an implausible yield is reported as ``conversion_error``, the rest of the analysis
        kept. None when the concentration is unknown."""
        from flowqd.analysis.concentration import chemical_yield, production_rate_mg_h

        if not np.isfinite(c_mol_l):
            return None
        production = None
        if self.outlet_flow_ml_min is not None:
            production = float(production_rate_mg_h(c_mg_ml, self.outlet_flow_ml_min))
        conversion, error = None, None
        if self.in_feed_mol_l is not None:
            try:
                conversion = float(chemical_yield(c_mol_l, self.in_feed_mol_l))
            except FlowqdError as exc:
                error = " ".join(str(exc).split())
        return YieldOutcome(in_feed_mol_l=self.in_feed_mol_l, outlet_flow_ml_min=self.outlet_flow_ml_min,
                            conversion=conversion, conversion_error=error, production_rate_mg_h=production)
