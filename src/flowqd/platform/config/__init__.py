"""Platform and campaign files (TOML → pydantic models, ``extra="forbid"``).

A **platform** file (:mod:`.hardware`) describes the hardware: the reactor train (the ``[reactor]`` table is
:class:`flowqd.reactor.config.TrainConfig`), one ``[devices.<role>]`` table per device (``driver = "sim"`` or a
real driver, ``port``, ``address``, limits), the engine's ``[control]`` criteria, the ``[interlocks]`` thresholds
and the ``[sim]`` options. A **campaign** file (:mod:`.campaign`) lists the conditions to run — a ``[[conditions]]``
list and/or a ``[sweep]`` grid — with ``[defaults]`` applied to each; every condition holds a
:class:`flowqd.reactor.conditions.Conditions`. :mod:`.loaders` reads both through :mod:`flowqd._toml`.

Units are part of every key (``_c``, ``_ml_min``, ``_bar``, ``_s``, ``_ms``, ``_mm``, ``_nm``, ``_ml``), so a value
in another unit is an *unknown key*, never a silently wrong number. Every problem is a
:class:`~flowqd.errors.ConfigError` whose message names the FILE, the KEY and the VALUE, e.g.
``examples/campaign.toml: conditions[2].core_flow_ml_min = 5.0: outside the core pump range 0.03-1.5 mL/min``.
"""

from flowqd.platform.config._base import FromToml
from flowqd.platform.config.campaign import (
    MAX_CONDITIONS,
    MAX_SWEEP_AXIS,
    CampaignCondition,
    CampaignConfig,
    ConditionDefaults,
    RangeSpec,
    SweepConfig,
    check_campaign,
)
from flowqd.platform.config.hardware import (
    MAX_PIXELS,
    MAX_SCAN_MS,
    ControlConfig,
    DeviceConfig,
    DevicesConfig,
    DualSyringePumpConfig,
    HeaterConfig,
    InterlockConfig,
    NoDotsRegion,
    PlatformConfig,
    PressureSensorConfig,
    SimConfig,
    SpectrometerConfig,
    SyringePumpConfig,
    ValveConfig,
)
from flowqd.platform.config.loaders import campaign_from_text, load_campaign, load_platform, platform_from_text

__all__ = [
    "MAX_CONDITIONS",
    "MAX_PIXELS",
    "MAX_SCAN_MS",
    "MAX_SWEEP_AXIS",
    "CampaignCondition",
    "CampaignConfig",
    "ConditionDefaults",
    "ControlConfig",
    "DeviceConfig",
    "DevicesConfig",
    "DualSyringePumpConfig",
    "FromToml",
    "HeaterConfig",
    "InterlockConfig",
    "NoDotsRegion",
    "PlatformConfig",
    "PressureSensorConfig",
    "RangeSpec",
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
