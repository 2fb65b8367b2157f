"""Heat-up of a fluid element entering a hot heating unit (radial conduction in laminar flow).

- Radial conduction time t_R = R²/α, α = k/(ρ c_p) ≈ 8e-8 m²/s → t_R ≈ 3 s in the 0.9975 mm tube.
- Bulk (cup-mixing) temperature: first-order approach T(t) = T_w − (T_w − T_in)·exp(−t/τ_h) with
  τ_h = R²/(Nu α). With the fully developed constant-wall-temperature Graetz value Nu = 3.66, the bulk temperature
  of the slowest (first) Graetz mode decays exactly as exp(−4 Nu α t/d²) when the axial position is read as ū·t,
  so this is the far-field solution. Near the entry the Lévêque (thin thermal boundary layer) regime has a
  higher local Nu, so the real approach is *faster*: τ_h is a conservative upper bound (≈ 0.85 s at 200 °C).
- Graetz thermal entry length L_th ≈ 0.05·Re·Pr·d (1.3 mm at 0.1 mL/min, 2 cm at 1.5 mL/min vs 4.6 m of coil).
- Heat duty P = ṁ c_p ΔT with ṁ = Q·ρ(inlet) (the syringe meters volume at the inlet temperature).
Dean enhancement of Nu is neglected (De ≲ 10 here). Properties are taken at the film mean (T_in + T_w)/2.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from flowqd.errors import RangeError
from flowqd.reactor.geometry import PAPER_INNER_DIAMETER_MM
from flowqd.reactor.hydraulics import reynolds
from flowqd.reactor.properties import STOCK, Fluid, check_temperature_c

__all__ = [
    "NUSSELT_FULLY_DEVELOPED",
    "heating_power_w",
    "heating_time_constant_s",
    "radial_conduction_time_s",
    "temperature_history",
    "thermal_entry_length_m",
    "time_to_approach_s",
]

#: Laminar fully developed Nusselt number at constant wall temperature (Graetz limit).
NUSSELT_FULLY_DEVELOPED: float = 3.66


def radial_conduction_time_s(temperature_c: npt.ArrayLike, *, inner_diameter_mm: float = PAPER_INNER_DIAMETER_MM,
                             fluid: Fluid = STOCK) -> np.ndarray:
    """R²/α, s.

    >>> round(float(radial_conduction_time_s(200.0)), 2)
    3.1
    """
    r = inner_diameter_mm * 0.5e-3
    return r**2 / fluid.thermal_diffusivity_m2_s(temperature_c)


def heating_time_constant_s(temperature_c: npt.ArrayLike, *, inner_diameter_mm: float = PAPER_INNER_DIAMETER_MM,
                            fluid: Fluid = STOCK, nusselt: float = NUSSELT_FULLY_DEVELOPED) -> np.ndarray:
    """τ_h = R²/(Nu α), s (first Graetz mode; an upper bound because of the faster Lévêque entry).

    >>> round(float(heating_time_constant_s(200.0)), 2)
    0.85
    """
    if not nusselt > 0:
        raise RangeError(f"Nusselt number must be > 0, got {nusselt!r}")
    return radial_conduction_time_s(temperature_c, inner_diameter_mm=inner_diameter_mm, fluid=fluid) / nusselt


def temperature_history(t_s: npt.ArrayLike, inlet_c: float, wall_c: float, *,
                        inner_diameter_mm: float = PAPER_INNER_DIAMETER_MM, fluid: Fluid = STOCK,
                        nusselt: float = NUSSELT_FULLY_DEVELOPED) -> np.ndarray:
    """Bulk temperature (°C) of a fluid element ``t_s`` seconds after entering a unit with wall at ``wall_c``.

    >>> [round(float(x), 1) for x in temperature_history([0.0, 1.0, 10.0], 25.0, 200.0)]
    [25.0, 142.6, 200.0]
    """
    t = np.asarray(t_s, dtype=float)
    if np.any(~np.isfinite(t) | (t < 0)):
        raise RangeError("temperature_history: times must be finite and ≥ 0 s")
    check_temperature_c([inlet_c, wall_c], "temperature_history: temperature")
    tau_h = float(heating_time_constant_s(0.5 * (inlet_c + wall_c), inner_diameter_mm=inner_diameter_mm,
                                          fluid=fluid, nusselt=nusselt))
    return wall_c - (wall_c - inlet_c) * np.exp(-t / tau_h)


def time_to_approach_s(inlet_c: float, wall_c: float, *, within_c: float = 1.0,
                       inner_diameter_mm: float = PAPER_INNER_DIAMETER_MM, fluid: Fluid = STOCK,
                       nusselt: float = NUSSELT_FULLY_DEVELOPED) -> float:
    """Seconds until the bulk temperature is within ``within_c`` of the wall (0 if already within).

    >>> round(time_to_approach_s(25.0, 200.0), 1)
    4.6
    """
    if not within_c > 0:
        raise RangeError(f"within_c must be > 0, got {within_c!r}")
    check_temperature_c([inlet_c, wall_c], "time_to_approach_s: temperature")
    gap = abs(wall_c - inlet_c)
    if gap <= within_c:
        return 0.0
    tau_h = float(heating_time_constant_s(0.5 * (inlet_c + wall_c), inner_diameter_mm=inner_diameter_mm,
                                          fluid=fluid, nusselt=nusselt))
    return tau_h * float(np.log(gap / within_c))


def thermal_entry_length_m(flow_ml_min: npt.ArrayLike, temperature_c: npt.ArrayLike, *,
                           inner_diameter_mm: float = PAPER_INNER_DIAMETER_MM, fluid: Fluid = STOCK) -> np.ndarray:
    """Graetz thermal entry length 0.05·Re·Pr·d, m.

    >>> [round(float(x) * 1e3, 1) for x in thermal_entry_length_m([0.1, 1.5], 200.0)]
    [1.3, 19.9]
    """
    re = reynolds(flow_ml_min, inner_diameter_mm, fluid.density_kg_m3(temperature_c),
                  fluid.viscosity_pa_s(temperature_c))
    return 0.05 * re * fluid.prandtl(temperature_c) * inner_diameter_mm * 1e-3


def heating_power_w(flow_ml_min: npt.ArrayLike, delta_t_c: npt.ArrayLike, *, inlet_c: float = 25.0,
                    fluid: Fluid = STOCK) -> np.ndarray:
    """Sensible heat duty ṁ c_p ΔT, W (ṁ from the volumetric flow at the inlet temperature).

    >>> [round(float(x), 2) for x in heating_power_w([0.1, 1.5], 225.0)]
    [0.73, 10.98]
    """
    q = np.asarray(flow_ml_min, dtype=float)
    if np.any(~np.isfinite(q) | (q < 0)):
        raise RangeError("heating_power_w: flow must be ≥ 0 mL/min")
    mass_flow_kg_s = q * 1e-6 / 60.0 * fluid.density_kg_m3(inlet_c)
    return mass_flow_kg_s * fluid.heat_capacity_j_kg_k * np.asarray(delta_t_c, dtype=float)
