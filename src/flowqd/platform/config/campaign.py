"""The campaign file: a ``[[conditions]]`` list and/or a ``[sweep]`` grid, with ``[defaults]`` applied to each.

A condition is a flat table: the set points of :class:`flowqd.reactor.conditions.Conditions` (its fields, less
``inlet_line_m``: a platform's inlet line is part of its reactor train) and the campaign's own keys ``label``,
``n_spectra`` and ``collect_volume_ml``. It validates into a :class:`CampaignCondition` that *holds* a Conditions,
so a set point has one type and one validation (HB1 ≤ 350 °C, HB2 ≤ 220 °C, pump 0.03–1.5 mL/min, 1–3 units);
:func:`check_campaign` then checks it against one platform's devices and reactor.
"""

from __future__ import annotations

import dataclasses
import itertools
import typing
from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, create_model, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from flowqd.errors import FlowqdError
from flowqd.platform.config._base import STRICT as _STRICT
from flowqd.platform.config._base import FromToml
from flowqd.platform.config.hardware import HeaterConfig, PlatformConfig
from flowqd.reactor.conditions import Conditions
from flowqd.reactor.geometry import BoxStage

__all__ = ["MAX_CONDITIONS", "MAX_SWEEP_AXIS", "CampaignCondition", "CampaignConfig", "ConditionDefaults",
           "RangeSpec", "SweepConfig", "check_campaign"]

#: Most conditions one campaign may hold (a ``[sweep]`` grid is counted before it is built).
MAX_CONDITIONS = 5000
#: Most values along one ``[sweep]`` axis.
MAX_SWEEP_AXIS = 1000
#: The set-point keys of a condition: the fields of :class:`Conditions` a campaign sets.
SETPOINT_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Conditions) if f.name != "inlet_line_m")


def _setpoint_fields(optional: bool) -> dict[str, Any]:
    """pydantic field definitions of the set-point keys, typed from :class:`Conditions` (strict types only: the
    ranges are Conditions' own validation)."""
    hints = typing.get_type_hints(Conditions)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(Conditions):
        if f.name in SETPOINT_KEYS:
            default = None if optional else (... if f.default is dataclasses.MISSING else f.default)
            out[f.name] = (hints[f.name] | None if optional else hints[f.name], default)
    return out


#: The types of a condition's set-point keys (unknown keys, ``"350"`` for a number, ``nan`` are errors here).
_SetPoints = create_model("SetPoints", __config__=_STRICT, **_setpoint_fields(optional=False))


class CampaignCondition(BaseModel):
    """One steady-state condition of a campaign: a :class:`Conditions` set point and what the campaign does there.

    >>> c = CampaignCondition.model_validate({"core_temperature_c": 200.0, "core_flow_ml_min": 0.1})
    >>> c.label, c.conditions.core_units, c.n_spectra
    ('200 °C · 0.1 mL/min', 1, 3)
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False,
                              arbitrary_types_allowed=True)

    label: str = Field(default="", max_length=200)
    conditions: Conditions
    n_spectra: int = Field(default=3, ge=1, le=1000)
    collect_volume_ml: float = Field(default=0.0, ge=0, le=10_000)

    @classmethod
    def toml_keys(cls) -> list[str]:
        """The keys of a ``[[conditions]]`` table (the set points are flat, beside the campaign's keys)."""
        return [k for k in cls.model_fields if k != "conditions"] + list(SETPOINT_KEYS)

    @model_validator(mode="before")
    @classmethod
    def _from_table(cls, data: Any) -> Any:
        """The flat TOML table → ``label``, ``n_spectra``, ``collect_volume_ml`` and one :class:`Conditions`."""
        if not isinstance(data, Mapping) or isinstance(data.get("conditions"), Conditions):
            return data
        own = {k: v for k, v in data.items() if k in cls.model_fields and k != "conditions"}
        given = {k: v for k, v in data.items() if k not in own}  # set points, and unknown keys to report
        if given.get("shell") is True and not {"shell_temperature_c", "ddt_flow_ml_min"} <= set(given):
            raise ValueError("a shell condition needs shell_temperature_c and ddt_flow_ml_min")
        setpoints = _SetPoints.model_validate(given)  # its errors keep their keys (conditions[2].core_flow_ml_min)
        try:
            own["conditions"] = Conditions(**setpoints.model_dump())
        except FlowqdError as exc:  # Conditions' own range check, reported at the key at fault
            key = _culprit(given)
            if key is None:
                raise ValueError(str(exc)) from None
            error = PydanticCustomError("set_point", "{reason}", {"reason": str(exc)})
            raise ValidationError.from_exception_data(
                cls.__name__, [InitErrorDetails(type=error, loc=(key,), input=given[key])]) from None
        if not own.get("label"):
            own["label"] = _label(own["conditions"])
        return own

    def setpoints(self) -> dict[str, Any]:
        """Set points as the recorder's ``start_condition`` keywords (shell keys ``None`` without a shell)."""
        c = self.conditions
        return {"core_temperature_c": c.core_temperature_c, "core_flow_ml_min": c.core_flow_ml_min,
                "core_units": c.core_units, "shell": c.shell,
                "shell_temperature_c": c.shell_temperature_c if c.shell else None,
                "ddt_flow_ml_min": c.ddt_flow_ml_min if c.shell else None, "n_spectra": self.n_spectra,
                "label": self.label}


def _culprit(given: Mapping[str, Any]) -> str | None:
    """The set-point key whose value :class:`Conditions` refuses on its own (beside a valid reference point)."""
    probe: dict[str, Any] = {"core_temperature_c": 200.0, "core_flow_ml_min": 0.1, "shell": given.get("shell") is True,
                             "shell_temperature_c": 200.0, "ddt_flow_ml_min": 0.03}
    for key, value in given.items():
        try:
            Conditions(**{**probe, key: value})
        except FlowqdError:
            return key
    return None


def _label(c: Conditions) -> str:
    """Sweep points and unlabelled conditions get their set points as label: ``"200 °C · 0.1 mL/min"``."""
    label = f"{c.core_temperature_c:g} °C · {c.core_flow_ml_min:g} mL/min"
    if c.core_units != 1:
        label += f" · {c.core_units} units"
    if c.shell:
        label += f" + shell {c.shell_temperature_c:g} °C · DDT {c.ddt_flow_ml_min:g} mL/min"
    return label


#: ``[defaults]`` keys and types (any condition key but ``label``), each optional.
_DefaultValues = create_model("DefaultValues", __config__=_STRICT, **_setpoint_fields(optional=True),
                              n_spectra=(int | None, None), collect_volume_ml=(float | None, None))


class ConditionDefaults(BaseModel):
    """``[defaults]``: any condition key but ``label``, applied where a condition does not set it (the values are
    checked in each condition)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    @classmethod
    def toml_keys(cls) -> list[str]:
        """The keys ``[defaults]`` may hold."""
        return list(_DefaultValues.model_fields)

    @model_validator(mode="before")
    @classmethod
    def _keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            _DefaultValues.model_validate(data)  # unknown keys and wrong types, named
        return data

    def values(self) -> dict[str, Any]:
        """The defaults given."""
        return dict(self.model_extra or {})


class RangeSpec(BaseModel):
    """``{start, stop, num}``: ``num`` evenly spaced values including both ends."""

    model_config = _STRICT

    start: float
    stop: float
    num: int = Field(ge=1, le=MAX_SWEEP_AXIS)

    def values(self) -> list[float]:
        """The values."""
        return [float(v) for v in np.linspace(self.start, self.stop, self.num)]


_AxisValues = Annotated[list[float], Field(min_length=1, max_length=MAX_SWEEP_AXIS)]


class SweepConfig(BaseModel):
    """``[sweep]``: a grid (Cartesian product, first key outermost) of listed values or ranges."""

    model_config = _STRICT

    core_temperature_c: _AxisValues | RangeSpec | None = None
    core_flow_ml_min: _AxisValues | RangeSpec | None = None
    shell_temperature_c: _AxisValues | RangeSpec | None = None
    ddt_flow_ml_min: _AxisValues | RangeSpec | None = None

    def size(self) -> int:
        """Number of grid points (without building the grid)."""
        n, any_axis = 1, False
        for name in type(self).model_fields:
            spec = getattr(self, name)
            if spec is not None:
                any_axis = True
                n *= spec.num if isinstance(spec, RangeSpec) else len(spec)
        return n if any_axis else 0

    def grid(self) -> list[dict[str, float]]:
        """The grid points as condition dicts."""
        axes = []
        for name in type(self).model_fields:
            spec = getattr(self, name)
            if spec is None:
                continue
            values = spec.values() if isinstance(spec, RangeSpec) else [float(v) for v in spec]
            axes.append([(name, v) for v in values])
        return [dict(point) for point in itertools.product(*axes)] if axes else []


class CampaignConfig(FromToml):
    """A campaign file."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    defaults: ConditionDefaults = ConditionDefaults()
    conditions: tuple[CampaignCondition, ...] = Field(default=(), strict=False, max_length=MAX_CONDITIONS)
    sweep: SweepConfig | None = None

    _source: str = PrivateAttr("<campaign>")

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict):
            return data
        d = {k: v for k, v in defaults.items() if v is not None and k in _DefaultValues.model_fields}
        conds = data.get("conditions", [])
        if isinstance(conds, list):
            data["conditions"] = [{**d, **c} if isinstance(c, dict) else c for c in conds]
        sweep = data.get("sweep")
        if isinstance(sweep, dict):
            try:
                spec = SweepConfig.model_validate(sweep)
            except ValidationError:
                return data  # reported by the normal validation of ``sweep``
            n_listed = len(conds) if isinstance(conds, list) else 0
            if spec.size() + n_listed > MAX_CONDITIONS:
                raise ValueError(f"the sweep has {spec.size()} conditions (+ {n_listed} listed): at most "
                                 f"{MAX_CONDITIONS} per campaign")
            grid = spec.grid()
            data["conditions"] = [*data.get("conditions", []), *({**d, **p} for p in grid)]
        return data

    @model_validator(mode="after")
    def _nonempty(self) -> CampaignConfig:
        if not self.conditions:
            raise ValueError("the campaign has no conditions (give [[conditions]] or a [sweep])")
        return self


def check_campaign(campaign: CampaignConfig, platform: PlatformConfig) -> list[str]:
    """Every set point of ``campaign`` the ``platform`` cannot run, as ``FILE: KEY = VALUE: reason`` lines.

    Checks temperatures against the heater range and the box limit, flows against the pump range, unit counts
    against the boxes, and that the devices a condition needs (``shell_pump``, ``hb2``) are configured.
    """
    src = campaign.source
    train = platform.train()
    core_box, shell_box = platform.box_names()
    dev = platform.devices
    problems: list[str] = []

    def bad(i: int, key: str, value: Any, why: str) -> None:
        problems.append(f"{src}: conditions[{i}].{key} = {value!r}: {why}")

    def stage(box: str) -> BoxStage:
        section = train.section(box)
        assert isinstance(section, BoxStage)  # box_names() names heating boxes only
        return section

    def box_limit(box: str, heater: HeaterConfig) -> tuple[float, float]:
        b = stage(box).box
        units_max = min([b.max_temperature_c] + [u.max_temperature_c for u in b.units])
        return heater.min_c, min(heater.max_c, units_max)

    def n_units(box: str) -> int:
        return len(stage(box).box.units)

    for i, entry in enumerate(campaign.conditions):
        c = entry.conditions
        lo, hi = box_limit(core_box, dev.hb1)
        if c.core_temperature_c > hi:
            bad(i, "core_temperature_c", c.core_temperature_c, f"above the {core_box} limit {hi:g} °C")
        elif c.core_temperature_c < lo:
            bad(i, "core_temperature_c", c.core_temperature_c, f"below the {core_box} controller minimum {lo:g} °C")
        p = dev.core_pump
        if not p.min_flow_ml_min <= c.core_flow_ml_min <= p.max_flow_ml_min:
            bad(i, "core_flow_ml_min", c.core_flow_ml_min,
                f"outside the core pump range {p.min_flow_ml_min:g}-{p.max_flow_ml_min:g} mL/min")
        if c.core_units > n_units(core_box):
            bad(i, "core_units", c.core_units, f"{core_box} has only {n_units(core_box)} units")
        if not c.shell:
            continue
        if shell_box is None:
            bad(i, "shell", True, "the reactor has no shell heating box")
            continue
        if dev.hb2 is None:
            bad(i, "shell", True, "missing device: the platform has no [devices.hb2] (shell heater)")
        else:
            lo, hi = box_limit(shell_box, dev.hb2)
            t = c.shell_temperature_c
            if t > hi:
                bad(i, "shell_temperature_c", t, f"above the {shell_box} limit {hi:g} °C")
            elif t < lo:
                bad(i, "shell_temperature_c", t, f"below the {shell_box} controller minimum {lo:g} °C")
        if dev.shell_pump is None:
            bad(i, "shell", True, "missing device: the platform has no [devices.shell_pump] (DDT pump)")
        else:
            sp = dev.shell_pump
            q = c.ddt_flow_ml_min
            if not sp.min_flow_ml_min <= q <= sp.max_flow_ml_min:
                bad(i, "ddt_flow_ml_min", q,
                    f"outside the DDT pump range {sp.min_flow_ml_min:g}-{sp.max_flow_ml_min:g} mL/min")
        if c.shell_units > n_units(shell_box):
            bad(i, "shell_units", c.shell_units, f"{shell_box} has only {n_units(shell_box)} units")
    return problems
