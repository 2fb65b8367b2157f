"""One set-point type: the twin, the simulated plant and the platform all speak ``flowqd.reactor.Conditions``."""

from __future__ import annotations

import math

import pytest
from tests.platform.conftest import platform_text
from tests.reactor.test_process import PAPER_UNIT_VOLUME_ML

from flowqd.devices import SimClock, build_devices
from flowqd.devices.sim import SurrogateTwin
from flowqd.platform import campaign_from_text, platform_from_text, preflight
from flowqd.platform.preflight import operating_point
from flowqd.reactor import Conditions

CAMPAIGN = """
name = "set points"
[[conditions]]
core_temperature_c = 180.0
core_flow_ml_min = 0.1
[[conditions]]
core_temperature_c = 230.0
core_flow_ml_min = 0.15
shell = true
shell_temperature_c = 200.0
ddt_flow_ml_min = 0.05
"""


class _RecordingTwin(SurrogateTwin):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[object] = []

    def predict(self, c):
        self.seen.append(c)
        return super().predict(c)


def test_twin_plant_and_platform_share_one_set_point_type():
    import flowqd.twin

    assert flowqd.twin.Conditions is Conditions
    platform = platform_from_text(platform_text(), "platform.toml")
    campaign = campaign_from_text(CAMPAIGN, "c.toml")
    points = [operating_point(c) for c in campaign.conditions]  # the platform's set points
    assert [type(p) for p in points] == [Conditions, Conditions]
    assert points[1] == Conditions(230.0, 0.15, 1, True, 200.0, 0.05, 1)
    twin = _RecordingTwin()
    plant = build_devices(platform, SimClock(speedup=math.inf), twin=twin).backend
    plant.expect(points)  # the plant asks its twin at the campaign's set points
    assert twin.seen == points and all(type(c) is Conditions for c in twin.seen)
    assert plant.prediction(points[0]).peak_wavelength_nm == twin.predict(points[0]).peak_wavelength_nm


def test_the_platforms_residence_time_is_the_geometry_volume():
    platform = platform_from_text(platform_text(), "platform.toml")
    report = preflight(campaign_from_text(CAMPAIGN, "c.toml"), platform)
    assert report.ok, report.problems
    # the paper platform switches in one HB1 unit and one HB2 unit (π/4·d²·L = 3.595 mL each)
    assert report.plans[0].residence_time_min == pytest.approx(PAPER_UNIT_VOLUME_ML / 0.1, rel=1e-9)
    assert report.plans[1].residence_time_min == pytest.approx(
        PAPER_UNIT_VOLUME_ML / 0.15 + PAPER_UNIT_VOLUME_ML / 0.2, rel=1e-9)


def test_a_campaign_condition_outside_the_models_range_is_a_preflight_problem():
    platform = platform_from_text(platform_text(), "platform.toml")
    cold = campaign_from_text(CAMPAIGN.replace("core_temperature_c = 180.0", "core_temperature_c = 80.0"), "c.toml")
    report = preflight(cold, platform)
    assert not report.ok
    assert any("conditions[0]" in p and "below the model's lower limit" in p for p in report.problems), report.problems
