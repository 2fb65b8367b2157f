"""The platform file: devices by role, the engine's ``[control]`` criteria, ``[interlocks]`` and ``[sim]``.

Roles: ``core_pump`` (two alternating syringes, stock), ``hb1`` (core box = the train's first heating box),
``pressure``, ``outlet_valve``, ``uvvis`` are required; ``shell_pump`` (DDT), ``hb2`` (the train's second box) and
``pl`` are needed for shell conditions / PL.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, PrivateAttr, model_validator

from flowqd.platform.config._base import STRICT as _STRICT
from flowqd.platform.config._base import FromToml
from flowqd.reactor.config import TrainConfig
from flowqd.reactor.geometry import ReactorTrain

__all__ = ["MAX_PIXELS", "MAX_SCAN_MS", "ControlConfig", "DeviceConfig", "DevicesConfig", "DualSyringePumpConfig",
           "HeaterConfig", "InterlockConfig", "NoDotsRegion", "PlatformConfig", "PressureSensorConfig", "SimConfig",
           "SpectrometerConfig", "SyringePumpConfig", "ValveConfig"]

#: Most detector pixels of one spectrometer (the largest common array detectors have 16 384).
MAX_PIXELS = 65_536
#: Longest single acquisition, ``integration_ms × averages`` (10 min).
MAX_SCAN_MS = 600_000.0


# ---------------------------------------------------------------------------------------------------- devices
class DeviceConfig(BaseModel):
    """Common device fields.

    ``driver`` is ``"sim"`` (the twin-driven simulation) or a real driver name (see
    :data:`flowqd.devices.DRIVERS`); ``options`` holds driver-specific settings (baud rate, register map file …).
    """

    model_config = _STRICT

    driver: str = Field(default="sim", min_length=1, max_length=100)
    port: str | None = Field(default=None, max_length=500)
    address: int | None = Field(default=None, ge=0, le=65535)
    timeout_s: float = Field(default=1.0, gt=0, le=60)
    options: dict[str, Any] = Field(default_factory=dict)


class SyringePumpConfig(DeviceConfig):
    """A syringe pump fed from a reservoir."""

    syringe_volume_ml: float = Field(default=2.5, gt=0, le=1000)
    pressure_rating_bar: float = Field(default=20.0, gt=0, le=1000)
    min_flow_ml_min: float = Field(default=0.03, gt=0, le=1000)
    max_flow_ml_min: float = Field(default=1.5, gt=0, le=1000)
    refill_flow_ml_min: float = Field(default=2.5, gt=0, le=1000)
    reservoir_ml: float = Field(gt=0, le=100_000, description="liquid in the reservoir at the start of a run")

    @model_validator(mode="after")
    def _flows(self) -> SyringePumpConfig:
        if self.min_flow_ml_min >= self.max_flow_ml_min:
            raise ValueError(f"min_flow_ml_min {self.min_flow_ml_min:g} must be below max_flow_ml_min "
                             f"{self.max_flow_ml_min:g}")
        return self


class DualSyringePumpConfig(SyringePumpConfig):
    """Two alternating syringes (continuous flow)."""

    partner_address: int | None = Field(default=None, ge=0, le=65535)
    switch_volume_ml: float = Field(default=0.25, ge=0, le=1000)
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
    min_c: float = Field(default=20.0, ge=-50, le=1000)
    max_ramp_c_min: float = Field(default=10.0, gt=0, le=100)
    ramp_c_min: float = Field(default=5.0, gt=0, le=100)

    @model_validator(mode="after")
    def _ramp(self) -> HeaterConfig:
        if self.ramp_c_min > self.max_ramp_c_min:
            raise ValueError(f"ramp_c_min {self.ramp_c_min:g} above max_ramp_c_min {self.max_ramp_c_min:g}")
        if self.min_c >= self.max_c:
            raise ValueError(f"min_c {self.min_c:g} must be below max_c {self.max_c:g}")
        return self


class PressureSensorConfig(DeviceConfig):
    """Inline pressure transducer."""

    max_bar: float = Field(default=25.0, gt=0, le=1000)


class ValveConfig(DeviceConfig):
    """Outlet valve (waste / collect / sample)."""


class SpectrometerConfig(DeviceConfig):
    """Fibre spectrometer on the flow cell."""

    mode: Literal["absorbance", "pl"] = "absorbance"
    path_mm: float = Field(default=1.0, gt=0, le=100)
    wavelength_min_nm: float = Field(default=400.0, ge=150, le=3000)
    wavelength_max_nm: float = Field(default=900.0, ge=150, le=3000)
    pixels: int = Field(default=2048, ge=16, le=MAX_PIXELS)
    integration_ms: float = Field(default=100.0, gt=0, le=60_000)
    averages: int = Field(default=10, ge=1, le=10_000)
    full_well_counts: float = Field(default=65535.0, gt=0, le=1e9)
    dilution: float = Field(default=1.0, ge=1, le=10_000,
                            description="dilution of the outlet before the flow cell (inline "
                            "solvent make-up); the concentration analysis multiplies it back")
    # PL in an integrating-sphere flow cell, PLQY by the two-measurement method (blank = stock/solvent, sample):
    excitation_nm: float | None = Field(default=None, ge=150, le=3000,
                                        description="excitation wavelength; PL mode only")
    excitation_fwhm_nm: float = Field(default=8.0, gt=0, le=200,
                                      description="FWHM of the excitation band (LED + filter)")
    excitation_band_nm: tuple[float, float] | None = Field(
        default=None, strict=False,
        description="integration band of the scattered excitation (default excitation_nm ± 10 nm)")
    emission_band_nm: tuple[float, float] = Field(default=(450.0, 850.0), strict=False,
                                                  description="integration band of the emission")
    sphere_excitation_counts: float = Field(
        default=25000.0, gt=0, le=1e9,
        description="peak counts of the blank's scattered excitation per 100 ms of integration")
    plqy_method: Literal["two-measurement"] = "two-measurement"
    smooth_window_nm: float | None = Field(
        default=None, gt=0, le=500,
        description="PL peak/FWHM on a Savitzky-Golay-smoothed copy (noisy, broad emission)")

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
    #: a missing role reads "missing device (required)" (:func:`flowqd._toml.error_lines`)
    toml_item: ClassVar[str] = "device"

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

    control_period_s: float = Field(default=1.0, ge=0.01, le=60)
    trace_period_s: float = Field(default=10.0, gt=0, le=3600)
    temperature_tolerance_c: float = Field(default=1.0, gt=0, le=20)
    temperature_hold_s: float = Field(default=120.0, ge=0, le=3600)
    stabilise_timeout_s: float = Field(default=7200.0, gt=0, le=86_400)
    washout_fraction: float = Field(default=0.99, gt=0, lt=1)
    spectrum_interval_s: float = Field(default=60.0, ge=0, le=3600)
    peak_drift_nm: float = Field(default=1.0, gt=0, le=50)
    drift_window: int = Field(default=3, ge=2, le=50)
    max_extra_spectra: int = Field(default=5, ge=0, le=100)
    material: str = Field(default="InP", min_length=1, max_length=100)
    feed_indium_mol_l: float | None = Field(
        default=None, gt=0, le=10,
        description="In concentration of the stock, mol/L, for the inline yield (Hens method); "
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

    max_pressure_bar: float = Field(default=15.0, gt=0, le=1000)
    max_pressure_rise_bar_min: float = Field(default=2.0, gt=0, le=1000)
    pressure_rise_window_s: float = Field(default=10.0, gt=0, le=600)
    over_temperature_margin_c: float = Field(default=15.0, gt=0, le=100)
    safe_setpoint_c: float = Field(default=25.0, ge=0, le=100)
    # sensor plausibility (flowqd.platform.plausibility)
    sensor_min_bar: float = Field(default=-1.0, ge=-1, le=0,
                                  description="a pressure reading below this is a sensor fault")
    sensor_min_c: float = Field(default=-20.0, ge=-50, le=50, description="a temperature reading below this is a fault")
    sensor_max_c: float = Field(default=500.0, gt=0, le=1500, description="a temperature reading above this is a fault")
    max_pressure_step_bar_s: float = Field(default=5.0, gt=0, le=1000, description="|dP/dt| between two readings")
    max_temperature_step_c_min: float = Field(default=60.0, gt=0, le=6000, description="|dT/dt| between two readings")
    stuck_window_s: float = Field(default=120.0, ge=5, le=3600)
    stuck_band_bar: float = Field(default=0.001, gt=0, le=10,
                                  description="no change beyond this over the window = stuck")
    stuck_band_c: float = Field(default=0.05, gt=0, le=10)
    pressure_agreement_bar: float = Field(default=1.0, gt=0, le=100, description="|sensor - pump pressure| allowed")
    pressure_model_tolerance_bar: float = Field(default=1.0, gt=0, le=100)
    pressure_model_fraction: float = Field(default=0.5, gt=0, lt=1)
    max_saturated_spectra: int = Field(default=3, ge=1, le=100)

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

    core_temperature_c: tuple[float, float] | None = Field(default=None, strict=False)
    core_flow_ml_min: tuple[float, float] | None = Field(default=None, strict=False)

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
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    ambient_c: float = Field(default=25.0, ge=-20, le=50)
    pressure_noise_bar: float = Field(default=0.002, ge=0, le=1)
    twin_parameters: str | None = Field(default=None, max_length=1000)
    measurement_noise: float = Field(default=0.0, ge=0, le=0.5)
    no_dots: tuple[NoDotsRegion, ...] = Field(default=(), strict=False, max_length=100)

    @model_validator(mode="after")
    def _twin_file(self) -> SimConfig:
        if self.twin_parameters is not None and self.twin != "default":
            raise ValueError("twin_parameters needs twin = 'default' (the surrogate has no parameter file)")
        return self



class PlatformConfig(FromToml):
    """A platform file."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
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
        for name in ("pressure_rise_window_s", "stuck_window_s"):
            window = getattr(lock, name)
            if window < window_min:
                raise ValueError(f"interlocks.{name} {window:g} must span at least 3 control periods "
                                 f"({window_min:g} s)")
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

