"""Hydraulics of the coiled capillaries: residence time, velocity, Re, De, pressure drop and margins.

Equations (SI inside, units in the names outside):

- τ = V/Q; ū = Q/A; Re = ρ ū d/μ; De = Re·(d/D_c)^½ (``fluids.core.Dean``; W. R. Dean, Phil. Mag. 1927).
- Hagen–Poiseuille ΔP = 128 μ L Q/(π d⁴) with μ(T) of the local fluid.
- Curvature: White (1929) f_curved/f_straight = 1/[1 − (1 − (11.6/De)^0.45)^(1/0.45)] for De > 11.6, exactly 1 (the
  straight-pipe value) for De ≤ 11.6 (``fluids.friction.helical_laminar_fd_White``; validity 11.6 < De < 2000).
- Mixed streams (after the DDT T-mixer): volume-weighted density, ln μ = Σ φ_i ln μ_i (Arrhenius mixing rule,
  an assumption adequate within the ±40 % viscosity uncertainty).
- Margins: the 2.5 mL syringe is rated 20 bar (paper §3); margin = 20 − (ΔP_total + back-pressure).
  HNEt2 bubble point (Raoult): p_b = x·P_sat(T); margin = local absolute pressure − p_b.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flowqd.errors import RangeError
from flowqd.reactor.geometry import ReactorTrain, Segment
from flowqd.reactor.properties import DDT, STOCK, Fluid, hnet2_vapour_pressure_bar

__all__ = [
    "ATMOSPHERE_BAR",
    "SYRINGE_PRESSURE_LIMIT_BAR",
    "SectionHydraulics",
    "TrainHydraulics",
    "bubble_point_margin_bar",
    "check_pressure_bar",
    "dean",
    "hagen_poiseuille_pressure_drop_bar",
    "mean_velocity_m_s",
    "mixture_properties",
    "pressure_drop_bar",
    "pressure_margin_bar",
    "residence_time_min",
    "reynolds",
    "train_hydraulics",
    "white_curvature_factor",
]

#: Pressure rating of the paper's 2.5 mL syringes, bar (paper §3: "a syringe (2.5 mL, 20 bar)").
SYRINGE_PRESSURE_LIMIT_BAR: float = 20.0
#: Absolute pressure at an open outlet, bar.
ATMOSPHERE_BAR: float = 1.01325
#: Default feed fluids by stream name.
DEFAULT_FLUIDS: Mapping[str, Fluid] = {"stock": STOCK, "ddt": DDT}


def _positive_array(x: npt.ArrayLike, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(a) & (a > 0)):
        bad = float(a[~(np.isfinite(a) & (a > 0))].flat[0]) if a.ndim else float(a)
        raise RangeError(f"{what} must be > 0, got {bad!r}")
    return a


def residence_time_min(volume_ml: npt.ArrayLike, flow_ml_min: npt.ArrayLike) -> np.ndarray:
    """Mean residence time τ = V/Q, minutes.

    >>> [round(float(x), 2) for x in residence_time_min(3.595, [1.5, 0.3, 0.05, 0.03])]
    [2.4, 11.98, 71.9, 119.83]
    """
    return _positive_array(volume_ml, "volume_ml") / _positive_array(flow_ml_min, "flow_ml_min")


def mean_velocity_m_s(flow_ml_min: npt.ArrayLike, inner_diameter_mm: npt.ArrayLike) -> np.ndarray:
    """Mean velocity ū = Q/A, m/s.

    >>> round(float(mean_velocity_m_s(0.1, 0.9975)) * 1e3, 3)
    2.133
    """
    q = _positive_array(flow_ml_min, "flow_ml_min") * 1e-6 / 60.0
    d = _positive_array(inner_diameter_mm, "inner_diameter_mm") * 1e-3
    return q / (np.pi / 4.0 * d**2)


def reynolds(flow_ml_min: npt.ArrayLike, inner_diameter_mm: npt.ArrayLike, density_kg_m3: npt.ArrayLike,
             viscosity_pa_s: npt.ArrayLike) -> np.ndarray:
    """Reynolds number ρ ū d / μ.

    >>> round(float(reynolds(0.1, 0.9975, 728.0, 0.638e-3)), 2)
    2.43
    """
    u = mean_velocity_m_s(flow_ml_min, inner_diameter_mm)
    return np.asarray(density_kg_m3, dtype=float) * u * np.asarray(inner_diameter_mm, dtype=float) * 1e-3 / (
        _positive_array(viscosity_pa_s, "viscosity_pa_s"))


def dean(reynolds_number: npt.ArrayLike, inner_diameter_mm: npt.ArrayLike,
         coil_diameter_mm: npt.ArrayLike | None) -> np.ndarray:
    """Dean number De = Re·(d/D_c)^½; 0 for a straight tube (``coil_diameter_mm=None``).

    >>> round(float(dean(2.43, 0.9975, 40.0)), 2)
    0.38
    """
    re = np.asarray(reynolds_number, dtype=float)
    if coil_diameter_mm is None:
        return np.zeros_like(re)
    ratio = np.asarray(inner_diameter_mm, dtype=float) / _positive_array(coil_diameter_mm, "coil_diameter_mm")
    return re * np.sqrt(ratio)


def white_curvature_factor(dean_number: npt.ArrayLike) -> np.ndarray:
    """Friction-factor ratio curved/straight after White (1929); exactly 1 for De ≤ 11.6.

    >>> [round(float(x), 3) for x in white_curvature_factor([5.0, 11.6, 100.0])]
    [1.0, 1.0, 1.53]
    """
    de = np.asarray(dean_number, dtype=float)
    safe = np.maximum(de, 11.6)
    factor = 1.0 / (1.0 - (1.0 - (11.6 / safe) ** 0.45) ** (1.0 / 0.45))
    return np.where(de > 11.6, factor, 1.0)


def hagen_poiseuille_pressure_drop_bar(flow_ml_min: npt.ArrayLike, inner_diameter_mm: npt.ArrayLike,
                                       length_m: npt.ArrayLike, viscosity_pa_s: npt.ArrayLike) -> np.ndarray:
    """Straight-tube laminar pressure drop 128 μ L Q/(π d⁴), bar.

    >>> round(float(hagen_poiseuille_pressure_drop_bar(0.1, 0.9975, 4.6, 0.638e-3)) * 1e3, 2)
    2.01
    """
    q = _positive_array(flow_ml_min, "flow_ml_min") * 1e-6 / 60.0
    d = _positive_array(inner_diameter_mm, "inner_diameter_mm") * 1e-3
    length = _positive_array(length_m, "length_m")
    mu = _positive_array(viscosity_pa_s, "viscosity_pa_s")
    return 128.0 * mu * length * q / (np.pi * d**4) * 1e-5


def mixture_properties(stream_fractions: Mapping[str, float], temperature_c: npt.ArrayLike,
                       fluids: Mapping[str, Fluid] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Density (kg/m³) and viscosity (Pa·s) of a blend of feed streams by volume fraction.

    >>> rho, mu = mixture_properties({"stock": 1.0}, 200.0)
    >>> round(float(rho)), round(float(mu) * 1e3, 3)
    (728, 0.638)
    """
    fl = {**DEFAULT_FLUIDS, **(fluids or {})}
    rho = 0.0
    ln_mu = 0.0
    for stream, phi in stream_fractions.items():
        if stream not in fl:
            raise RangeError(f"no fluid properties for stream {stream!r} (known: {', '.join(fl)})")
        rho = rho + phi * fl[stream].density_kg_m3(temperature_c)
        ln_mu = ln_mu + phi * np.log(fl[stream].viscosity_pa_s(temperature_c))
    return np.asarray(rho, dtype=float), np.exp(ln_mu)


def pressure_drop_bar(flow_ml_min: npt.ArrayLike, inner_diameter_mm: float, length_m: float,
                      temperature_c: npt.ArrayLike, *, coil_diameter_mm: float | None = None,
                      fluid: Fluid = STOCK) -> np.ndarray:
    """Laminar pressure drop of ``fluid`` in one tube at ``temperature_c``, with White's curvature correction, bar.

    ΔP for the paper's unit at 0.1 mL/min and 200 °C is ≈ 2.0 mbar (the doctest):

    >>> round(float(pressure_drop_bar(0.1, 0.9975, 4.6, 200.0, coil_diameter_mm=30.0)) * 1e3, 2)
    2.01
    """
    mu = fluid.viscosity_pa_s(temperature_c)
    hp = hagen_poiseuille_pressure_drop_bar(flow_ml_min, inner_diameter_mm, length_m, mu)
    de = dean(reynolds(flow_ml_min, inner_diameter_mm, fluid.density_kg_m3(temperature_c), mu),
              inner_diameter_mm, coil_diameter_mm)
    return hp * white_curvature_factor(de)


def pressure_margin_bar(pressure_drop_bar: npt.ArrayLike, *, back_pressure_bar: float = 0.0,
                        limit_bar: float = SYRINGE_PRESSURE_LIMIT_BAR) -> np.ndarray:
    """Remaining headroom to the syringe rating: limit − (ΔP + back-pressure), bar (negative = over the limit).

    >>> float(pressure_margin_bar(0.5, back_pressure_bar=5.0))
    14.5
    """
    return limit_bar - (np.asarray(pressure_drop_bar, dtype=float) + back_pressure_bar)


def check_pressure_bar(pressure_drop_bar: float, *, back_pressure_bar: float = 0.0,
                       limit_bar: float = SYRINGE_PRESSURE_LIMIT_BAR, required_margin_bar: float = 0.0) -> float:
    """Return the margin, or raise :class:`RangeError` if the syringe pressure would exceed ``limit_bar``."""
    margin = float(pressure_margin_bar(pressure_drop_bar, back_pressure_bar=back_pressure_bar, limit_bar=limit_bar))
    if margin < required_margin_bar:
        raise RangeError(f"syringe pressure {pressure_drop_bar + back_pressure_bar:.3g} bar leaves {margin:.3g} bar "
                         f"to the {limit_bar:g} bar rating (need ≥ {required_margin_bar:g} bar)")
    return margin


def bubble_point_margin_bar(temperature_c: npt.ArrayLike, pressure_abs_bar: npt.ArrayLike,
                            hnet2_mole_fraction: float) -> np.ndarray:
    """Local absolute pressure minus the HNEt2 bubble-point pressure x·P_sat(T), bar (negative = gas slugs).

    Above HNEt2's critical temperature (226.5 °C) the Antoine curve is extrapolated (a pseudo vapour pressure).
    At 200 °C, x = 0.05, open outlet: p_b = 1.3 bar, margin ≈ −0.3 bar (the doctest).

    >>> round(float(bubble_point_margin_bar(200.0, 1.01325, 0.05)), 2)
    -0.3
    """
    if not 0.0 <= hnet2_mole_fraction <= 1.0:
        raise RangeError(f"HNEt2 mole fraction {hnet2_mole_fraction!r} outside 0-1")
    p_b = hnet2_mole_fraction * hnet2_vapour_pressure_bar(temperature_c, allow_supercritical=True)
    return np.asarray(pressure_abs_bar, dtype=float) - p_b


@dataclass(frozen=True)
class SectionHydraulics:
    """Hydraulics of one resolved section (mixers: zero volume, NaN Re/De)."""

    name: str
    kind: str
    flow_ml_min: float
    temperature_c: float
    volume_ml: float
    residence_time_min: float
    velocity_m_s: float
    reynolds: float
    dean: float
    density_kg_m3: float
    viscosity_pa_s: float
    pressure_drop_bar: float
    outlet_pressure_abs_bar: float


@dataclass(frozen=True)
class TrainHydraulics:
    """Per-section and total hydraulics of a resolved train."""

    sections: tuple[SectionHydraulics, ...]
    back_pressure_bar: float
    limit_bar: float

    @property
    def residence_time_min(self) -> float:
        """Total mean residence time, min."""
        return float(sum(s.residence_time_min for s in self.sections))

    @property
    def pressure_drop_bar(self) -> float:
        """Total pressure drop, bar."""
        return float(sum(s.pressure_drop_bar for s in self.sections))

    @property
    def syringe_pressure_bar(self) -> float:
        """Gauge pressure at the syringe: total ΔP + back-pressure, bar."""
        return self.pressure_drop_bar + self.back_pressure_bar

    @property
    def pressure_margin_bar(self) -> float:
        """Headroom to the syringe rating, bar."""
        return float(pressure_margin_bar(self.pressure_drop_bar, back_pressure_bar=self.back_pressure_bar,
                                         limit_bar=self.limit_bar))

    def section(self, name: str) -> SectionHydraulics:
        """The section called ``name``."""
        for s in self.sections:
            if s.name == name:
                return s
        raise RangeError(f"no section {name!r} in the hydraulics result")


def train_hydraulics(train_or_segments: ReactorTrain | Sequence[Segment], flow_ml_min: float | None = None,
                     temperatures_c: Mapping[str, float] | None = None,
                     side_flows_ml_min: Mapping[str, float] | None = None, *,
                     fluids: Mapping[str, Fluid] | None = None, back_pressure_bar: float = 0.0,
                     limit_bar: float = SYRINGE_PRESSURE_LIMIT_BAR) -> TrainHydraulics:
    """τ, ū, Re, De and ΔP of each section and the outlet-referenced local pressures.

    Pass either resolved segments or a train plus its operating point (``flow_ml_min``, set points, side flows).
    Tubes within a section are summed (ΔP) or maximised (Re, De).
    """
    if isinstance(train_or_segments, ReactorTrain):
        if flow_ml_min is None:
            raise RangeError("train_hydraulics: flow_ml_min is required with a ReactorTrain")
        segments = train_or_segments.resolve(flow_ml_min, temperatures_c, side_flows_ml_min)
    else:
        segments = tuple(train_or_segments)
    if back_pressure_bar < 0:
        raise RangeError(f"back_pressure_bar must be ≥ 0, got {back_pressure_bar!r}")
    partial = []
    for seg in segments:
        if not seg.tubes:
            partial.append((seg, 0.0, float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), 0.0))
            continue
        rho, mu = mixture_properties(seg.stream_fractions, seg.temperature_c, fluids)
        dp = re_max = de_max = 0.0
        u_max = 0.0
        for tube in seg.tubes:
            re = float(reynolds(seg.flow_ml_min, tube.inner_diameter_mm, rho, mu))
            de = float(dean(re, tube.inner_diameter_mm, tube.coil_diameter_mm))
            hp = float(hagen_poiseuille_pressure_drop_bar(seg.flow_ml_min, tube.inner_diameter_mm, tube.length_m, mu))
            dp += hp * float(white_curvature_factor(de))
            re_max, de_max = max(re_max, re), max(de_max, de)
            u_max = max(u_max, float(mean_velocity_m_s(seg.flow_ml_min, tube.inner_diameter_mm)))
        partial.append((seg, seg.residence_time_min, u_max, re_max, de_max, float(rho), float(mu), dp))
    # Outlet pressure of each section: atmosphere + back-pressure + all pressure drops downstream of it.
    downstream = np.cumsum([p[-1] for p in partial][::-1])[::-1]
    out = []
    for i, (seg, tau, u, re, de, rho, mu, dp) in enumerate(partial):
        after = float(downstream[i] - dp)
        out.append(SectionHydraulics(seg.name, seg.kind, seg.flow_ml_min, seg.temperature_c, seg.volume_ml, tau,
                                     u, re, de, rho, mu, dp, ATMOSPHERE_BAR + back_pressure_bar + after))
    return TrainHydraulics(tuple(out), float(back_pressure_bar), float(limit_bar))
