"""Platform and campaign files (TOML → pydantic models, ``extra="forbid"``).

A **platform** file describes the hardware: the reactor train (the ``[reactor]`` table is
:class:`flowqd.reactor.config.TrainConfig`), one ``[devices.<role>]`` table per device (``driver = "sim"`` or a
real driver, ``port``, ``address``, limits), the engine's ``[control]`` criteria, the ``[interlocks]`` thresholds
and the ``[sim]`` options. A **campaign** file lists the conditions to run — a ``[[conditions]]`` list and/or a
``[sweep]`` grid — with ``[defaults]`` applied to each.

Units are part of every key (``_c``, ``_ml_min``, ``_bar``, ``_s``, ``_ms``, ``_mm``, ``_nm``, ``_ml``), so a value
in another unit is an *unknown key*, never a silently wrong number. Every problem is a
:class:`~flowqd.errors.ConfigError` whose message names the FILE, the KEY and the VALUE, e.g.
``examples/campaign.toml: conditions[2].core_temperature_c = 400: above the HB1 limit 350 °C``.

Roles: ``core_pump`` (two alternating syringes, stock), ``hb1`` (core box = the train's first heating box),
``pressure``, ``outlet_valve``, ``uvvis`` are required; ``shell_pump`` (DDT), ``hb2`` (the train's second box) and
``pl`` are needed for shell conditions / PL.
"""

from __future__ import annotations

import itertools
import tomllib
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from flowqd.errors import ConfigError
from flowqd.reactor.config import TrainConfig
from flowqd.reactor.geometry import ReactorTrain

__all__ = [
    "MAX_CONDITIONS",
    "MAX_PIXELS",
    "MAX_SCAN_MS",
    "MAX_SWEEP_AXIS",
    "CampaignConfig",
    "ConditionConfig",
    "ControlConfig",
    "DeviceConfig",
    "DevicesConfig",
    "DualSyringePumpConfig",
    "HeaterConfig",
    "InterlockConfig",
    "NoDotsRegion",
    "PlatformConfig",
    "PressureSensorConfig",
    "SimConfig",
    "SpectrometerConfig",
    "SweepConfig",
    "SyringePumpConfig",
    "ValveConfig",
    "campaign_from_text",
    "check_campaign",
    "load_campaign",
    "load_platform",
    "platform_from_text",
]

#: Every model: unknown keys are errors, values are type-strict (``true`` is not a flow, ``"350"`` is not a
#: number; an integer is accepted for a float) and finite (``nan``/``inf`` are refused). Lists of the TOML file
#: become tuples where a field is a tuple (``Field(strict=False)`` on those fields only).
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
#: Most conditions one campaign may hold (a ``[sweep]`` grid is counted before it is built).
MAX_CONDITIONS = 5000
#: Most values along one ``[sweep]`` axis.
MAX_SWEEP_AXIS = 1000
#: Most detector pixels of one spectrometer (the largest common array detectors have 16 384).
MAX_PIXELS = 65_536
#: Longest single acquisition, ``integration_ms × averages`` (10 min).
MAX_SCAN_MS = 600_000.0
_UNIT_SUFFIXES = ("_c", "_ml_min", "_bar", "_s", "_ms", "_mm", "_nm", "_ml", "_j_k", "_bar_min", "_c_min")


# ---------------------------------------------------------------------------------------------------- devices
class DeviceConfig(BaseModel):
    """Common device fields.

    ``driver`` is ``"sim"`` (the twin-driven simulation) or a real driver name (see
    :data:`flowqd.devices.DRIVERS`); ``options`` holds driver-specific settings (baud rate, register map file …).
    """

    model_config = _STRICT

    driver: str = Field("sim", min_length=1, max_length=100)
    port: str | None = Field(None, max_length=500)
    address: int | None = Field(None, ge=0, le=65535)
    timeout_s: float = Field(1.0, gt=0, le=60)
    options: dict[str, Any] = Field(default_factory=dict)


class SyringePumpConfig(DeviceConfig):
    """A syringe pump fed from a reservoir."""

    syringe_volume_ml: float = Field(2.5, gt=0, le=1000)
    pressure_rating_bar: float = Field(20.0, gt=0, le=1000)
    min_flow_ml_min: float = Field(0.03, gt=0, le=1000)
    max_flow_ml_min: float = Field(1.5, gt=0, le=1000)
    refill_flow_ml_min: float = Field(2.5, gt=0, le=1000)
    reservoir_ml: float = Field(gt=0, le=100_000, description="liquid in the reservoir at the start of a run")

    @model_validator(mode="after")
    def _flows(self) -> SyringePumpConfig:
        if self.min_flow_ml_min >= self.max_flow_ml_min:
            raise ValueError(f"min_flow_ml_min {self.min_flow_ml_min:g} must be below max_flow_ml_min "
                             f"{self.max_flow_ml_min:g}")
        return self


class DualSyringePumpConfig(SyringePumpConfig):
    """Two alternating syringes (continuous flow)."""

    partner_address: int | None = Field(None, ge=0, le=65535)
    switch_volume_ml: float = Field(0.25, ge=0, le=1000)
    overlap: bool = True

    @model_validator(mode="after")
    def _switch(self) -> DualSyringePumpConfig:
        if self.switch_volume_ml >= self.syringe_volume_ml:
            raise ValueError(f"switch_volume_ml {self.switch_volume_ml:g} must be below syringe_volume_ml "
                             f"{self.syringe_volume_ml:g}")
        return self


class HeaterConfig(DeviceConfig):
    """A heating-box temperature controller."""

    max_c: float = Field(gt=0, le=1000)
    min_c: float = Field(20.0, ge=-50, le=1000)
    max_ramp_c_min: float = Field(10.0, gt=0, le=100)
    ramp_c_min: float = Field(5.0, gt=0, le=100)

    @model_validator(mode="after")
    def _ramp(self) -> HeaterConfig:
        if self.ramp_c_min > self.max_ramp_c_min:
            raise ValueError(f"ramp_c_min {self.ramp_c_min:g} above max_ramp_c_min {self.max_ramp_c_min:g}")
        if self.min_c >= self.max_c:
            raise ValueError(f"min_c {self.min_c:g} must be below max_c {self.max_c:g}")
        return self


class PressureSensorConfig(DeviceConfig):
    """Inline pressure transducer."""

    max_bar: float = Field(25.0, gt=0, le=1000)


class ValveConfig(DeviceConfig):
    """Outlet valve (waste / collect / sample)."""


class SpectrometerConfig(DeviceConfig):
    """Fibre spectrometer on the flow cell."""

    mode: Literal["absorbance", "pl"] = "absorbance"
    path_mm: float = Field(1.0, gt=0, le=100)
    wavelength_min_nm: float = Field(400.0, ge=150, le=3000)
    wavelength_max_nm: float = Field(900.0, ge=150, le=3000)
    pixels: int = Field(2048, ge=16, le=MAX_PIXELS)
    integration_ms: float = Field(100.0, gt=0, le=60_000)
    averages: int = Field(10, ge=1, le=10_000)
    full_well_counts: float = Field(65535.0, gt=0, le=1e9)
    dilution: float = Field(1.0, ge=1, le=10_000, description="dilution of the outlet before the flow cell (inline "
                            "solvent make-up); the concentration analysis multiplies it back")
    # PL in an integrating-sphere flow cell, PLQY by the two-measurement method (blank = stock/solvent, sample):
    excitation_nm: float | None = Field(None, ge=150, le=3000, description="excitation wavelength; PL mode only")
    excitation_fwhm_nm: float = Field(8.0, gt=0, le=200, description="FWHM of the excitation band (LED + filter)")
    excitation_band_nm: tuple[float, float] | None = Field(
        None, strict=False, description="integration band of the scattered excitation (default excitation_nm ± 10 nm)")
    emission_band_nm: tuple[float, float] = Field((450.0, 850.0), strict=False,
                                                  description="integration band of the emission")
    sphere_excitation_counts: float = Field(
        25000.0, gt=0, le=1e9, description="peak counts of the blank's scattered excitation per 100 ms of integration")
    plqy_method: Literal["two-measurement"] = "two-measurement"
    smooth_window_nm: float | None = Field(
        None, gt=0, le=500, description="PL peak/FWHM on a Savitzky-Golay-smoothed copy (noisy, broad emission)")

    @model_validator(mode="after")
    def _pl_bands(self) -> SpectrometerConfig:
        if self.wavelength_min_nm >= self.wavelength_max_nm:
            raise ValueError(f"wavelength_min_nm {self.wavelength_min_nm:g} must be below wavelength_max_nm "
                             f"{self.wavelength_max_nm:g}")
        scan_ms = self.integration_ms * self.averages
        if scan_ms > MAX_SCAN_MS:
            raise ValueError(f"integration_ms × averages = {scan_ms:g} ms: one spectrum would take longer than "
                             f"{MAX_SCAN_MS / 60000:g} min")
        if self.mode != "pl" or self.excitation_nm is None:
            return self
        exc, emi = self.excitation_band(), self.emission_band_nm
        for name, (lo, hi) in (("excitation_band_nm", exc), ("emission_band_nm", emi)):
            if not lo < hi:
                raise ValueError(f"{name} {[lo, hi]} is empty")
            if lo < self.wavelength_min_nm or hi > self.wavelength_max_nm:
                raise ValueError(f"{name} {[lo, hi]} is outside the spectrometer range "
                                 f"{self.wavelength_min_nm:g}-{self.wavelength_max_nm:g} nm")
        if max(exc[0], emi[0]) < min(exc[1], emi[1]):
            raise ValueError(f"excitation_band_nm {list(exc)} and emission_band_nm {list(emi)} overlap")
        if not exc[0] <= self.excitation_nm <= exc[1]:
            raise ValueError(f"excitation_nm {self.excitation_nm:g} is outside excitation_band_nm {list(exc)}")
        return self

    def excitation_band(self) -> tuple[float, float]:
        """The excitation integration band, nm (``excitation_nm`` ± 10 nm unless given)."""
        if self.excitation_band_nm is not None:
            return (float(self.excitation_band_nm[0]), float(self.excitation_band_nm[1]))
        x = float(self.excitation_nm or 400.0)
        return (x - 10.0, x + 10.0)

    @property
    def sphere(self) -> bool:
        """A PL spectrometer on an integrating sphere (PLQY measured): PL mode with ``excitation_nm`` set."""
        return self.mode == "pl" and self.excitation_nm is not None


class DevicesConfig(BaseModel):
    """The devices by role."""

    model_config = _STRICT

    core_pump: DualSyringePumpConfig
    hb1: HeaterConfig
    pressure: PressureSensorConfig
    outlet_valve: ValveConfig
    uvvis: SpectrometerConfig
    shell_pump: DualSyringePumpConfig | None = None
    hb2: HeaterConfig | None = None
    pl: SpectrometerConfig | None = None


# ---------------------------------------------------------------------------------------------------- engine
class ControlConfig(BaseModel):
    """Run-engine timing and steady-state criteria."""

    model_config = _STRICT

    control_period_s: float = Field(1.0, ge=0.01, le=60)
    trace_period_s: float = Field(10.0, gt=0, le=3600)
    temperature_tolerance_c: float = Field(1.0, gt=0, le=20)
    temperature_hold_s: float = Field(120.0, ge=0, le=3600)
    stabilise_timeout_s: float = Field(7200.0, gt=0, le=86_400)
    washout_fraction: float = Field(0.99, gt=0, lt=1)
    spectrum_interval_s: float = Field(60.0, ge=0, le=3600)
    peak_drift_nm: float = Field(1.0, gt=0, le=50)
    drift_window: int = Field(3, ge=2, le=50)
    max_extra_spectra: int = Field(5, ge=0, le=100)
    material: str = Field("InP", min_length=1, max_length=100)
    feed_indium_mol_l: float | None = Field(
        None, gt=0, le=10, description="In concentration of the stock, mol/L, for the inline yield (Hens method); "
        "default: the paper's recipe (examples/recipe-wang-segets-2023.toml, 0.0877 M)")

    @model_validator(mode="after")
    def _periods(self) -> ControlConfig:
        if self.trace_period_s < self.control_period_s:
            raise ValueError(f"trace_period_s {self.trace_period_s:g} is shorter than control_period_s "
                             f"{self.control_period_s:g}")
        if self.stabilise_timeout_s <= self.temperature_hold_s:
            raise ValueError(f"stabilise_timeout_s {self.stabilise_timeout_s:g} must exceed temperature_hold_s "
                             f"{self.temperature_hold_s:g}")
        return self

    def stock_indium_mol_l(self) -> float:
        """In concentration of the stock fed by the core pump, mol/L (``feed_indium_mol_l`` or the paper's recipe)."""
        if self.feed_indium_mol_l is not None:
            return float(self.feed_indium_mol_l)
        from flowqd.reactor.recipe import paper_stock

        return paper_stock().concentration_m("indium")


class InterlockConfig(BaseModel):
    """Safety thresholds, evaluated every control period."""

    model_config = _STRICT

    max_pressure_bar: float = Field(15.0, gt=0, le=1000)
    max_pressure_rise_bar_min: float = Field(2.0, gt=0, le=1000)
    pressure_rise_window_s: float = Field(10.0, gt=0, le=600)
    over_temperature_margin_c: float = Field(15.0, gt=0, le=100)
    safe_setpoint_c: float = Field(25.0, ge=0, le=100)
    # sensor plausibility (flowqd.platform.plausibility)
    sensor_min_bar: float = Field(-1.0, ge=-1, le=0, description="a pressure reading below this is a sensor fault")
    sensor_min_c: float = Field(-20.0, ge=-50, le=50, description="a temperature reading below this is a fault")
    sensor_max_c: float = Field(500.0, gt=0, le=1500, description="a temperature reading above this is a fault")
    max_pressure_step_bar_s: float = Field(5.0, gt=0, le=1000, description="|dP/dt| between two readings")
    max_temperature_step_c_min: float = Field(60.0, gt=0, le=6000, description="|dT/dt| between two readings")
    stuck_window_s: float = Field(120.0, ge=5, le=3600)
    stuck_band_bar: float = Field(0.001, gt=0, le=10, description="no change beyond this over the window = stuck")
    stuck_band_c: float = Field(0.05, gt=0, le=10)
    pressure_agreement_bar: float = Field(1.0, gt=0, le=100, description="|sensor - pump pressure| allowed")
    pressure_model_tolerance_bar: float = Field(1.0, gt=0, le=100)
    pressure_model_fraction: float = Field(0.5, gt=0, lt=1)
    max_saturated_spectra: int = Field(3, ge=1, le=100)

    @model_validator(mode="after")
    def _plausible(self) -> InterlockConfig:
        if self.sensor_min_c >= self.safe_setpoint_c:
            raise ValueError(f"sensor_min_c {self.sensor_min_c:g} must be below safe_setpoint_c "
                             f"{self.safe_setpoint_c:g}")
        return self


class NoDotsRegion(BaseModel):
    """``[[sim.no_dots]]``: a failure region of the simulated plant — set points inside every given range make no
    dots (the outlet stays clear; the inline analysis finds no exciton)."""

    model_config = _STRICT

    core_temperature_c: tuple[float, float] | None = Field(None, strict=False)
    core_flow_ml_min: tuple[float, float] | None = Field(None, strict=False)

    @model_validator(mode="after")
    def _ranges(self) -> NoDotsRegion:
        given = [(k, v) for k, v in (("core_temperature_c", self.core_temperature_c),
                                     ("core_flow_ml_min", self.core_flow_ml_min)) if v is not None]
        if not given:
            raise ValueError("give core_temperature_c and/or core_flow_ml_min as [low, high]")
        for k, (lo, hi) in given:
            if not lo < hi:
                raise ValueError(f"{k} = [{lo:g}, {hi:g}]: low must be below high")
        return self

    def contains(self, core_temperature_c: float, core_flow_ml_min: float) -> bool:
        """Whether the set point lies in the region (bounds included)."""
        t, q = self.core_temperature_c, self.core_flow_ml_min
        return ((t is None or t[0] <= core_temperature_c <= t[1])
                and (q is None or q[0] <= core_flow_ml_min <= q[1]))


class SimConfig(BaseModel):
    """Options of the simulated platform (``driver = "sim"`` devices).

    ``twin_parameters`` runs the simulated plant on a twin with *these* parameters (a file ``flowqd twin calibrate
    --out`` writes; a relative path is relative to the platform file's folder, else to the working directory), so
    the plant need not be the optimiser's twin. ``measurement_noise`` is relative Gaussian noise on every simulated
    absorbance value (e.g. 0.02 = 2 %). ``[[sim.no_dots]]`` regions are the plant's failure model.
    """

    model_config = _STRICT

    twin: Literal["default", "surrogate"] = "default"
    seed: int = Field(0, ge=0, le=2**32 - 1)
    ambient_c: float = Field(25.0, ge=-20, le=50)
    pressure_noise_bar: float = Field(0.002, ge=0, le=1)
    twin_parameters: str | None = Field(None, max_length=1000)
    measurement_noise: float = Field(0.0, ge=0, le=0.5)
    no_dots: tuple[NoDotsRegion, ...] = Field((), strict=False, max_length=100)

    @model_validator(mode="after")
    def _twin_file(self) -> SimConfig:
        if self.twin_parameters is not None and self.twin != "default":
            raise ValueError("twin_parameters needs twin = 'default' (the surrogate has no parameter file)")
        return self


class _FromToml(BaseModel):
    """Base of the TOML-backed configs: remembers the file and its text (provenance for the store)."""

    _source: str = PrivateAttr("<toml>")
    _text: str = PrivateAttr("")

    @property
    def source(self) -> str:
        """The file it was read from."""
        return self._source

    @property
    def text(self) -> str:
        """The TOML text it was read from (provenance)."""
        return self._text


class PlatformConfig(_FromToml):
    """A platform file."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    reactor: TrainConfig
    devices: DevicesConfig
    control: ControlConfig = ControlConfig()
    interlocks: InterlockConfig = InterlockConfig()
    sim: SimConfig = SimConfig()

    _source: str = PrivateAttr("<platform>")

    @model_validator(mode="after")
    def _cross(self) -> PlatformConfig:
        ratings = [("core_pump", self.devices.core_pump.pressure_rating_bar)]
        if self.devices.shell_pump is not None:
            ratings.append(("shell_pump", self.devices.shell_pump.pressure_rating_bar))
        for role, rating in ratings:
            if self.interlocks.max_pressure_bar >= rating:
                raise ValueError(f"interlocks.max_pressure_bar {self.interlocks.max_pressure_bar:g} must be below "
                                 f"the {role} rating {rating:g} bar")
        boxes = self._box_sequence()
        if not boxes:
            raise ValueError("reactor has no heating box for hb1")
        if self.devices.hb2 is not None and len(boxes) < 2:
            raise ValueError("devices.hb2 is configured but the reactor has only one heating box")
        lock = self.interlocks
        heaters = [("hb1", self.devices.hb1), ("hb2", self.devices.hb2)]
        limits = [(f"devices.{r}.max_c", h.max_c) for r, h in heaters if h is not None]
        limits += [(f"reactor box {b.name} max_temperature_c", b.max_temperature_c) for b in self.reactor.heating_box]
        for what, limit in limits:
            if lock.safe_setpoint_c >= limit:
                raise ValueError(f"interlocks.safe_setpoint_c {lock.safe_setpoint_c:g} must be below {what} "
                                 f"{limit:g} °C")
            if lock.sensor_max_c <= limit:
                raise ValueError(f"interlocks.sensor_max_c {lock.sensor_max_c:g} must be above {what} {limit:g} °C")
        if lock.max_pressure_bar >= self.devices.pressure.max_bar:
            raise ValueError(f"interlocks.max_pressure_bar {lock.max_pressure_bar:g} must be below the pressure "
                             f"sensor range devices.pressure.max_bar {self.devices.pressure.max_bar:g} bar")
        window_min = 3 * self.control.control_period_s
        if lock.pressure_rise_window_s < window_min:
            raise ValueError(f"interlocks.pressure_rise_window_s {lock.pressure_rise_window_s:g} must span at least "
                             f"3 control periods ({window_min:g} s)")
        if lock.stuck_window_s < 3 * self.control.control_period_s:
            raise ValueError(f"interlocks.stuck_window_s {lock.stuck_window_s:g} must span at least 3 control "
                             f"periods ({window_min:g} s)")
        return self

    def train(self) -> ReactorTrain:
        """The reactor train."""
        return self.reactor.to_train()

    def _box_sequence(self) -> list[str]:
        return [b for b in self.reactor.sequence if any(h.name == b for h in self.reactor.heating_box)]

    def box_names(self) -> tuple[str, str | None]:
        """Names of the core (hb1) and shell (hb2) boxes in the train."""
        boxes = self._box_sequence()
        return boxes[0], (boxes[1] if len(boxes) > 1 else None)


# ---------------------------------------------------------------------------------------------------- campaign
class ConditionConfig(BaseModel):
    """One steady-state condition."""

    model_config = _STRICT

    label: str = Field("", max_length=200)
    core_temperature_c: float = Field(ge=0, le=1000)
    core_flow_ml_min: float = Field(gt=0, le=1000)
    core_units: int = Field(1, ge=1, le=100)
    shell: bool = False
    shell_temperature_c: float | None = Field(None, ge=0, le=1000)
    ddt_flow_ml_min: float | None = Field(None, gt=0, le=1000)
    shell_units: int = Field(1, ge=1, le=100)
    n_spectra: int = Field(3, ge=1, le=1000)
    collect_volume_ml: float = Field(0.0, ge=0, le=10_000)

    @model_validator(mode="after")
    def _shell(self) -> ConditionConfig:
        if self.shell and (self.shell_temperature_c is None or self.ddt_flow_ml_min is None):
            raise ValueError("a shell condition needs shell_temperature_c and ddt_flow_ml_min")
        return self

    @model_validator(mode="before")
    @classmethod
    def _auto_label(cls, data: Any) -> Any:
        """Sweep points and unlabelled conditions get their set points as label: ``"200 °C · 0.1 mL/min"``."""
        if not isinstance(data, dict) or data.get("label"):
            return data
        try:
            label = f"{float(data['core_temperature_c']):g} °C · {float(data['core_flow_ml_min']):g} mL/min"
            if int(data.get("core_units", 1)) != 1:
                label += f" · {int(data['core_units'])} units"
            if data.get("shell") is True:
                label += (f" + shell {float(data['shell_temperature_c']):g} °C · "
                          f"DDT {float(data['ddt_flow_ml_min']):g} mL/min")
        except (KeyError, TypeError, ValueError):
            return data  # a missing or bad set point is reported by the field validation
        return {**data, "label": label}

    def setpoints(self) -> dict[str, Any]:
        """Set points as the recorder's ``start_condition`` keywords."""
        return {"core_temperature_c": self.core_temperature_c, "core_flow_ml_min": self.core_flow_ml_min,
                "core_units": self.core_units, "shell": self.shell,
                "shell_temperature_c": self.shell_temperature_c if self.shell else None,
                "ddt_flow_ml_min": self.ddt_flow_ml_min if self.shell else None, "n_spectra": self.n_spectra,
                "label": self.label}


class ConditionDefaults(BaseModel):
    """``[defaults]``: any condition key, applied where a condition does not set it."""

    model_config = _STRICT

    core_temperature_c: float | None = Field(None, ge=0, le=1000)
    core_flow_ml_min: float | None = Field(None, gt=0, le=1000)
    core_units: int | None = Field(None, ge=1, le=100)
    shell: bool | None = None
    shell_temperature_c: float | None = Field(None, ge=0, le=1000)
    ddt_flow_ml_min: float | None = Field(None, gt=0, le=1000)
    shell_units: int | None = Field(None, ge=1, le=100)
    n_spectra: int | None = Field(None, ge=1, le=1000)
    collect_volume_ml: float | None = Field(None, ge=0, le=10_000)


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


class CampaignConfig(_FromToml):
    """A campaign file."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    defaults: ConditionDefaults = ConditionDefaults()
    conditions: tuple[ConditionConfig, ...] = Field((), strict=False, max_length=MAX_CONDITIONS)
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
        d = {k: v for k, v in defaults.items() if v is not None and k in ConditionDefaults.model_fields}
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


# ---------------------------------------------------------------------------------------------------- loading
def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, dict):
        for arg in typing.get_args(annotation):
            found = _unwrap_model(arg)
            if found is not None:
                return found
    return None


def _allowed_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] | None = root
    for part in loc[:-1]:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        model = _unwrap_model(field.annotation)
    return sorted(model.model_fields) if model is not None else []


def _loc_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part) in ("list[float]", "RangeSpec") or str(part).startswith(("function-", "list[")):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _unit_hint(key: str, allowed: list[str]) -> str:
    """'; did you mean X (units are part of the key)' when ``key`` is an allowed key with another unit suffix."""
    parts = key.split("_")
    for cut in range(len(parts) - 1, 0, -1):
        stem = "_".join(parts[:cut])
        for k in allowed:
            if k.startswith(stem + "_") and k[len(stem):] in _UNIT_SUFFIXES:
                return f" (wrong unit? did you mean {k}: units are part of the key)"
    return ""


def _messages(exc: ValidationError, root: type[BaseModel]) -> list[str]:
    parts = []
    errors = exc.errors()
    keys = [_loc_text(tuple(e.get("loc", ()))) for e in errors]
    for err, key in zip(errors, keys, strict=True):
        loc = tuple(err.get("loc", ()))
        if err.get("type") in ("list_type", "model_type", "dict_type", "tuple_type") and any(
                k.startswith((key + ".", key + "[")) for k in keys):
            continue  # the other branch of a union (``list | {start, stop, num}``) explains it better
        value = err.get("input")
        shown = "" if isinstance(value, dict | list) else f" = {value!r}"
        if err.get("type") == "extra_forbidden":
            allowed = _allowed_keys(root, loc)
            msg = "unknown key" + _unit_hint(str(loc[-1]) if loc else "", allowed)
            msg += f"; allowed: {', '.join(allowed)}" if allowed else ""
        elif err.get("type") == "missing":
            msg = "missing device (required)" if len(loc) == 2 and loc[0] == "devices" else "missing (required)"
            shown = ""
        else:
            msg = str(err.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{key}{shown}: {msg}" if key else f"{msg}")
    # pydantic reports every branch of a union; keep one line per key
    seen: dict[str, str] = {}
    for p in parts:
        seen.setdefault(p.split(":", 1)[0], p)
    return list(seen.values())


_ConfigT = TypeVar("_ConfigT", bound=BaseModel)


def _read(path: str | Path) -> str:
    p = Path(path)
    try:
        return p.read_text()
    except FileNotFoundError:
        raise ConfigError("file not found", source=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a TOML file", source=str(path)) from None


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML ({exc})", source=source) from None


def _validated(model: type[_ConfigT], text: str, source: str) -> _ConfigT:
    """Parse and validate ``text`` as ``model``; every error is one line naming ``source``, the key and value."""
    try:
        return model.model_validate(_parse(text, source))
    except ValidationError as exc:
        raise ConfigError("; ".join(_messages(exc, model)), source=source) from None


def platform_from_text(text: str, source: str = "<platform>") -> PlatformConfig:
    """Validate a platform TOML text; errors name ``source``, the key and the value."""
    cfg = _validated(PlatformConfig, text, source)
    try:
        cfg.train()
    except ConfigError as exc:
        raise ConfigError(f"reactor: {exc}", source=source) from None
    cfg._source = source
    cfg._text = text
    return cfg


def load_platform(path: str | Path) -> PlatformConfig:
    """Load and validate a platform file."""
    return platform_from_text(_read(path), str(path))


def campaign_from_text(text: str, source: str = "<campaign>") -> CampaignConfig:
    """Validate a campaign TOML text."""
    cfg = _validated(CampaignConfig, text, source)
    cfg._source = source
    cfg._text = text
    return cfg


def load_campaign(path: str | Path) -> CampaignConfig:
    """Load and validate a campaign file (its own consistency; see :func:`check_campaign` for the platform)."""
    return campaign_from_text(_read(path), str(path))


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

    def box_limit(box: str, heater: HeaterConfig) -> tuple[float, float]:
        stage = train.section(box)
        units_max = min([stage.box.max_temperature_c] + [u.max_temperature_c for u in stage.box.units])  # type: ignore[union-attr]
        return heater.min_c, min(heater.max_c, units_max)

    def n_units(box: str) -> int:
        return len(train.section(box).box.units)  # type: ignore[union-attr]

    for i, c in enumerate(campaign.conditions):
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
            if t is not None and t > hi:
                bad(i, "shell_temperature_c", t, f"above the {shell_box} limit {hi:g} °C")
            elif t is not None and t < lo:
                bad(i, "shell_temperature_c", t, f"below the {shell_box} controller minimum {lo:g} °C")
        if dev.shell_pump is None:
            bad(i, "shell", True, "missing device: the platform has no [devices.shell_pump] (DDT pump)")
        else:
            sp = dev.shell_pump
            q = c.ddt_flow_ml_min
            if q is not None and not sp.min_flow_ml_min <= q <= sp.max_flow_ml_min:
                bad(i, "ddt_flow_ml_min", q,
                    f"outside the DDT pump range {sp.min_flow_ml_min:g}-{sp.max_flow_ml_min:g} mL/min")
        if c.shell_units > n_units(shell_box):
            bad(i, "shell_units", c.shell_units, f"{shell_box} has only {n_units(shell_box)} units")
    return problems
