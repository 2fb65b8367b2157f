"""The digital twin as prior knowledge: its predictions on a grid over an optimisation's decision space."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from flowqd.optimize.bo import TwinGridPrior
from flowqd.optimize.campaign import OptimizeCampaign

__all__ = ["TWIN_OUTCOMES", "log_axis", "twin_grid_prior", "twin_outcomes"]

#: Outcome name → :class:`flowqd.twin.Prediction` field.
TWIN_OUTCOMES = {"peak_nm": "peak_wavelength_nm", "x13_nm": "x13_nm", "rsd": "rsd", "pl_peak_nm": "pl_peak_nm",
                 "pl_fwhm_nm": "pl_fwhm_nm", "plqy": "plqy", "production_rate_mg_h": "production_mg_h"}
#: A predicted first exciton below this is outside the spectrometers' window: no measurable dots.
MIN_EXCITON_NM = 420.0

_CONDITION_KEYS = ("core_temperature_c", "core_flow_ml_min", "core_units", "shell", "shell_temperature_c",
                   "ddt_flow_ml_min", "shell_units")


def log_axis(lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` log-spaced points from ``lo`` to ``hi``, the ends exactly the bounds (exp∘log round-off would leave
    the pump range)."""
    axis = np.exp(np.linspace(math.log(lo), math.log(hi), n))
    axis[0], axis[-1] = lo, hi
    return axis


def twin_outcomes(twin: Any, xs: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """The twin's outcomes at condition dicts ``xs`` (one batched solve); NaN where it predicts no exciton."""
    from flowqd.twin import Conditions

    conds = [Conditions(**{k: v for k, v in x.items() if k in _CONDITION_KEYS}) for x in xs]
    batch = twin.predict_batch(conds, bands=False)
    peak = np.asarray(batch.peak_wavelength_nm, dtype=float)
    dots = np.isfinite(peak) & (peak >= MIN_EXCITON_NM)
    out = {}
    for name, field in TWIN_OUTCOMES.items():
        v = np.asarray(getattr(batch, field), dtype=float)
        out[name] = np.where(dots, v, np.nan)
    return out


def twin_grid_prior(campaign: OptimizeCampaign, bounds: dict[str, tuple[float, float]], twin: Any = None,
                    *, max_points: int = 400) -> TwinGridPrior:
    """The twin (default: :meth:`flowqd.twin.Twin.default`) on a ``design.twin_grid``-per-variable grid."""
    if twin is None:
        from flowqd.twin import Twin

        twin = Twin.default()
    n = campaign.design.twin_grid
    names = list(bounds)
    while n > 3 and n ** len(names) > max_points:
        n -= 1
    axes = []
    for name in names:
        lo, hi = bounds[name]
        if campaign.variable(name).log:
            axes.append(log_axis(lo, hi, n))
        else:
            axes.append(np.linspace(lo, hi, n))
    xs = [dict(zip(names, map(float, p), strict=True)) for p in itertools.product(*axes)]
    full = [{**campaign.fixed, **x} for x in xs]
    return TwinGridPrior(tuple(xs), twin_outcomes(twin, full))
