"""Fluid properties of the stock, oleylamine and 1-dodecanethiol (DDT), plus diffusivities and HNEt2 volatility.

Provenance (read before trusting a number):

- **Oleylamine density and viscosity are estimates by analogy**, not measurements: **no measured oleylamine
  viscosity was found**; the correlation was built from DIPPR / VDI-PPDS data of analogues (n-hexadecane,
  n-octadecane, n-octylamine) with an amine/alkane ratio shrinking from ≈2.5 at 25 °C to ≈1.6 at 200 °C.
  Uncertainty ±40 % (viscosity), ±3 % (density); unverified against any oleylamine measurement.
- The **stock** (InCl3 + ZnCl2 + P(NEt2)3 in oleylamine) has never been measured either. Its viscosity is
  oleylamine's times :attr:`Fluid.viscosity_multiplier` (default 1; the dissolved salts raise it, by an unknown
  factor, possibly 2-20x at room temperature - the paper degassed the salts separately "to avoid high viscosity").
- DDT density 0.845 g/mL at 25 °C is the usual catalogue value for 1-dodecanethiol, **not verified** against a
  primary measurement; its viscosity (≈2.5 mPa·s at 25 °C) is a **guess**, given the temperature dependence of
  n-hexadecane (VFT fit; within 1.5 % of the DIPPR equation-101 correlation of Perry's Chemical Engineers'
  Handbook, 8th ed., 2008, Table 2-313, over 25-250 °C).
- Heat capacity 2400 J/(kg·K) and thermal conductivity 0.14 W/(m·K) are typical long-chain amine magnitudes,
  **unverified** for oleylamine (they only set the seconds-long heat-up, see :mod:`flowqd.reactor.heatup`).
- HNEt2 (diethylamine, the transamination by-product) vapour pressure: Antoine equation fitted here; it agrees
  within 1.2 % over 25-220 °C with McGarry's Wagner-equation correlation (J. McGarry, Ind. Eng. Chem. Process
  Des. Dev. 1983, 22, 313, DOI 10.1021/i200021a023). Critical temperature 226.5 °C (499.7 K, the IUPAC
  critical-property compilation; D. Ambrose, C. L. Young, J. Chem. Eng. Data 1996, 41, 154,
  DOI 10.1021/je950378q, and its series; CRC Handbook: 499.5 K).

Every function refuses temperatures outside :data:`VALID_TEMPERATURE_C` with :class:`~flowqd.errors.RangeError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flowqd.errors import RangeError
from flowqd.units import BOLTZMANN, celsius_to_kelvin

__all__ = [
    "DDT",
    "HNET2_CRITICAL_TEMPERATURE_C",
    "OLEYLAMINE",
    "STOCK",
    "VALID_TEMPERATURE_C",
    "Fluid",
    "check_temperature_c",
    "ddt_viscosity_pa_s",
    "hnet2_vapour_pressure_bar",
    "oleylamine_density_kg_m3",
    "oleylamine_viscosity_pa_s",
    "stokes_einstein_diffusivity_m2_s",
    "wilke_chang_diffusivity_m2_s",
]

#: Temperature window (°C) of every property correlation here; outside it is an error, never an extrapolation.
VALID_TEMPERATURE_C: tuple[float, float] = (0.0, 350.0)
#: Diethylamine critical temperature, °C (499.7 K: IUPAC compilation, Ambrose & Young 1996 series; see module doc).
HNET2_CRITICAL_TEMPERATURE_C: float = 226.5
#: Antoine constants for HNEt2, log10(P/bar) = A - B/(T/°C + C), 25-220 °C (within 1.2 % of McGarry 1983).
_HNET2_ANTOINE = (4.16572, 1166.035, 224.592)
#: VFT fit of n-hexadecane viscosity, ln(μ/mPa·s) = A + B/(T/K - C) (within 1.5 % of Perry's 8th ed. Table 2-313
#: DIPPR correlation, 25-250 °C).
_HEXADECANE_VFT = (-4.26367, 1393.130, 39.286)


def check_temperature_c(temperature_c: npt.ArrayLike, what: str = "temperature",
                        valid_c: tuple[float, float] = VALID_TEMPERATURE_C) -> np.ndarray:
    """Return ``temperature_c`` as an array, or raise :class:`RangeError` if any value is outside ``valid_c``.

    >>> check_temperature_c(200.0).item()
    200.0
    """
    t = np.asarray(temperature_c, dtype=float)
    lo, hi = valid_c
    bad = ~((t >= lo) & (t <= hi))
    if np.any(bad):
        value = t[bad].flat[0] if t.ndim else float(t)
        raise RangeError(f"{what} {value:g} °C outside the model's range {lo:g}-{hi:g} °C")
    return t


def oleylamine_density_kg_m3(temperature_c: npt.ArrayLike) -> np.ndarray:
    """Oleylamine density, kg/m³: ρ = 813·[1 − 6.0e-4·(T/°C − 25)] (estimate by analogy, ±3 %; unverified).

    >>> [round(float(x)) for x in oleylamine_density_kg_m3([25.0, 180.0, 200.0, 250.0])]
    [813, 737, 728, 703]
    """
    t = check_temperature_c(temperature_c, "oleylamine density: temperature")
    return 813.0 * (1.0 - 6.0e-4 * (t - 25.0))


def oleylamine_viscosity_pa_s(temperature_c: npt.ArrayLike) -> np.ndarray:
    """Oleylamine dynamic viscosity, Pa·s: ln(μ/mPa·s) = −3.051 + 885.8/(T/K − 132.6).

    Analogue-based estimate (DIPPR/VDI n-alkane and n-octylamine data; no measured oleylamine data found),
    uncertainty ±40 %; unverified against a measurement.

    >>> [round(float(x) * 1e3, 2) for x in oleylamine_viscosity_pa_s([25.0, 180.0, 200.0, 250.0])]
    [9.97, 0.75, 0.64, 0.46]
    """
    t_k = celsius_to_kelvin(check_temperature_c(temperature_c, "oleylamine viscosity: temperature"))
    return 1e-3 * np.exp(-3.051 + 885.8 / (t_k - 132.6))


def ddt_viscosity_pa_s(temperature_c: npt.ArrayLike) -> np.ndarray:
    """1-Dodecanethiol viscosity, Pa·s: 2.5 mPa·s at 25 °C (a guess, unverified) scaled with n-hexadecane's VFT curve.

    >>> [round(float(x) * 1e3, 2) for x in ddt_viscosity_pa_s([25.0, 200.0])]
    [2.5, 0.29]
    """
    t_k = celsius_to_kelvin(check_temperature_c(temperature_c, "DDT viscosity: temperature"))
    a, b, c = _HEXADECANE_VFT
    ref = np.exp(a + b / (298.15 - c))
    return 2.5e-3 * np.exp(a + b / (t_k - c)) / ref


@dataclass(frozen=True)
class Fluid:
    """A process liquid: density, viscosity, heat capacity and conductivity against temperature.

    Attributes
    ----------
    name : str
        Label (``"stock"``).
    density_25c_kg_m3 : float
        Density at 25 °C; thermal expansion is linear with ``expansion_per_k`` (ρ = ρ25·[1 − β(T − 25)]).
    viscosity_kind : str
        ``"oleylamine"`` or ``"ddt"``: which viscosity correlation to use.
    viscosity_multiplier : float
        Factor on the base viscosity (the stock's salts raise it; unknown, default 1). Must be > 0.
    heat_capacity_j_kg_k, thermal_conductivity_w_m_k : float
        Constant c_p and k (typical long-chain amine magnitudes; unverified for oleylamine).
    """

    name: str
    density_25c_kg_m3: float
    viscosity_kind: str = "oleylamine"
    viscosity_multiplier: float = 1.0
    expansion_per_k: float = 6.0e-4
    heat_capacity_j_kg_k: float = 2400.0
    thermal_conductivity_w_m_k: float = 0.14

    def __post_init__(self) -> None:
        if self.viscosity_kind not in ("oleylamine", "ddt"):
            raise RangeError(f"fluid {self.name}: unknown viscosity_kind {self.viscosity_kind!r} (oleylamine, ddt)")
        for key in ("density_25c_kg_m3", "viscosity_multiplier", "heat_capacity_j_kg_k", "thermal_conductivity_w_m_k"):
            value = getattr(self, key)
            if not (np.isfinite(value) and value > 0):
                raise RangeError(f"fluid {self.name}: {key} must be > 0, got {value!r}")

    def density_kg_m3(self, temperature_c: npt.ArrayLike) -> np.ndarray:
        """Density, kg/m³, at ``temperature_c``."""
        t = check_temperature_c(temperature_c, f"{self.name} density: temperature")
        return self.density_25c_kg_m3 * (1.0 - self.expansion_per_k * (t - 25.0))

    def viscosity_pa_s(self, temperature_c: npt.ArrayLike) -> np.ndarray:
        """Dynamic viscosity, Pa·s, at ``temperature_c`` (base correlation × ``viscosity_multiplier``)."""
        base = oleylamine_viscosity_pa_s if self.viscosity_kind == "oleylamine" else ddt_viscosity_pa_s
        return self.viscosity_multiplier * base(temperature_c)

    def thermal_diffusivity_m2_s(self, temperature_c: npt.ArrayLike) -> np.ndarray:
        """α = k/(ρ c_p), m²/s (≈8e-8 at 200 °C for oleylamine)."""
        return self.thermal_conductivity_w_m_k / (self.density_kg_m3(temperature_c) * self.heat_capacity_j_kg_k)

    def prandtl(self, temperature_c: npt.ArrayLike) -> np.ndarray:
        """Pr = μ c_p / k."""
        return self.viscosity_pa_s(temperature_c) * self.heat_capacity_j_kg_k / self.thermal_conductivity_w_m_k

    def with_viscosity_multiplier(self, multiplier: float) -> Fluid:
        """A copy with another viscosity multiplier."""
        return Fluid(self.name, self.density_25c_kg_m3, self.viscosity_kind, float(multiplier), self.expansion_per_k,
                     self.heat_capacity_j_kg_k, self.thermal_conductivity_w_m_k)


#: Neat oleylamine (estimate by analogy, see the module docstring).
OLEYLAMINE = Fluid("oleylamine", 813.0)
#: The paper's stock: oleylamine properties (salts and PDEA ignored in ρ, see docs), viscosity multiplier 1.
STOCK = Fluid("stock", 813.0)
#: Neat 1-dodecanethiol: ρ 0.845 g/mL at 25 °C (catalogue value, unverified); expansion assumed equal to oleylamine's.
DDT = Fluid("ddt", 845.0, viscosity_kind="ddt")


def wilke_chang_diffusivity_m2_s(temperature_c: npt.ArrayLike, viscosity_pa_s: npt.ArrayLike, *,
                                 solvent_molar_mass_g_mol: float = 267.5,
                                 solute_molar_volume_cm3_mol: float = 500.0,
                                 association: float = 1.0) -> np.ndarray:
    """Molecular diffusivity (Wilke–Chang), m²/s: D = 7.4e-8 (φM)^½ T / (μ_cP V_A^0.6) cm²/s.

    C. R. Wilke, P. Chang, AIChE J. 1955, 1, 264.  Defaults: oleylamine solvent (M 267.5, φ = 1), a precursor-sized
    solute (V_A = 500 cm³/mol: our assumption for an In–aminophosphine complex).

    >>> round(float(wilke_chang_diffusivity_m2_s(200.0, oleylamine_viscosity_pa_s(200.0))) * 1e9, 2)
    2.16
    """
    t_k = celsius_to_kelvin(check_temperature_c(temperature_c, "Wilke-Chang: temperature"))
    mu_cp = np.asarray(viscosity_pa_s, dtype=float) * 1e3
    d_cm2_s = 7.4e-8 * np.sqrt(association * solvent_molar_mass_g_mol) * t_k / (
        mu_cp * solute_molar_volume_cm3_mol**0.6)
    return d_cm2_s * 1e-4


def stokes_einstein_diffusivity_m2_s(temperature_c: npt.ArrayLike, viscosity_pa_s: npt.ArrayLike, *,
                                     hydrodynamic_diameter_nm: float = 7.0) -> np.ndarray:
    """Particle (nanocrystal) diffusivity, m²/s: D = k_B T / (3π μ d_h).

    Default d_h = 7 nm: a 3 nm InP core plus its oleylamine ligand shell (≈2 nm each side; an estimate).

    >>> round(float(stokes_einstein_diffusivity_m2_s(200.0, oleylamine_viscosity_pa_s(200.0))) * 1e10, 2)
    1.55
    """
    if not hydrodynamic_diameter_nm > 0:
        raise RangeError(f"hydrodynamic diameter must be > 0 nm, got {hydrodynamic_diameter_nm!r}")
    t_k = celsius_to_kelvin(check_temperature_c(temperature_c, "Stokes-Einstein: temperature"))
    return BOLTZMANN * t_k / (3.0 * np.pi * np.asarray(viscosity_pa_s, dtype=float) * hydrodynamic_diameter_nm * 1e-9)


def hnet2_vapour_pressure_bar(temperature_c: npt.ArrayLike, *, allow_supercritical: bool = False) -> np.ndarray:
    """Diethylamine vapour pressure, bar (Antoine fit; within 1.2 % of McGarry 1983, 25-220 °C).

    Above the critical temperature (226.5 °C) there is no vapour pressure; with ``allow_supercritical=True`` the
    Antoine curve is extrapolated as a *pseudo* vapour pressure (a rough indicator for the bubble-point margin),
    otherwise a :class:`RangeError` is raised.

    >>> [round(float(p), 1) for p in hnet2_vapour_pressure_bar([25.0, 180.0, 200.0])]
    [0.3, 19.2, 26.3]
    """
    t = check_temperature_c(temperature_c, "HNEt2 vapour pressure: temperature")
    if not allow_supercritical and np.any(t > HNET2_CRITICAL_TEMPERATURE_C):
        raise RangeError(f"HNEt2 vapour pressure: temperature {float(np.max(t)):g} °C above the critical "
                         f"temperature {HNET2_CRITICAL_TEMPERATURE_C:g} °C")
    a, b, c = _HNET2_ANTOINE
    return 10.0 ** (a - b / (t + c))
