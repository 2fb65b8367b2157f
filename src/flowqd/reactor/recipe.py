"""The premixed stock, the DDT shell feed and the syringe pumps (Wang & Segets 2023, §2.2 and §3).

Stock of the paper: InCl3 884.72 mg (4 mmol), ZnCl2 2.7257 g (20 mmol), oleylamine 40 mL (2 × 20 mL), and
P(NEt2)3 (PDEA) 4.4 mL (16 mmol). Molar masses: InCl3 221.18, ZnCl2 136.29 (= 2725.7 mg / 20 mmol),
PDEA 247.32 g/mol; PDEA density 0.903 g/mL (catalogue value, unverified) → 4.4·0.903/247.32 = 16.07 mmol.

**Assumption: additive volumes**, the salts counted with their crystal volume (InCl3 3.46, ZnCl2 2.907 g/cm³):
0.256 + 0.938 mL, so the stock is ≈ 45.6 mL and [In] = 0.0877 M, [Zn] = 0.439 M, [P] = 0.352 M (computed by
:func:`paper_stock`). Ignoring the salt volume would raise the concentrations by 2.7 %.  ZnCl2 2.907 g/cm³ is the
CRC Handbook value; InCl3 3.46 g/cm³ is a catalogue value — the CRC Handbook lists 4.0 g/cm³, which would shrink the
stock by 0.035 mL and raise [In] by 0.08 % (negligible; kept so that the pinned numbers stay).

Shell: the core stream (0.06 mL/min) meets neat DDT (0.03 mL/min, ρ 0.845 g/mL: catalogue value, unverified,
M 202.40) at a T-mixer: [Zn] = 0.439·2/3 = 0.29 M, [DDT] = 4.17·1/3 = 1.39 M, [InP] = [In]·X·2/3.

Syringes: 2.5 mL, rated 20 bar (paper §3), used as two alternating syringes "to achieve a truly continuous flow".
The refill rate is not given; the default 2.5 mL/min (one syringe volume per minute) is an assumption.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from flowqd.errors import ConfigError, RangeError
from flowqd.materials import get_material
from flowqd.reactor._toml import read_toml, validation_message
from flowqd.reactor.geometry import _positive

__all__ = [
    "Component",
    "Recipe",
    "ShellConcentrations",
    "ShellFeed",
    "Stock",
    "SyringeSpec",
    "SyringeStep",
    "in_feed_mmol_h",
    "load_recipe",
    "max_inp_production_mg_h",
    "paper_recipe",
    "paper_stock",
    "shell_stream_concentrations",
    "stock_consumed_ml",
    "syringe_duration_min",
    "syringe_schedule",
    "syringe_swaps",
]

Role = Literal["indium", "zinc", "phosphorus", "sulfur", "solvent"]
_FROZEN = ConfigDict(extra="forbid", frozen=True)


class Component(BaseModel):
    """One ingredient of the stock, given by mass (solids) or by volume (liquids)."""

    model_config = _FROZEN

    name: str = Field(min_length=1)
    role: Role
    molar_mass_g_mol: float = Field(gt=0)
    density_g_ml: float = Field(gt=0, description="liquid density or crystal density (salt volume)")
    mass_mg: float | None = Field(default=None, gt=0)
    volume_ml: float | None = Field(default=None, gt=0)
    hnet2_per_mol: float = Field(default=0.0, ge=0, description="HNEt2 released per mol on full transamination")
    source: str = ""

    @model_validator(mode="after")
    def _one_amount(self) -> Component:
        if (self.mass_mg is None) == (self.volume_ml is None):
            raise ValueError(f"component {self.name}: give exactly one of mass_mg or volume_ml")
        return self

    @property
    def actual_mass_mg(self) -> float:
        """Mass, mg (from the volume for liquids)."""
        if self.mass_mg is not None:
            return self.mass_mg
        return self._amount(self.volume_ml) * self.density_g_ml * 1e3

    @property
    def actual_volume_ml(self) -> float:
        """Volume contributed to the stock, mL (additive volumes)."""
        if self.volume_ml is not None:
            return self.volume_ml
        return self._amount(self.mass_mg) / (self.density_g_ml * 1e3)

    def _amount(self, value: float | None) -> float:
        """The one given amount (the validator guarantees exactly one of mass and volume)."""
        if value is None:
            raise ConfigError(f"component {self.name}: give exactly one of mass_mg or volume_ml")
        return float(value)

    @property
    def amount_mmol(self) -> float:
        """Amount, mmol."""
        return self.actual_mass_mg / self.molar_mass_g_mol


class Stock(BaseModel):
    """A premixed precursor stock (volumes additive)."""

    model_config = _FROZEN

    name: str = "stock"
    components: tuple[Component, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _needs_indium(self) -> Stock:
        if not any(c.role == "indium" for c in self.components):
            raise ValueError("stock has no component with role 'indium'")
        names = [c.name for c in self.components]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate component {sorted(dup)[0]!r}")
        return self

    @property
    def volume_ml(self) -> float:
        """Total stock volume, mL."""
        return float(sum(c.actual_volume_ml for c in self.components))

    def amount_mmol(self, role: Role) -> float:
        """Total amount of the components with ``role``, mmol."""
        return float(sum(c.amount_mmol for c in self.components if c.role == role))

    def concentration_m(self, role: Role) -> float:
        """Concentration of ``role`` in the stock, mol/L (= mmol/mL).

        >>> round(paper_stock().concentration_m("indium"), 4)
        0.0877
        """
        return self.amount_mmol(role) / self.volume_ml

    @property
    def concentrations_m(self) -> dict[str, float]:
        """{"indium": …, "zinc": …, "phosphorus": …} in mol/L."""
        return {r: self.concentration_m(r) for r in ("indium", "zinc", "phosphorus")}

    @property
    def ratios(self) -> dict[str, float]:
        """Molar ratios In : Zn : P normalised to In = 1."""
        n_in = self.amount_mmol("indium")
        return {r: self.amount_mmol(r) / n_in for r in ("indium", "zinc", "phosphorus")}

    @property
    def max_inp_mg_per_ml(self) -> float:
        """InP per mL of stock at full In conversion, mg/mL (≈ 12.8 for the paper's stock)."""
        return self.concentration_m("indium") * get_material("InP").molar_mass_g_mol

    @property
    def hnet2_mole_fraction_max(self) -> float:
        """Worst-case HNEt2 mole fraction (full transamination, nothing escaped; ≈ 0.26 for the paper's stock)."""
        n_h = sum(c.amount_mmol * c.hnet2_per_mol for c in self.components)
        n_liq = sum(c.amount_mmol for c in self.components if c.role in ("solvent", "phosphorus"))
        return n_h / (n_h + n_liq) if n_h > 0 else 0.0


class ShellFeed(BaseModel):
    """The sulfur stream joining at the T-mixer (neat DDT in the paper)."""

    model_config = _FROZEN

    name: str = "1-dodecanethiol"
    molar_mass_g_mol: float = Field(default=202.40, gt=0)
    density_g_ml: float = Field(default=0.845, gt=0)
    purity: float = Field(default=1.0, gt=0, le=1)

    @property
    def concentration_m(self) -> float:
        """Thiol concentration of the feed, mol/L (neat DDT: 4.17 M)."""
        return self.density_g_ml * self.purity / self.molar_mass_g_mol * 1e3


class SyringeSpec(BaseModel):
    """The syringe pump: volume, pressure rating and refill rate."""

    model_config = _FROZEN

    volume_ml: float = Field(default=2.5, gt=0)
    pressure_limit_bar: float = Field(default=20.0, gt=0)
    refill_ml_min: float = Field(default=2.5, gt=0, description="ASSUMPTION: not given in the paper")


class Recipe(BaseModel):
    """Stock + optional shell feed + syringe: loadable from TOML (``examples/recipe-wang-segets-2023.toml``)."""

    model_config = _FROZEN

    name: str
    source: str = ""
    stock: Stock
    shell_feed: ShellFeed | None = None
    syringe: SyringeSpec = SyringeSpec()


def load_recipe(path: str | Path) -> Recipe:
    """Load a :class:`Recipe` from TOML; any problem is a :class:`ConfigError` naming the file and key."""
    data = read_toml(path)
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_message(exc), source=str(path)) from None


def paper_stock() -> Stock:
    """The Wang & Segets 2023 stock (§2.2), salt volumes from crystal densities (assumption).

    >>> s = paper_stock()
    >>> round(s.volume_ml, 2), {k: round(v, 3) for k, v in s.concentrations_m.items()}
    (45.59, {'indium': 0.088, 'zinc': 0.439, 'phosphorus': 0.352})
    """
    return Stock(name="Wang-Segets 2023 premixed stock", components=(
        Component(name="InCl3", role="indium", mass_mg=884.72, molar_mass_g_mol=221.18, density_g_ml=3.46,
                  source="paper §2.2; density 3.46 g/cm3 (catalogue; CRC Handbook: 4.0)"),
        Component(name="ZnCl2", role="zinc", mass_mg=2725.7, molar_mass_g_mol=136.29, density_g_ml=2.907,
                  source="paper §2.2; density 2.907 g/cm3 (CRC Handbook)"),
        Component(name="oleylamine", role="solvent", volume_ml=40.0, molar_mass_g_mol=267.49, density_g_ml=0.813,
                  source="paper §2.2 (2 x 20 mL); density 0.813 g/mL at 25 °C (catalogue, unverified)"),
        Component(name="P(NEt2)3", role="phosphorus", volume_ml=4.4, molar_mass_g_mol=247.32, density_g_ml=0.903,
                  hnet2_per_mol=3.0, source="paper §2.2 (16 mmol); density 0.903 g/mL (catalogue, unverified)"),
    ))


def paper_recipe() -> Recipe:
    """The paper's stock, neat DDT shell feed and 2.5 mL / 20 bar syringes."""
    return Recipe(name="wang-segets-2023", source="Wang & Segets, React. Chem. Eng. 2023, 8, 316",
                  stock=paper_stock(), shell_feed=ShellFeed(), syringe=SyringeSpec())


def stock_consumed_ml(flow_ml_min: float, duration_min: float) -> float:
    """Stock volume pumped in ``duration_min``, mL.

    >>> stock_consumed_ml(0.1, 60.0)
    6.0
    """
    return _positive(flow_ml_min, "flow_ml_min") * max(0.0, float(duration_min))


def in_feed_mmol_h(stock: Stock, flow_ml_min: float) -> float:
    """Indium fed to the reactor, mmol/h.

    >>> round(in_feed_mmol_h(paper_stock(), 0.1), 3)
    0.526
    """
    return _positive(flow_ml_min, "flow_ml_min") * 60.0 * stock.concentration_m("indium")


def max_inp_production_mg_h(stock: Stock, flow_ml_min: float, conversion: float = 1.0) -> float:
    """InP production at In conversion ``conversion`` (default full), mg/h (P = 767·Q at X = 1).

    >>> round(max_inp_production_mg_h(paper_stock(), 0.1), 1)
    76.7
    """
    if not 0.0 <= conversion <= 1.0:
        raise RangeError(f"conversion {conversion!r} outside 0-1")
    return _positive(flow_ml_min, "flow_ml_min") * 60.0 * stock.max_inp_mg_per_ml * conversion


class ShellConcentrations(NamedTuple):
    """Concentrations after the DDT T-mixer (mol/L) and the core-stream volume fraction."""

    zinc_m: float
    thiol_m: float
    inp_m: float
    core_fraction: float

    @property
    def s_to_zn(self) -> float:
        """Thiol-to-zinc molar ratio (> 1: Zn limits)."""
        return self.thiol_m / self.zinc_m


def shell_stream_concentrations(stock: Stock, core_flow_ml_min: float, shell_flow_ml_min: float, *,
                                core_conversion: float = 1.0, feed: ShellFeed | None = None) -> ShellConcentrations:
    """Zn, thiol and InP concentrations after the T-mixer (volume-weighted mixing); InP from ``core_conversion`` of In.

    >>> c = shell_stream_concentrations(paper_stock(), 0.06, 0.03, core_conversion=0.74)
    >>> round(c.zinc_m, 3), round(c.thiol_m, 2), round(c.inp_m, 4)
    (0.292, 1.39, 0.0433)
    """
    q_core = _positive(core_flow_ml_min, "core_flow_ml_min")
    q_shell = _positive(shell_flow_ml_min, "shell_flow_ml_min")
    if not 0.0 <= core_conversion <= 1.0:
        raise RangeError(f"core_conversion {core_conversion!r} outside 0-1")
    feed = feed or ShellFeed()
    phi = q_core / (q_core + q_shell)
    return ShellConcentrations(zinc_m=stock.concentration_m("zinc") * phi,
                               thiol_m=feed.concentration_m * (1.0 - phi),
                               inp_m=stock.concentration_m("indium") * core_conversion * phi,
                               core_fraction=phi)


def syringe_duration_min(flow_ml_min: float, syringe_ml: float = 2.5) -> float:
    """Time one syringe lasts at ``flow_ml_min``, min (2.5 mL: 83.3 min at 0.03, 1.67 min at 1.5 mL/min).

    >>> round(syringe_duration_min(0.03), 1), round(syringe_duration_min(1.5), 2)
    (83.3, 1.67)
    """
    return _positive(syringe_ml, "syringe_ml") / _positive(flow_ml_min, "flow_ml_min")


class SyringeStep(NamedTuple):
    """One step of the alternating two-syringe schedule (times in min from the start)."""

    start_min: float
    end_min: float
    syringe: Literal["A", "B"]
    action: Literal["fill", "dispense"]


def syringe_schedule(flow_ml_min: float, duration_min: float, syringe_ml: float = 2.5,
                     refill_ml_min: float = 2.5) -> list[SyringeStep]:
    """Alternating A/B schedule for continuous flow over ``duration_min``.

    A is primed (full) at t = 0 and dispenses; B fills meanwhile. When the dispensing syringe is empty the other
    one takes over without a gap and the empty one refills. The dispense steps tile [0, duration] exactly.

    Raises
    ------
    RangeError
        If refilling is not faster than dispensing (``refill_ml_min <= flow_ml_min``): continuous flow is then
        impossible with two syringes.

    >>> syringe_schedule(1.0, 4.0)
    [SyringeStep(start_min=0.0, end_min=2.5, syringe='A', action='dispense'), \
SyringeStep(start_min=0.0, end_min=1.0, syringe='B', action='fill'), \
SyringeStep(start_min=2.5, end_min=4.0, syringe='B', action='dispense')]
    """
    q = _positive(flow_ml_min, "flow_ml_min")
    total = _positive(duration_min, "duration_min")
    vol = _positive(syringe_ml, "syringe_ml")
    refill = _positive(refill_ml_min, "refill_ml_min")
    if refill <= q:
        raise RangeError(f"syringe refill {refill:g} mL/min is not faster than the dispense flow {q:g} mL/min: "
                         "continuous flow with two syringes is impossible")
    dispense, fill = vol / q, vol / refill
    n = math.ceil(total / dispense - 1e-12)
    if n > 100_000:
        raise RangeError(f"syringe schedule would need {n} swaps (> 100000); shorten duration_min")
    steps: list[SyringeStep] = []
    for k in range(n):
        start = k * dispense
        end = min((k + 1) * dispense, total)
        active: Literal["A", "B"] = "A" if k % 2 == 0 else "B"
        other: Literal["A", "B"] = "B" if active == "A" else "A"
        steps.append(SyringeStep(start, end, active, "dispense"))
        if k < n - 1:
            # The idle syringe (B at t = 0, later the one just emptied) refills for the next step.
            steps.append(SyringeStep(start, start + fill, other, "fill"))
    return steps


def syringe_swaps(flow_ml_min: float, duration_min: float, syringe_ml: float = 2.5) -> int:
    """Number of A↔B switch-overs during ``duration_min``.

    >>> syringe_swaps(0.1, 60.0)
    2
    """
    n = math.ceil(_positive(duration_min, "duration_min") / syringe_duration_min(flow_ml_min, syringe_ml) - 1e-12)
    return max(0, n - 1)
