"""Reactor-train configuration in TOML (pydantic v2 models, ``extra="forbid"``).

Layout (see ``examples/reactor-wang-segets-2023.toml``)::

    name = "wang-segets-2023"
    sequence = ["HB1", "ddt-tee", "HB2"]      # flow order, names of the sections below

    [[heating_box]]
    name = "HB1"
    max_temperature_c = 350.0
    units_in_use = ["HB1-1"]                 # optional; default: all units, in order
    temperature_c = 200.0                    # optional default set point
      [[heating_box.units]]
      name = "HB1-1"
      inner_diameter_mm = 0.9975
      length_m = 4.6
      coil_diameter_mm = 30.0                # optional (straight tube if absent)

    [[line]]                                 # optional unheated lines
    [[mixer]]                                # T-mixers: name, stream, volume_ml

:class:`TrainConfig` is importable so a larger platform file can embed the same table (``[reactor]``) and call
:func:`train_from_mapping`. Every problem is a :class:`~flowqd.errors.ConfigError` naming the file, key and value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flowqd import _toml
from flowqd.errors import ConfigError, FlowqdError
from flowqd.reactor.geometry import (
    BoxStage,
    HeatingBox,
    HeatingUnit,
    Line,
    MixingPoint,
    ReactorTrain,
    Section,
    Tube,
)

__all__ = [
    "HeatingBoxConfig",
    "LineConfig",
    "MixerConfig",
    "TrainConfig",
    "UnitConfig",
    "load_train",
    "train_from_mapping",
]

#: Unknown keys are errors; values type-strict (``true`` is not a length) and finite; TOML lists become tuples
#: only where a field is a tuple.
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class _TubeConfig(BaseModel):
    """A named 1/16" tube: what heating units and unheated lines share."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=100)
    inner_diameter_mm: float = Field(gt=0, le=50)
    length_m: float = Field(gt=0, le=1000)
    coil_diameter_mm: float | None = Field(default=None, gt=0, le=10_000)

    def tube(self) -> Tube:
        """The geometry object of the tube."""
        return Tube(self.inner_diameter_mm, self.length_m, self.coil_diameter_mm)


class UnitConfig(_TubeConfig):
    """One heating unit's coil."""

    max_temperature_c: float | None = Field(default=None, gt=0, le=1000, description="defaults to the box's limit")


class HeatingBoxConfig(BaseModel):
    """A heating box: its units, limit, which units are switched in and an optional default set point."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=100)
    max_temperature_c: float = Field(gt=0, le=1000)
    units: tuple[UnitConfig, ...] = Field(min_length=1, max_length=100, strict=False)
    units_in_use: tuple[str, ...] | None = Field(default=None, strict=False)
    temperature_c: float | None = Field(default=None, ge=0, le=1000)

    @model_validator(mode="after")
    def _check(self) -> HeatingBoxConfig:
        names = [u.name for u in self.units]
        for n in self.units_in_use or ():
            if n not in names:
                raise ValueError(f"heating box {self.name}: units_in_use names unknown unit {n!r} "
                                 f"(has {', '.join(names)})")
        for u in self.units:
            if u.max_temperature_c is not None and u.max_temperature_c > self.max_temperature_c:
                raise ValueError(f"heating box {self.name}: unit {u.name} max_temperature_c "
                                 f"{u.max_temperature_c:g} above the box limit {self.max_temperature_c:g} °C")
        if self.temperature_c is not None and self.temperature_c > self.max_temperature_c:
            raise ValueError(f"heating box {self.name}: temperature_c {self.temperature_c:g} above "
                             f"max_temperature_c {self.max_temperature_c:g} °C")
        return self

    def to_stage(self) -> BoxStage:
        """The geometry object."""
        units = tuple(HeatingUnit(u.name, u.tube(),
                                  u.max_temperature_c if u.max_temperature_c is not None else self.max_temperature_c)
                      for u in self.units)
        box = HeatingBox(self.name, units, self.max_temperature_c)
        in_use = self.units_in_use if self.units_in_use is not None else box.unit_names
        return BoxStage(box, in_use, self.temperature_c)


class LineConfig(_TubeConfig):
    """An unheated line."""

    temperature_c: float = Field(default=25.0, ge=0, le=350)

    def to_line(self) -> Line:
        """The geometry object."""
        return Line(self.name, self.tube(), self.temperature_c)


class MixerConfig(BaseModel):
    """A T-mixer where a side stream joins."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=100)
    stream: str = Field(min_length=1, max_length=100)
    volume_ml: float = Field(default=0.0, ge=0, le=1000)

    def to_mixer(self) -> MixingPoint:
        """The geometry object."""
        return MixingPoint(self.name, self.stream, self.volume_ml)


class TrainConfig(BaseModel):
    """A reactor train: named sections and their flow order."""

    model_config = _STRICT

    name: str = Field(default="reactor", max_length=200)
    sequence: tuple[str, ...] = Field(min_length=1, max_length=100, strict=False)
    heating_box: tuple[HeatingBoxConfig, ...] = Field(default=(), max_length=100, strict=False)
    line: tuple[LineConfig, ...] = Field(default=(), max_length=100, strict=False)
    mixer: tuple[MixerConfig, ...] = Field(default=(), max_length=100, strict=False)

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        names = [s.name for s in (*self.heating_box, *self.line, *self.mixer)]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate section name {sorted(dup)[0]!r}")
        for n in self.sequence:
            if n not in names:
                raise ValueError(f"sequence names unknown section {n!r} (defined: {', '.join(names) or 'none'})")
        if len(set(self.sequence)) != len(self.sequence):
            raise ValueError("sequence lists a section twice")
        return self

    def to_train(self) -> ReactorTrain:
        """Build the :class:`~flowqd.reactor.geometry.ReactorTrain`."""
        by_name: dict[str, Section] = {}
        for b in self.heating_box:
            by_name[b.name] = b.to_stage()
        for ln in self.line:
            by_name[ln.name] = ln.to_line()
        for m in self.mixer:
            by_name[m.name] = m.to_mixer()
        return ReactorTrain(self.name, tuple(by_name[n] for n in self.sequence))


def train_from_mapping(data: Mapping[str, Any], *, source: str = "<reactor table>") -> ReactorTrain:
    """Validate a parsed TOML table (e.g. the ``[reactor]`` table of a platform file) into a train."""
    cfg = _toml.validate(TrainConfig, dict(data), source=source)
    try:
        return cfg.to_train()
    except FlowqdError as exc:
        raise ConfigError(str(exc), source=source) from None


def load_train(path: str | Path, *, table: str | None = None) -> ReactorTrain:
    """Load a reactor train from a TOML file (optionally from its sub-table ``table``)."""
    data = _toml.read_toml(path)
    if table is not None:
        if not isinstance(data.get(table), dict):
            raise ConfigError(f"no [{table}] table", source=str(path))
        data = data[table]
    return train_from_mapping(data, source=str(path))
