"""Analysis of each spectrum as it arrives (the engine's link to :mod:`flowqd.analysis`).

An analyzer is any callable ``analyzer(reading) -> (method, result_dict)``. The result dict uses the analysis
package's keys (``peak_wavelength_nm``, ``x13_nm``, ``sigma_nm``, ``rsd`` for absorbance; ``peak_wavelength_nm``,
``fwhm_nm``, ``cie_x``, ``cie_y`` for PL); the engine judges steady state on ``peak_wavelength_nm``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

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

    def __init__(self, material: str = "InP", path_mm: float = 1.0, *, psd: bool = True) -> None:
        self.material = material
        self.path_mm = float(path_mm)
        self.psd = bool(psd)

    def __call__(self, reading: SpectrumReading) -> tuple[str, dict[str, Any]]:
        """Analyse one reading; a spectrum that cannot be analysed gives ``{"error": message}``."""
        try:
            if reading.kind == "absorbance":
                return self._absorbance(reading)
            from flowqd.analysis.pl import analyze_pl

            return "pl", _as_dict(analyze_pl(reading.spectrum, quantity="photon"))
        except FlowqdError as exc:
            return "error", {"error": " ".join(str(exc).split())}

    def _absorbance(self, reading: SpectrumReading) -> tuple[str, dict[str, Any]]:
        if self.psd:
            from flowqd.analysis.absorbance import analyze_absorbance

            res = analyze_absorbance(reading.spectrum, material=self.material, path_mm=self.path_mm)
            return "absorbance", _as_dict(res)
        from flowqd.analysis.exciton import find_exciton

        ex = find_exciton(reading.spectrum)
        return "exciton", {"peak_wavelength_nm": float(ex.wavelength_nm), "peak_energy_ev": float(ex.energy_ev),
                           "peak_absorbance": float(ex.absorbance), "peak_method": ex.method}
