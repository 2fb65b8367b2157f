"""The platform: configs, pre-flight checks, interlocks, the run engine and its recorder protocol.

Runtime code here sees only device *protocols*, a clock and a :class:`~flowqd.platform.recorder.RunRecorder`;
devices are built through :func:`flowqd.devices.build_devices` (the simulation is imported there, by name).
"""

from flowqd.platform.config import (
    CampaignConfig,
    PlatformConfig,
    campaign_from_text,
    check_campaign,
    load_campaign,
    load_platform,
    platform_from_text,
)
from flowqd.platform.engine import Progress, RunEngine, RunSummary
from flowqd.platform.interlocks import Interlocks, Snapshot, Trip
from flowqd.platform.preflight import PreflightReport, preflight
from flowqd.platform.recorder import MemoryRecorder, RunRecorder

__all__ = [
    "CampaignConfig",
    "Interlocks",
    "MemoryRecorder",
    "PlatformConfig",
    "PreflightReport",
    "Progress",
    "RunEngine",
    "RunRecorder",
    "RunSummary",
    "Snapshot",
    "Trip",
    "campaign_from_text",
    "check_campaign",
    "load_campaign",
    "load_platform",
    "platform_from_text",
    "preflight",
]
