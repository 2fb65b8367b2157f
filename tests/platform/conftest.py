"""Fixtures: the paper's platform, simulated with the fast surrogate twin on an unthrottled clock."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flowqd.devices import Devices, SimClock, build_devices
from flowqd.devices.sim import SurrogateTwin
from flowqd.platform import MemoryRecorder, RunEngine, campaign_from_text, platform_from_text
from flowqd.platform.analyzer import SpectrumAnalyzer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def platform_text(**replace: str) -> str:
    text = (EXAMPLES / "platform-wang-segets-2023.toml").read_text().replace('twin = "default"', 'twin = "surrogate"')
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


QUICK_CAMPAIGN = """
name = "quick"
[defaults]
core_flow_ml_min = 0.1
n_spectra = 3
[[conditions]]
core_temperature_c = 180.0
[[conditions]]
core_temperature_c = 220.0
"""


@dataclass
class Rig:
    platform: Any
    clock: SimClock
    devices: Devices
    recorder: MemoryRecorder
    engine: RunEngine

    @property
    def plant(self) -> Any:
        return self.devices.backend


def make_rig(text: str | None = None, recorder: MemoryRecorder | None = None, **engine_kwargs: Any) -> Rig:
    platform = platform_from_text(text or platform_text(), "platform.toml")
    clock = SimClock(speedup=math.inf)
    devices = build_devices(platform, clock, twin=SurrogateTwin())
    rec = recorder or MemoryRecorder()
    engine_kwargs.setdefault("analyzer", SpectrumAnalyzer.for_platform(platform, psd=False))
    engine = RunEngine(platform, devices, clock, rec, **engine_kwargs)
    return Rig(platform, clock, devices, rec, engine)


@pytest.fixture
def rig() -> Rig:
    return make_rig()


@pytest.fixture
def quick_campaign() -> Any:
    return campaign_from_text(QUICK_CAMPAIGN, "quick.toml")


@pytest.fixture
def make() -> Any:
    """``make(text=None, recorder=None, **engine_kwargs) -> Rig``."""
    return make_rig


@pytest.fixture
def ptext() -> Any:
    """``ptext(**replacements) -> platform TOML text`` (surrogate twin)."""
    return platform_text
