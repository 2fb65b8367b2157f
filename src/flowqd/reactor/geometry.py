"""Reactor geometry: tubes, heating units and boxes, and the ordered reactor train.

The paper's platform (Wang & Segets, React. Chem. Eng. 2023, 8, 316, §3): two stainless-steel heating boxes HB1
(≤ 350 °C, nucleation/growth) and HB2 (≤ 220 °C, shell), each with three identical heating units; each unit is a
1/16" OD coil of ID 0.9975 mm and stretched length ≈ 4.6 m (≈ 3.595 mL), wrapped on an aluminium rod. The
reactor is "length-wise adjustable": a run switches a subset of the units of a box in series. A second stream
(DDT) joins at a T-mixer between HB1 and HB2.

Assumptions (flagged; see ``docs/design.md`` §6):

- **Coil diameter** is not given in the paper. :data:`PAPER_COIL_DIAMETER_MM` = 30 mm (tube wrapped on an Al rod of
  a few cm; 20-60 mm is the plausible range). It enters only the Dean number (RTD Dean reduction, White correction).
- **Units in use.** The paper's τ = 12-72 min at 0.3-0.05 mL/min equals ONE unit (3.595/0.3 = 12.0, 3.595/0.05 =
  71.9 min; three units would give 36-216 min), so :func:`paper_train` switches in one unit of HB1 by default. The
  number of HB2 units in the shell run is not stated; one is assumed.
- Unheated lines (inlet, transfer) are not described in the paper; :func:`paper_train` has none unless asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from flowqd.errors import ConfigError, RangeError

__all__ = [
    "PAPER_COIL_DIAMETER_MM",
    "PAPER_INNER_DIAMETER_MM",
    "PAPER_UNIT_LENGTH_M",
    "PUMP_RANGE_ML_MIN",
    "BoxStage",
    "HeatingBox",
    "HeatingUnit",
    "Line",
    "MixingPoint",
    "ReactorTrain",
    "Segment",
    "Tube",
    "check_flow_ml_min",
    "paper_train",
]

#: Inner diameter of the paper's 1/16" OD coils, mm (paper §3).
PAPER_INNER_DIAMETER_MM: float = 0.9975
#: Stretched length of one heating-unit coil, m (paper §3: "approx. 4.6 m").
PAPER_UNIT_LENGTH_M: float = 4.6
#: ASSUMPTION: coil (helix) diameter, mm; not reported in the paper.
PAPER_COIL_DIAMETER_MM: float = 30.0
#: Syringe-pump flow range, mL/min, that the paper quotes (1.5 mL/min -> 2.4 min, 0.03 mL/min -> 120 min per unit).
PUMP_RANGE_ML_MIN: tuple[float, float] = (0.03, 1.5)


def _positive(value: float, what: str) -> float:
    v = float(value)
    if not (np.isfinite(v) and v > 0):
        raise RangeError(f"{what} must be > 0, got {value!r}")
    return v


def check_flow_ml_min(flow_ml_min: float, what: str = "flow",
                      pump_range_ml_min: tuple[float, float] = PUMP_RANGE_ML_MIN) -> float:
    """Return ``flow_ml_min`` or raise :class:`RangeError` if outside the pump range (default: the paper's).

    >>> check_flow_ml_min(0.1)
    0.1
    """
    lo, hi = pump_range_ml_min
    q = float(flow_ml_min)
    if not (np.isfinite(q) and lo <= q <= hi):
        raise RangeError(f"{what} {flow_ml_min!r} mL/min outside the pump range {lo:g}-{hi:g} mL/min")
    return q


@dataclass(frozen=True)
class Tube:
    """A circular tube, straight (``coil_diameter_mm=None``) or coiled.

    >>> t = Tube(0.9975, 4.6, 30.0)
    >>> round(t.volume_ml, 3), round(t.cross_section_m2 * 1e7, 3)
    (3.595, 7.815)
    """

    inner_diameter_mm: float
    length_m: float
    coil_diameter_mm: float | None = None

    def __post_init__(self) -> None:
        _positive(self.inner_diameter_mm, "tube inner_diameter_mm")
        _positive(self.length_m, "tube length_m")
        if self.coil_diameter_mm is not None:
            _positive(self.coil_diameter_mm, "tube coil_diameter_mm")
            if self.coil_diameter_mm <= self.inner_diameter_mm:
                raise RangeError(f"tube coil_diameter_mm {self.coil_diameter_mm!r} must exceed the inner "
                                 f"diameter {self.inner_diameter_mm!r} mm")

    @property
    def cross_section_m2(self) -> float:
        """Flow cross-section π d²/4, m²."""
        return float(np.pi / 4.0 * (self.inner_diameter_mm * 1e-3) ** 2)

    @property
    def volume_ml(self) -> float:
        """Internal volume, mL."""
        return self.cross_section_m2 * self.length_m * 1e6

    @property
    def radius_m(self) -> float:
        """Inner radius, m."""
        return self.inner_diameter_mm * 0.5e-3


@dataclass(frozen=True)
class HeatingUnit:
    """One heating unit: a coiled tube on a heated aluminium block."""

    name: str
    tube: Tube
    max_temperature_c: float

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("heating unit name must not be empty")
        _positive(self.max_temperature_c, f"heating unit {self.name}: max_temperature_c")


@dataclass(frozen=True)
class HeatingBox:
    """A heating box holding several units (any subset can be switched in, in series)."""

    name: str
    units: tuple[HeatingUnit, ...]
    max_temperature_c: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", tuple(self.units))
        if not self.units:
            raise ConfigError(f"heating box {self.name}: needs at least one unit")
        names = [u.name for u in self.units]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ConfigError(f"heating box {self.name}: duplicate unit name {sorted(dup)[0]!r}")
        _positive(self.max_temperature_c, f"heating box {self.name}: max_temperature_c")

    @property
    def unit_names(self) -> tuple[str, ...]:
        """Names of the units, in order."""
        return tuple(u.name for u in self.units)

    def unit(self, name: str) -> HeatingUnit:
        """The unit called ``name``; :class:`ConfigError` if there is none."""
        for u in self.units:
            if u.name == name:
                return u
        raise ConfigError(f"heating box {self.name}: unknown unit {name!r} (has {', '.join(self.unit_names)})")


@dataclass(frozen=True)
class Line:
    """An unheated (or externally tempered) line at a fixed temperature."""

    name: str
    tube: Tube
    temperature_c: float = 25.0


@dataclass(frozen=True)
class BoxStage:
    """A heating box in the train with the units switched in (in series) and an optional default set point."""

    box: HeatingBox
    units_in_use: tuple[str, ...]
    temperature_c: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "units_in_use", tuple(self.units_in_use))
        if not self.units_in_use:
            raise ConfigError(f"heating box {self.box.name}: no units switched in")
        for n in self.units_in_use:
            self.box.unit(n)
        if len(set(self.units_in_use)) != len(self.units_in_use):
            raise ConfigError(f"heating box {self.box.name}: a unit is switched in twice in {self.units_in_use}")
        if self.temperature_c is not None:
            self.check_temperature(self.temperature_c)

    @property
    def name(self) -> str:
        """The box's name."""
        return self.box.name

    @property
    def tubes(self) -> tuple[Tube, ...]:
        """Tubes of the units in use, in flow order."""
        return tuple(self.box.unit(n).tube for n in self.units_in_use)

    @property
    def max_temperature_c(self) -> float:
        """The set-point limit: the lowest of the box's and its units-in-use limits, °C."""
        return min([self.box.max_temperature_c] + [self.box.unit(n).max_temperature_c for n in self.units_in_use])

    def check_temperature(self, temperature_c: float) -> float:
        """Return ``temperature_c`` or raise :class:`RangeError` if above the box's or a used unit's limit."""
        t = float(temperature_c)
        limit = self.max_temperature_c
        if not (np.isfinite(t) and t <= limit):
            raise RangeError(f"heating box {self.box.name}: temperature {temperature_c!r} °C above its limit "
                             f"{limit:g} °C")
        return t


@dataclass(frozen=True)
class MixingPoint:
    """A T-mixer where a second stream (``stream``, e.g. ``"ddt"``) joins the main flow."""

    name: str
    stream: str
    volume_ml: float = 0.0


Section = Line | BoxStage | MixingPoint


@dataclass(frozen=True)
class Segment:
    """A section resolved at an operating point (what hydraulics, RTD and heat-up work on).

    ``stream_fractions`` are the volume fractions of each feed stream in the section (``{"stock": 1.0}`` before
    the DDT mixer, ``{"stock": 2/3, "ddt": 1/3}`` after it at 0.06 + 0.03 mL/min).
    """

    name: str
    kind: str
    tubes: tuple[Tube, ...]
    flow_ml_min: float
    temperature_c: float
    stream_fractions: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({"stock": 1.0}))

    @property
    def volume_ml(self) -> float:
        """Internal volume, mL (sum over tubes)."""
        return float(sum(t.volume_ml for t in self.tubes))

    @property
    def length_m(self) -> float:
        """Total tube length, m."""
        return float(sum(t.length_m for t in self.tubes))

    @property
    def residence_time_min(self) -> float:
        """Mean residence time V/Q, min."""
        return self.volume_ml / self.flow_ml_min if self.tubes else 0.0


@dataclass(frozen=True)
class ReactorTrain:
    """Ordered sections from the stock syringe to the outlet."""

    name: str
    sections: tuple[Section, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "sections", tuple(self.sections))
        if not self.sections:
            raise ConfigError(f"reactor train {self.name}: has no sections")
        names = [s.name for s in self.sections]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ConfigError(f"reactor train {self.name}: duplicate section name {sorted(dup)[0]!r}")

    @property
    def section_names(self) -> tuple[str, ...]:
        """Section names in flow order."""
        return tuple(s.name for s in self.sections)

    def section(self, name: str) -> Section:
        """The section called ``name``; :class:`ConfigError` if unknown."""
        for s in self.sections:
            if s.name == name:
                return s
        raise ConfigError(f"reactor train {self.name}: unknown section {name!r} "
                          f"(has {', '.join(self.section_names)})")

    @property
    def boxes(self) -> tuple[BoxStage, ...]:
        """The heating-box stages in flow order."""
        return tuple(s for s in self.sections if isinstance(s, BoxStage))

    def with_units(self, box_name: str, units: int | Sequence[str]) -> ReactorTrain:
        """A copy with another set of units of ``box_name`` switched in (an int n = its first n units)."""
        stage = self.section(box_name)
        if not isinstance(stage, BoxStage):
            raise ConfigError(f"reactor train {self.name}: section {box_name!r} is not a heating box")
        if isinstance(units, int | np.integer):
            n = int(units)
            if not 1 <= n <= len(stage.box.units):
                raise RangeError(f"heating box {box_name}: units {n} outside 1-{len(stage.box.units)}")
            names: tuple[str, ...] = stage.box.unit_names[:n]
        else:
            names = tuple(units)
        new = replace(stage, units_in_use=names)
        return replace(self, sections=tuple(new if s is stage else s for s in self.sections))

    def until(self, name: str) -> ReactorTrain:
        """The train up to and including section ``name`` (e.g. the core part ending at HB1)."""
        self.section(name)
        idx = self.section_names.index(name)
        return replace(self, sections=self.sections[: idx + 1])

    def volume_ml(self) -> float:
        """Total internal volume of lines and units in use, mL (mixer volumes included)."""
        total = 0.0
        for s in self.sections:
            if isinstance(s, MixingPoint):
                total += s.volume_ml
            elif isinstance(s, Line):
                total += s.tube.volume_ml
            else:
                total += sum(t.volume_ml for t in s.tubes)
        return total

    def resolve(self, flow_ml_min: float, temperatures_c: Mapping[str, float] | None = None,
                side_flows_ml_min: Mapping[str, float] | None = None, *,
                pump_range_ml_min: tuple[float, float] = PUMP_RANGE_ML_MIN) -> tuple[Segment, ...]:
        """Resolve the train at an operating point.

        Parameters
        ----------
        flow_ml_min : float
            Main (stock) pump flow, mL/min, checked against ``pump_range_ml_min``.
        temperatures_c : mapping, optional
            Set point per heating-box name; a box without one uses its default ``temperature_c``.
        side_flows_ml_min : mapping, optional
            Flow of each side stream, keyed by the mixer's ``stream`` (e.g. ``{"ddt": 0.03}``).

        Raises
        ------
        RangeError
            Flow outside the pump range, set point above a box limit.
        ConfigError
            Unknown box name in ``temperatures_c``, missing set point or side-stream flow.
        """
        temps = dict(temperatures_c or {})
        sides = dict(side_flows_ml_min or {})
        box_names = {b.name for b in self.boxes}
        for key in temps:
            if key not in box_names:
                raise ConfigError(f"reactor train {self.name}: no heating box {key!r} to set a temperature for "
                                  f"(has {', '.join(sorted(box_names)) or 'none'})")
        streams = {s.stream for s in self.sections if isinstance(s, MixingPoint)}
        for key in sides:
            if key not in streams:
                raise ConfigError(f"reactor train {self.name}: no mixer takes stream {key!r}")
        flows = {"stock": check_flow_ml_min(flow_ml_min, "stock flow", pump_range_ml_min)}
        out: list[Segment] = []
        for s in self.sections:
            total = sum(flows.values())
            fractions = MappingProxyType({k: v / total for k, v in flows.items()})
            if isinstance(s, Line):
                out.append(Segment(s.name, "line", (s.tube,), total, float(s.temperature_c), fractions))
            elif isinstance(s, BoxStage):
                t = temps.get(s.name, s.temperature_c)
                if t is None:
                    raise ConfigError(f"heating box {s.name}: no temperature set point given")
                out.append(Segment(s.name, "box", s.tubes, total, s.check_temperature(t), fractions))
            else:
                if s.stream not in sides:
                    raise ConfigError(f"mixer {s.name}: no flow given for stream {s.stream!r}")
                flows[s.stream] = flows.get(s.stream, 0.0) + check_flow_ml_min(
                    sides[s.stream], f"{s.stream} flow", pump_range_ml_min)
                total = sum(flows.values())
                fractions = MappingProxyType({k: v / total for k, v in flows.items()})
                out.append(Segment(s.name, "mixer", (), total, float("nan"), fractions))
        return tuple(out)


def _paper_box(name: str, max_temperature_c: float, coil_diameter_mm: float) -> HeatingBox:
    tube = Tube(PAPER_INNER_DIAMETER_MM, PAPER_UNIT_LENGTH_M, coil_diameter_mm)
    units = tuple(HeatingUnit(f"{name}-{i}", tube, max_temperature_c) for i in (1, 2, 3))
    return HeatingBox(name, units, max_temperature_c)


def paper_train(*, core_units: int = 1, shell: bool = True, shell_units: int = 1,
                coil_diameter_mm: float = PAPER_COIL_DIAMETER_MM,
                inlet_line_m: float | None = None, line_inner_diameter_mm: float = PAPER_INNER_DIAMETER_MM,
                core_temperature_c: float | None = None, shell_temperature_c: float | None = None) -> ReactorTrain:
    """The Wang & Segets 2023 train: [inlet line] → HB1 → DDT T-mixer → HB2.

    Defaults: ONE unit of HB1 (inferred from τ = 12-72 min at 0.3-0.05 mL/min), one unit of HB2 (not stated),
    30 mm coil diameter (assumed), no unheated lines (not described).

    >>> train = paper_train()
    >>> train.section_names
    ('HB1', 'ddt-tee', 'HB2')
    >>> round(paper_train(shell=False).volume_ml(), 3)
    3.595
    """
    box1 = _paper_box("HB1", 350.0, coil_diameter_mm)
    box2 = _paper_box("HB2", 220.0, coil_diameter_mm)
    for label, n, box in (("core_units", core_units, box1), ("shell_units", shell_units, box2)):
        if not 1 <= int(n) <= len(box.units):
            raise RangeError(f"paper_train: {label} {n!r} outside 1-{len(box.units)}")
    sections: list[Section] = []
    if inlet_line_m is not None:
        sections.append(Line("inlet", Tube(line_inner_diameter_mm, inlet_line_m), 25.0))
    hb1 = BoxStage(box1, box1.unit_names[:core_units], core_temperature_c)
    sections.append(hb1)
    if shell:
        sections.append(MixingPoint("ddt-tee", "ddt"))
        sections.append(BoxStage(box2, box2.unit_names[:shell_units], shell_temperature_c))
    return ReactorTrain("wang-segets-2023", tuple(sections))
