"""A fast analytic stand-in for the digital twin (tests, quick demos; ``[sim] twin = "surrogate"``).

It is *not* a model of the chemistry: a smooth interpolation through the paper's anchors — first exciton at
518 nm (180 °C) and 590 nm (250 °C) at 0.1 mL/min (one HB1 unit), a weak residence-time dependence, a 12 nm red
shift and a PL peak ~77 nm above the exciton with PLQY 0.31 after the ZnS shell (paper Fig. 4: 530/607 nm,
30.9 %). Spectra are a Gaussian exciton on a rising short-wavelength background. It answers in microseconds, so
simulated campaigns in the test-suite do not depend on the twin's population balance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from flowqd.reactor.conditions import Conditions

__all__ = ["SurrogatePrediction", "SurrogateTwin"]

#: The anchors' stock flow through one HB1 unit, mL/min (paper Fig. 3: 518 and 590 nm at 0.1 mL/min).
_ANCHOR_FLOW_ML_MIN = 0.1


@dataclass(frozen=True)
class SurrogatePrediction:
    """The subset of :class:`flowqd.twin.Prediction` the simulated devices read."""

    absorbance_wavelength_nm: np.ndarray
    absorbance: np.ndarray
    pl_wavelength_nm: np.ndarray
    pl_intensity: np.ndarray
    peak_wavelength_nm: float
    pl_peak_nm: float
    plqy: float


class SurrogateTwin:
    """Analytic spectra through the paper's anchor points (1 mm path absorbance) at a set point
    (:class:`~flowqd.reactor.conditions.Conditions`, as the twin).

    Parameters
    ----------
    peak_absorbance : float
        Exciton absorbance at 1 mm path above the background.
    """

    def __init__(self, peak_absorbance: float = 0.35) -> None:
        self.peak_absorbance = float(peak_absorbance)
        self.path_mm = 1.0

    def peak_nm(self, c: Conditions) -> float:
        """First-exciton wavelength, nm.

        The residence-time term is ``6 nm · ln(τ/τ_anchor)`` with ``τ = V_unit · core_units / q`` and the anchors'
        ``τ_anchor = V_unit / 0.1 mL/min``: the unit volume cancels, ``τ/τ_anchor = core_units · 0.1 / q``.

        >>> round(SurrogateTwin().peak_nm(Conditions(180.0, 0.1)), 6)
        518.0
        """
        tau_ratio = c.core_units * _ANCHOR_FLOW_ML_MIN / c.core_flow_ml_min
        peak = 518.0 + (590.0 - 518.0) * (c.core_temperature_c - 180.0) / 70.0 + 6.0 * math.log(tau_ratio)
        return peak + (12.0 if c.shell else 0.0)

    def predict(self, c: Conditions) -> SurrogatePrediction:
        """Spectra at ``c`` (absorbance 350-950 nm, PL 450-850 nm)."""
        peak = self.peak_nm(c)
        wl = np.linspace(350.0, 950.0, 601)
        sigma = 18.0 + 0.12 * (c.core_temperature_c - 180.0)
        amp = self.peak_absorbance * (1.0 + 0.004 * (c.core_temperature_c - 180.0))
        exciton = amp * np.exp(-0.5 * ((wl - peak) / sigma) ** 2)
        background = 2.2 * amp / (1.0 + np.exp((wl - (peak - 45.0)) / 22.0))
        absorbance = exciton + background
        pl_peak = peak + 77.0
        plqy = 0.31 if c.shell else 0.02
        wl_pl = np.linspace(450.0, 850.0, 401)
        pl = plqy * np.exp(-0.5 * ((wl_pl - pl_peak) / (60.0 / 2.3548)) ** 2)
        return SurrogatePrediction(wl, absorbance, wl_pl, pl, peak, pl_peak, plqy)
