"""flowqd._toml: every config kind refuses an unknown key with one line naming the key and the allowed ones."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from flowqd import _toml
from flowqd.devices.drivers.modbus_tc import load_register_map
from flowqd.errors import ConfigError
from flowqd.materials import load_material
from flowqd.optimize.campaign import load_optimize_campaign
from flowqd.platform import load_campaign, load_platform
from flowqd.reactor.config import load_train
from flowqd.reactor.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MATERIALS = ROOT / "src" / "flowqd" / "materials" / "data"
REGISTER_MAPS = ROOT / "src" / "flowqd" / "devices" / "drivers" / "data"

_CAMPAIGN_KEYS = ("collect_volume_ml, core_flow_ml_min, core_temperature_c, core_units, ddt_flow_ml_min, label, "
                  "n_spectra, shell, shell_temperature_c, shell_units")

# (config kind, source file, loader, original text, misspelled text, expected line after "<file>: ")
CASES: list[tuple[str, Path, Callable[[Path], Any], str, str, str]] = [
    ("material", MATERIALS / "InP.toml", load_material, "fit_above_peak_ev = 1.0", "fit_above_peak_eV = 1.0",
     "psd_kernel.fit_above_peak_eV = 1.0: unknown key (did you mean fit_above_peak_ev?); allowed: "
     "bands, diameter_grid_nm, exciton_strength, exciton_strength_size_exponent, exciton_width_ev, fit_above_peak_ev, "
     "onset_margin_ev, onset_offset_ev, onset_width_ev"),
    ("material analysis table", MATERIALS / "CdSe.toml", load_material, "[analysis]",
     "[analysis]\nwavelength_star = 350.0",
     "analysis.wavelength_star = 350.0: unknown key (did you mean wavelength_star_nm?); allowed: exciton_search_nm, "
     "wavelength_star_nm"),
    ("train", EXAMPLES / "reactor-wang-segets-2023.toml", load_train, "inner_diameter_mm = 0.9975",
     "inner_diametre_mm = 0.9975",
     "heating_box[0].units[0].inner_diametre_mm = 0.9975: unknown key (did you mean inner_diameter_mm?); allowed: "
     "coil_diameter_mm, inner_diameter_mm, length_m, max_temperature_c, name"),
    ("recipe", EXAMPLES / "recipe-wang-segets-2023.toml", load_recipe, "molar_mass_g_mol = 221.18",
     "molar_mass_g = 221.18",
     "stock.components[0].molar_mass_g = 221.18: unknown key (wrong unit? did you mean molar_mass_g_mol: units are "
     "part of the key); allowed: density_g_ml, hnet2_per_mol, mass_mg, molar_mass_g_mol, name, role, source, "
     "volume_ml"),
    ("platform", EXAMPLES / "platform-wang-segets-2023.toml", load_platform, "spectrum_interval_s = 60.0",
     "spectrum_intervall_s = 60.0",
     "control.spectrum_intervall_s = 60.0: unknown key (did you mean spectrum_interval_s?); allowed: "
     "control_period_s, drift_window, feed_indium_mol_l, material, max_extra_spectra, peak_drift_nm, "
     "spectrum_interval_s, stabilise_timeout_s, temperature_hold_s, temperature_tolerance_c, trace_period_s, "
     "washout_fraction"),
    ("campaign", EXAMPLES / "campaign-temperature-series.toml", load_campaign, 'label = "180 C"',
     'lable = "180 C"',
     f"conditions[0].lable = '180 C': unknown key (did you mean label?); allowed: {_CAMPAIGN_KEYS}"),
    ("optimisation campaign", EXAMPLES / "campaign-optimize-emission.toml", load_optimize_campaign,
     "stop_at_target = true", "stop_at_targte = true",
     "budget.stop_at_targte = True: unknown key (did you mean stop_at_target?); allowed: experiments, hours, "
     "stock_ml, stop_at_target"),
    ("register map", REGISTER_MAPS / "eurotherm-3200.toml", lambda p: load_register_map(str(p)),
     "process_value = {", "proces_value = {",
     "registers.proces_value: unknown key (did you mean process_value?); allowed: auto_manual, output_percent, "
     "process_value, setpoint_rate, target_setpoint, working_setpoint"),
]


@pytest.mark.parametrize(("kind", "source", "load", "old", "new", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_misspelled_key_is_one_line_naming_it_and_the_allowed_keys(
        tmp_path: Path, kind: str, source: Path, load: Callable[[Path], Any], old: str, new: str,
        expected: str) -> None:
    for sibling in source.parent.iterdir():  # a material's CSV tables are read relative to its file
        if sibling.suffix == ".csv":
            shutil.copy(sibling, tmp_path / sibling.name)
    good, bad = tmp_path / f"good-{source.name}", tmp_path / f"bad-{source.name}"
    text = source.read_text()
    assert text.count(old) >= 1
    good.write_text(text)
    bad.write_text(text.replace(old, new, 1))
    load(good)  # the file as shipped loads: the error below is the misspelling alone
    with pytest.raises(ConfigError) as err:
        load(bad)
    message = str(err.value)
    assert "\n" not in message
    # a required key misspelled is also reported missing, first (the train's inner diameter, the register map's PV)
    assert message.startswith(f"{bad}: ") and message.endswith(expected), message
    assert message.count("; ") <= 2 and message.count("unknown key") == 1


def test_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('name = "x"\n[[conditions]]\ncore_temperature_c = 200.0.0\n')
    with pytest.raises(ConfigError) as err:
        load_campaign(p)
    assert str(err.value) == f"{p}: not valid TOML at line 3, column 27: expected newline or end of document after a " \
                             "statement"
    p.write_text('name = "x"\nlabel = ')
    with pytest.raises(ConfigError, match=r"c.toml: not valid TOML at the end of the file: invalid value$"):
        load_campaign(p)
    with pytest.raises(ConfigError, match=r"nope.toml: file not found$"):
        _toml.read_toml(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r": is a directory, not a TOML file$"):
        _toml.read_toml(tmp_path)
    (tmp_path / "latin1.toml").write_bytes(b'name = "\xe9"\n')
    with pytest.raises(ConfigError, match=r"latin1.toml: not UTF-8 text \(byte 8\)$"):
        _toml.read_toml(tmp_path / "latin1.toml")


class _Pump(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_flow_ml_min: float = 1.5
    pressure_rating_bar: float = 20.0


class _Rig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pumps: dict[str, _Pump] = {}
    pump: _Pump = _Pump()
    flows: list[float] | tuple[float, float] = ()


@pytest.mark.parametrize(("data", "expected"), [
    ({"pump": {"max_flow_ul_min": 5}}, "pump.max_flow_ul_min = 5: unknown key (wrong unit? did you mean "
     "max_flow_ml_min: units are part of the key); allowed: max_flow_ml_min, pressure_rating_bar"),
    ({"pump": {"pressure_rating_psi": 300}}, "pump.pressure_rating_psi = 300: unknown key (wrong unit? did you "
     "mean pressure_rating_bar: units are part of the key); allowed: max_flow_ml_min, pressure_rating_bar"),
    ({"pumps": {"core": {"colour": "red"}}}, "pumps.core.colour = 'red': unknown key; allowed: max_flow_ml_min, "
     "pressure_rating_bar"),  # a dict table's key is a name, not a key to check
    ({"pump": {"max_flow_ml_min": "fast"}}, "pump.max_flow_ml_min = 'fast': Input should be a valid number, unable "
     "to parse string as a number"),
    ({"speed": 3}, "speed = 3: unknown key; allowed: flows, pump, pumps"),
])
def test_error_lines(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as err:
        _Rig.model_validate(data)
    assert _toml.format_errors(err.value, _Rig) == expected


def test_union_branches_give_one_line_per_key_and_values_can_be_left_out() -> None:
    with pytest.raises(ValidationError) as err:
        _Rig.model_validate({"flows": "a"})
    assert _toml.error_lines(err.value.errors(), _Rig) == ["flows = 'a': Input should be a valid list"]
    assert len(err.value.errors()) == 2  # pydantic: one per branch of list[float] | tuple[float, float]
    with pytest.raises(ValidationError) as err:
        _Rig.model_validate({"body_of_request": {"pump": {"max_flow_ml_min": "secret"}}})
    assert _toml.format_errors(err.value, _Rig, values=False) == (
        "body_of_request: unknown key; allowed: flows, pump, pumps")
    assert _toml.format_errors(ValueError("plain\n  error")) == "plain error"


def test_the_command_line_prints_the_same_line_in_red_and_starts_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flowqd.cli import main

    bad = tmp_path / "c.toml"
    bad.write_text((EXAMPLES / "campaign-temperature-series.toml").read_text().replace('label = "180 C"',
                                                                                      'lable = "180 C"'))
    assert main(["run", str(bad), "--db", f"sqlite:///{tmp_path / 'runs.sqlite'}", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert f"{bad}: conditions[0].lable = '180 C': unknown key (did you mean label?)" in " ".join(err.split())
    assert not (tmp_path / "runs.sqlite").exists()
