"""The inverse query on the twin: which core temperature and flow give a target exciton peak at the lowest RSD?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from flowqd.errors import RangeError
from flowqd.optimize.twin_prior import log_axis, twin_outcomes

__all__ = ["InverseAnswer", "TwinMap", "inverse_query", "twin_map"]


@dataclass(frozen=True)
class TwinMap:
    """The twin's exciton peak and RSD on a temperature × flow grid (NaN: no exciton in range)."""

    temperature_c: np.ndarray
    flow_ml_min: np.ndarray
    peak_nm: np.ndarray  # (n_t, n_q)
    rsd: np.ndarray


@dataclass(frozen=True)
class InverseAnswer:
    """The best grid conditions for the target (lowest RSD within the tolerance), best first, and the map."""

    target_peak_nm: float
    tolerance_nm: float
    candidates: list[dict[str, float]]
    map: TwinMap

    def to_dict(self) -> dict[str, Any]:
        return {"target_peak_nm": self.target_peak_nm, "tolerance_nm": self.tolerance_nm,
                "best": self.candidates[0] if self.candidates else None, "candidates": self.candidates}


def twin_map(twin: Any = None, *, temperature_c: tuple[float, float] = (150.0, 300.0),
             flow_ml_min: tuple[float, float] = (0.03, 1.0), n_temperature: int = 31, n_flow: int = 25,
             core_units: int = 1) -> TwinMap:
    """The twin on a grid (flows log-spaced); one batched solve, one PBE row per temperature."""
    if twin is None:
        from flowqd.twin import Twin

        twin = Twin.default()
    t = np.linspace(*temperature_c, n_temperature)
    q = log_axis(*flow_ml_min, n_flow)
    xs = [{"core_temperature_c": float(a), "core_flow_ml_min": float(b), "core_units": core_units}
          for a in t for b in q]
    out = twin_outcomes(twin, xs)
    return TwinMap(t, q, out["peak_nm"].reshape(t.size, q.size), out["rsd"].reshape(t.size, q.size))


def inverse_query(target_peak_nm: float, *, tolerance_nm: float = 2.0, twin: Any = None, n_best: int = 5,
                  **grid: Any) -> InverseAnswer:
    """Conditions whose predicted first exciton is within ``tolerance_nm`` of the target, lowest RSD first.

    Raises
    ------
    RangeError
        No grid condition reaches the target (the message gives the reachable peak range).
    """
    if not (math.isfinite(target_peak_nm) and tolerance_nm > 0):
        raise RangeError(f"target peak {target_peak_nm!r} nm with tolerance {tolerance_nm!r} nm: need finite "
                         "numbers and a positive tolerance")
    m = twin_map(twin, **grid)
    ok = np.isfinite(m.peak_nm) & (np.abs(m.peak_nm - target_peak_nm) <= tolerance_nm)
    if not ok.any():
        lo, hi = np.nanmin(m.peak_nm), np.nanmax(m.peak_nm)
        raise RangeError(f"target peak {target_peak_nm:g} nm: the twin reaches {lo:.0f}-{hi:.0f} nm over "
                         f"{m.temperature_c[0]:g}-{m.temperature_c[-1]:g} °C and {m.flow_ml_min[0]:g}-"
                         f"{m.flow_ml_min[-1]:g} mL/min")
    idx = np.argwhere(ok)
    order = np.argsort(m.rsd[ok])[:n_best]
    cands = [{"core_temperature_c": float(m.temperature_c[i]), "core_flow_ml_min": float(m.flow_ml_min[j]),
              "peak_nm": float(m.peak_nm[i, j]), "rsd": float(m.rsd[i, j])} for i, j in idx[order]]
    return InverseAnswer(float(target_peak_nm), float(tolerance_nm), cands, m)
