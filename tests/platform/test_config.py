"""Bad platform/campaign files: one ConfigError naming FILE, KEY and VALUE; nothing is started."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowqd.errors import ConfigError
from flowqd.platform import campaign_from_text, check_campaign, load_campaign, load_platform, platform_from_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CAMPAIGN = (EXAMPLES / "campaign-temperature-series.toml").read_text()
PLATFORM = (EXAMPLES / "platform-wang-segets-2023.toml").read_text()


def test_examples_and_packaged_copies_load_and_agree():
    p = load_platform(EXAMPLES / "platform-wang-segets-2023.toml")
    c = load_campaign(EXAMPLES / "campaign-temperature-series.toml")
    assert [x.conditions.core_temperature_c for x in c.conditions] == [180.0, 200.0, 220.0, 235.0, 250.0]
    assert {x.conditions.core_flow_ml_min for x in c.conditions} == {0.1}
    assert p.devices.core_pump.syringe_volume_ml == 2.5 and p.devices.core_pump.pressure_rating_bar == 20.0
    assert p.devices.uvvis.path_mm == 1.0 and p.box_names() == ("HB1", "HB2")
    assert check_campaign(c, p) == []
    cs = load_campaign(EXAMPLES / "campaign-core-shell.toml").conditions[0].conditions
    assert (cs.core_temperature_c, cs.core_flow_ml_min, cs.ddt_flow_ml_min, cs.shell_temperature_c) == (
        200.0, 0.06, 0.03, 200.0)
    data = Path(__file__).resolve().parents[2] / "src" / "flowqd" / "platform" / "data"
    for name in ("platform-wang-segets-2023.toml", "campaign-temperature-series.toml", "campaign-core-shell.toml"):
        assert (data / name).read_text() == (EXAMPLES / name).read_text()


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("core_temperature_c = 220.0", "core_temperature_c = 400.0",
     "examples/campaign.toml: conditions[2].core_temperature_c = 400.0: core temperature 400 °C above the HB1 limit "
     "350 °C"),
    ("core_temperature_c = 220.0", "core_temperature_k = 493.0",
     "conditions[2].core_temperature_k = 493.0: unknown key (wrong unit? did you mean core_temperature_c"),
    ("collect_volume_ml = 1.0", "collect_volume_ml = 1.0\nspeed = 3",
     "examples/campaign.toml: defaults.speed = 3: unknown key; allowed: collect_volume_ml"),
    ("core_flow_ml_min = 0.1", "core_flow_ml_min = 5.0",
     "conditions[0].core_flow_ml_min = 5.0: core flow 5 mL/min outside the pump range 0.03-1.5 mL/min"),
    ("core_temperature_c = 180.0", "core_temperature_c = 180.0\nshell = true",
     "conditions[0]: a shell condition needs shell_temperature_c and ddt_flow_ml_min"),
])
def test_bad_campaign_names_file_key_value(old, new, expected):
    text = CAMPAIGN.replace(old, new, 1)
    platform = platform_from_text(PLATFORM, "examples/platform.toml")
    with pytest.raises(ConfigError) as err:
        camp = campaign_from_text(text, "examples/campaign.toml")
        problems = check_campaign(camp, platform)
        if problems:
            raise ConfigError("; ".join(problems))
    assert str(err.value).startswith("examples/campaign.toml: ")
    assert expected in str(err.value)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("max_bar = 25.0", "max_psi = 360.0",
     "p.toml: devices.pressure.max_psi = 360.0: unknown key (wrong unit? did you mean max_bar"),
    ("[devices.uvvis]", "[devices.uv_vis]", "p.toml: devices.uvvis: missing device (required)"),
    ("max_pressure_bar = 15.0", "max_pressure_bar = 25.0",
     "interlocks.max_pressure_bar 25 must be below the core_pump rating 20 bar"),
    ("ramp_c_min = 5.0", "ramp_c_min = 50.0", "devices.hb1: Value error"),
    ('units_in_use = ["HB1-1"]', 'units_in_use = ["HB1-9"]', "units_in_use names unknown unit 'HB1-9'"),
])
def test_bad_platform_names_file_key_value(old, new, expected):
    with pytest.raises(ConfigError) as err:
        platform_from_text(PLATFORM.replace(old, new, 1), "p.toml")
    assert expected.replace("Value error", "ramp_c_min 50 above max_ramp_c_min 10") in str(err.value) or \
        expected in str(err.value)


def test_shell_condition_on_a_platform_without_shell_devices():
    no_shell = PLATFORM.split("[devices.shell_pump]")[0] + "[devices.hb1]" + PLATFORM.split("[devices.hb1]")[1]
    no_shell = no_shell.replace(no_shell[no_shell.index("[devices.hb2]"):no_shell.index("[devices.pressure]")], "")
    platform = platform_from_text(no_shell, "p.toml")
    camp = load_campaign(EXAMPLES / "campaign-core-shell.toml")
    problems = check_campaign(camp, platform)
    assert any("missing device: the platform has no [devices.hb2]" in p for p in problems)
    assert any("missing device: the platform has no [devices.shell_pump]" in p for p in problems)
    assert all(p.startswith(str(EXAMPLES / "campaign-core-shell.toml") + ": conditions[0].shell = True")
               for p in problems)


def test_sweep_expands_a_grid_with_defaults():
    camp = campaign_from_text("""
name = "grid"
[defaults]
n_spectra = 4
[sweep]
core_temperature_c = {start = 180.0, stop = 240.0, num = 4}
core_flow_ml_min = [0.05, 0.3]
""", "g.toml")
    assert [(c.conditions.core_temperature_c, c.conditions.core_flow_ml_min) for c in camp.conditions] == [
        (180.0, 0.05), (180.0, 0.3), (200.0, 0.05), (200.0, 0.3), (220.0, 0.05), (220.0, 0.3), (240.0, 0.05),
        (240.0, 0.3)]
    assert {c.n_spectra for c in camp.conditions} == {4}


def test_missing_file_and_bad_toml():
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found"):
        load_campaign("nope.toml")
    with pytest.raises(ConfigError, match=r"x\.toml: not valid TOML"):
        campaign_from_text("name = ", "x.toml")
