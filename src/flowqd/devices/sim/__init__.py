"""The simulated platform: twin-driven devices on one :class:`~flowqd.devices.sim.plant.SimPlant`.

Never imported by runtime code (import-linter contract); :func:`flowqd.devices.build_devices` imports it by name
for devices with ``driver = "sim"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowqd.devices.alternating import AlternatingPump
from flowqd.devices.clock import Clock
from flowqd.devices.sim.devices import (
    SimPressureSensor,
    SimSpectrometer,
    SimSyringePump,
    SimTemperatureController,
    SimValve,
)
from flowqd.devices.sim.forward import SimFastForward
from flowqd.devices.sim.plant import HeaterParams, SimPlant, SyringeParams
from flowqd.devices.sim.predictions import PredictionCache
from flowqd.devices.sim.surrogate import SurrogateTwin
from flowqd.errors import ConfigError
from flowqd.reactor.process import ProcessModel

#: Slowest step rate of a simulated syringe drive, mL/min (the process range is the pump config's).
SIM_DRIVE_MIN_FLOW_ML_MIN = 0.001

__all__ = [
    "SIM_DRIVE_MIN_FLOW_ML_MIN",
    "HeaterParams",
    "PredictionCache",
    "SimFastForward",
    "SimPlant",
    "SimPressureSensor",
    "SimSpectrometer",
    "SimSyringePump",
    "SimTemperatureController",
    "SimValve",
    "SurrogateTwin",
    "SyringeParams",
    "build_sim_devices",
    "default_twin",
]


def default_twin(kind: str = "default", parameters: str | Path | None = None) -> Any:
    """The twin for ``[sim] twin`` = ``"default"`` (the digital twin, with the packaged or the ``parameters``
    file's parameters) or ``"surrogate"``; both take :class:`~flowqd.reactor.conditions.Conditions`."""
    if kind == "surrogate":
        return SurrogateTwin()
    try:
        from flowqd.twin import Twin, TwinParameters
    except ImportError as exc:  # the twin package is optional at this layer
        raise ConfigError(f"[sim] twin = 'default' needs flowqd.twin ({exc}); use twin = 'surrogate'") from None
    if parameters is not None:
        return Twin(TwinParameters.load(parameters))
    return Twin.default()


def _parameter_path(platform_config: Any) -> Path | None:
    """``[sim] twin_parameters`` resolved: relative to the platform file's folder when that file exists."""
    name = platform_config.sim.twin_parameters
    if name is None:
        return None
    p = Path(name)
    source = Path(str(getattr(platform_config, "source", "")))
    if not p.is_absolute() and source.is_file() and (source.parent / p).exists():
        return source.parent / p
    return p


def build_sim_devices(platform_config: Any, clock: Clock, *, twin: Any = None,
                      roles: Sequence[str]) -> tuple[dict[str, Any], SimPlant]:
    """Simulated devices for ``roles`` of ``platform_config`` and the plant they share.

    Parameters
    ----------
    platform_config : PlatformConfig
    clock : Clock
    twin : object, optional
        Anything with ``predict(conditions)`` (:class:`~flowqd.reactor.conditions.Conditions`); default per
        ``[sim] twin``.
    roles : sequence of str
        Roles to build (those the platform file configures with the ``sim`` driver).
    """
    sim_cfg = platform_config.sim
    if twin is None:
        twin = default_twin(sim_cfg.twin, _parameter_path(platform_config))
    dev = platform_config.devices
    train = platform_config.train()
    process = ProcessModel(train)
    plant = SimPlant(clock=clock, process=process, twin=twin,
                     ambient_c=sim_cfg.ambient_c, seed=sim_cfg.seed, pressure_noise_bar=sim_cfg.pressure_noise_bar,
                     # the twin's absorbance is that of its outlet diluted `twin.dilution`x; the flow cell sees the
                     # outlet diluted as the platform file says (devices.uvvis.dilution)
                     twin_path_mm=float(getattr(twin, "path_mm", 1.0)) * dev.uvvis.dilution
                     / float(getattr(twin, "dilution", dev.uvvis.dilution)),
                     measurement_noise=sim_cfg.measurement_noise,
                     no_dots=(lambda t, q: any(r.contains(t, q) for r in sim_cfg.no_dots)) if sim_cfg.no_dots
                     else None)
    plant.core_units = len(train.section(process.core_box).units_in_use)  # type: ignore[union-attr]
    if process.shell_box is not None:
        plant.shell_units = len(train.section(process.shell_box).units_in_use)  # type: ignore[union-attr]
    wanted = set(roles)
    out: dict[str, Any] = {}
    for role, stream, reservoir in (("core_pump", "core", "stock"), ("shell_pump", "ddt", "ddt")):
        c = getattr(dev, role, None)
        if role not in wanted or c is None:
            continue
        plant.reservoirs_ml[reservoir] = c.reservoir_ml
        params = SyringeParams(volume_ml=c.syringe_volume_ml, refill_flow_ml_min=c.refill_flow_ml_min)
        syringes = []
        for tag in ("A", "B"):
            name = f"{role}.{tag}"
            plant.add_syringe(name, params, reservoir, stream)
            syringes.append(SimSyringePump(plant, name, device=role, pressure_rating_bar=c.pressure_rating_bar,
                                           min_flow_ml_min=SIM_DRIVE_MIN_FLOW_ML_MIN,
                                           max_flow_ml_min=c.max_flow_ml_min))
        out[role] = AlternatingPump(role, syringes[0], syringes[1], clock, switch_volume_ml=c.switch_volume_ml,
                                    overlap=c.overlap, min_flow_ml_min=c.min_flow_ml_min,
                                    max_flow_ml_min=c.max_flow_ml_min)
    for role, box in (("hb1", process.core_box), ("hb2", process.shell_box)):
        h = getattr(dev, role, None)
        if role in wanted and h is not None and box is not None:
            plant.add_heater(box, HeaterParams(), h.ramp_c_min)
            ctrl = SimTemperatureController(plant, box, min_c=h.min_c, max_c=h.max_c,
                                            max_ramp_c_min=h.max_ramp_c_min, device=role)
            out[role] = ctrl
    if "pressure" in wanted:
        out["pressure"] = SimPressureSensor(plant, "pressure", max_bar=dev.pressure.max_bar)
    if "outlet_valve" in wanted:
        out["outlet_valve"] = SimValve(plant, "outlet_valve")
    for role in ("uvvis", "pl"):
        sc = getattr(dev, role, None)
        if role in wanted and sc is not None:
            out[role] = SimSpectrometer(plant, role, mode=sc.mode, path_mm=sc.path_mm,
                                        wavelength_min_nm=sc.wavelength_min_nm, wavelength_max_nm=sc.wavelength_max_nm,
                                        pixels=sc.pixels, integration_ms=sc.integration_ms, averages=sc.averages,
                                        full_well_counts=sc.full_well_counts,
                                        excitation_nm=sc.excitation_nm if sc.mode == "pl" else None,
                                        excitation_fwhm_nm=sc.excitation_fwhm_nm,
                                        sphere_excitation_counts=sc.sphere_excitation_counts)
    heater_boxes = {role: box for role, box in (("hb1", process.core_box), ("hb2", process.shell_box))
                    if role in out and box is not None}
    plant.fast_forward = SimFastForward(
        plant, {r: out[r] for r in ("core_pump", "shell_pump") if r in out}, heater_boxes,
        dev.pressure.max_bar if "pressure" in out else None)
    return out, plant
