"""Config fuzzing (issue 9): the example platform and campaign files with one value replaced by garbage (NaN, ±inf,
huge or negative numbers, booleans, numeric strings, lists, tables), a key deleted or an unknown key added.

Every file the validator refuses is refused by ``flowqd run`` with exit code 2, one red line, no traceback, and
no database file created; every file it accepts holds only finite numbers of the right types (so acceptance never
hides a NaN or a ``true`` read as 1.0)."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowqd.cli import main
from flowqd.errors import FlowqdError
from flowqd.platform import campaign_from_text, platform_from_text
from flowqd.platform.preflight import preflight

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PLATFORM = tomllib.loads((EXAMPLES / "platform-wang-segets-2023.toml").read_text())
CAMPAIGN = tomllib.loads((EXAMPLES / "campaign-core-shell.toml").read_text())


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def to_toml(doc: dict[str, Any]) -> str:
    """A TOML text of ``doc`` (every table inline: one line per top-level key)."""
    return "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in doc.items())


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if isinstance(v, dict):
                out += _paths(v, (*prefix, i))
    return out


PLATFORM_PATHS = _paths(PLATFORM)
CAMPAIGN_PATHS = _paths(CAMPAIGN)
GARBAGE = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1e300, 1e300, -1.0, 0.0, 0, -1, 10**12, 2e8, 1e9, True, False,
                     "350", "", "nan", [], [1.0, "x"], {}, {"a": 1}]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(max_size=5),
)


def _mutate(doc: dict[str, Any], path: tuple[Any, ...], how: str, value: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc))  # deep copy (the examples hold no NaN)
    node = doc
    for part in path[:-1]:
        node = node[part]
    key = path[-1]
    if how == "delete":
        del node[key]
    elif how == "unknown":
        node[f"{key}_typo"] = 1.0
    else:
        node[key] = value
    return doc


def _numbers_ok(node: Any) -> bool:
    if isinstance(node, float):
        return math.isfinite(node)
    if isinstance(node, dict):
        return all(_numbers_ok(v) for v in node.values())
    if isinstance(node, list | tuple):
        return all(_numbers_ok(v) for v in node)
    return True


def _accepted(platform_text: str, campaign_text: str) -> Any:
    try:
        p = platform_from_text(platform_text, "p.toml")
        c = campaign_from_text(campaign_text, "c.toml")
        preflight(c, p).raise_if_failed()
    except FlowqdError:
        return None
    return p, c


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["platform", "campaign"]), data=st.data(),
       how=st.sampled_from(["replace", "replace", "replace", "delete", "unknown"]), value=GARBAGE)
def test_fuzzed_configs_are_refused_in_one_line_or_are_sane(tmp_path_factory, capsys, which, data, how, value):
    paths = PLATFORM_PATHS if which == "platform" else CAMPAIGN_PATHS
    path = data.draw(st.sampled_from(paths))
    platform, campaign = PLATFORM, CAMPAIGN
    if which == "platform":
        platform = _mutate(PLATFORM, path, how, value)
    else:
        campaign = _mutate(CAMPAIGN, path, how, value)
    p_text, c_text = to_toml(platform), to_toml(campaign)
    accepted = _accepted(p_text, c_text)
    if accepted is not None:
        p, c = accepted
        assert _numbers_ok(p.model_dump()) and _numbers_ok(c.model_dump())
        for cond in c.conditions:  # strict types: a bool never stands in for a number
            c_ = cond.conditions
            assert not isinstance(c_.core_flow_ml_min, bool) and not isinstance(c_.core_temperature_c, bool)
        return
    d = tmp_path_factory.mktemp("fuzz")
    (d / "p.toml").write_text(p_text)
    (d / "c.toml").write_text(c_text)
    db = d / "db" / "runs.sqlite"
    capsys.readouterr()
    code = main(["run", str(d / "c.toml"), "--platform", str(d / "p.toml"), "--db", f"sqlite:///{db}",
                 "--speed", "0", "--quiet", "--stop-file", str(d / "STOP")])
    text = capsys.readouterr().err
    assert code == 2, (path, how, value, text)
    assert "Traceback" not in text and text.startswith("error:"), text
    assert text.count("\n") <= 1 or "pre-flight failed" in text, text  # pre-flight lists its problems, one a line
    assert not db.exists() and not db.parent.exists(), "nothing may be written for a refused file"


@pytest.mark.parametrize(("where", "old", "new", "expect"), [
    ("p", "max_pressure_rise_bar_min = 2.0", "max_pressure_rise_bar_min = inf", "finite number"),
    ("p", "safe_setpoint_c = 25.0", "safe_setpoint_c = 400.0", "less than or equal to 100"),
    ("p", "sensor_max_c = 500.0", "sensor_max_c = 300.0",
     "sensor_max_c 300 must be above devices.hb1.max_c 350"),
    ("p", "min_c = 20.0\nmax_c = 350.0", "min_c = -1e300\nmax_c = 350.0", "greater than or equal to -50"),
    ("p", "max_c = 350.0", 'max_c = "350"', "devices.hb1.max_c = '350': Input should be a valid number"),
    ("p", "averages = 10", "averages = 1e9", "valid integer"),
    ("p", "averages = 10", "averages = 1000000000", "less than or equal to 10000"),
    ("p", "pixels = 2048", "pixels = 2e8", "valid integer"),
    ("p", "pixels = 2048", "pixels = 200000000", "less than or equal to 65536"),
    ("p", "seed = 0", "seed = -1", "sim.seed = -1: Input should be greater than or equal to 0"),
    ("p", "ambient_c = 25.0", "ambient_c = nan", "sim.ambient_c = nan: Input should be a finite number"),
    ("c", "core_flow_ml_min = 0.06", "core_flow_ml_min = true", "core_flow_ml_min = True: Input should be a valid"),
    ("c", "[[conditions]]", "[sweep]\ncore_temperature_c = {start = 150.0, stop = 300.0, num = 3000}\n"
     "core_flow_ml_min = {start = 0.05, stop = 0.3, num = 3000}\n[[conditions]]", "less than or equal to 1000"),
    ("c", "[[conditions]]", "[sweep]\ncore_temperature_c = {start = 150.0, stop = 300.0, num = 100}\n"
     "core_flow_ml_min = {start = 0.05, stop = 0.3, num = 100}\n[[conditions]]",
     "the sweep has 10000 conditions (+ 1 listed): at most 5000 per campaign"),
])
def test_named_unsafe_limits_are_one_line_errors(tmp_path, capsys, where, old, new, expect):
    p_text = (EXAMPLES / "platform-wang-segets-2023.toml").read_text().replace('twin = "default"',
                                                                                'twin = "surrogate"')
    c_text = (EXAMPLES / "campaign-core-shell.toml").read_text()
    if where == "p":
        assert old in p_text
        p_text = p_text.replace(old, new, 1)
    else:
        assert old in c_text
        c_text = c_text.replace(old, new, 1)
    (tmp_path / "p.toml").write_text(p_text)
    (tmp_path / "c.toml").write_text(c_text)
    db = tmp_path / "db" / "x.sqlite"
    code = main(["run", str(tmp_path / "c.toml"), "--platform", str(tmp_path / "p.toml"), "--db", f"sqlite:///{db}",
                 "--speed", "0", "--quiet", "--stop-file", str(tmp_path / "STOP")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert expect in " ".join(err.split()), err
    assert not db.parent.exists()


@pytest.mark.parametrize("speed", ["nan", "inf", "-1"])
def test_speed_must_be_finite_and_non_negative(tmp_path, capsys, speed):
    (tmp_path / "c.toml").write_text((EXAMPLES / "campaign-temperature-series.toml").read_text())
    code = main(["run", str(tmp_path / "c.toml"), "--db", f"sqlite:///{tmp_path / 'db' / 'x.sqlite'}", "--speed",
                 speed, "--quiet", "--stop-file", str(tmp_path / "STOP")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--speed" in err and "finite number ≥ 0" in err
    assert not (tmp_path / "db").exists()


def test_unknown_material_fails_preflight(tmp_path, capsys):
    p_text = (EXAMPLES / "platform-wang-segets-2023.toml").read_text().replace('material = "InP"',
                                                                                'material = "Unobtainium"')
    (tmp_path / "p.toml").write_text(p_text)
    (tmp_path / "c.toml").write_text((EXAMPLES / "campaign-temperature-series.toml").read_text())
    code = main(["run", str(tmp_path / "c.toml"), "--platform", str(tmp_path / "p.toml"), "--db",
                 f"sqlite:///{tmp_path / 'db' / 'x.sqlite'}", "--quiet", "--stop-file", str(tmp_path / "STOP")])
    err = capsys.readouterr().err
    assert code == 2 and "control.material = 'Unobtainium': unknown material" in " ".join(err.split())
    assert "nothing was started" in err and not (tmp_path / "db").exists()
    # a UV-vis range that starts beyond InP's bulk gap (1.35 eV in InP.toml: 918 nm) could never show an exciton
    p2 = (EXAMPLES / "platform-wang-segets-2023.toml").read_text().replace(
        "wavelength_min_nm = 400.0\nwavelength_max_nm = 900.0",
        "wavelength_min_nm = 950.0\nwavelength_max_nm = 1100.0")
    p = platform_from_text(p2, "p.toml")
    from flowqd.platform.preflight import analysis_problems

    assert analysis_problems(p) == ["p.toml: devices.uvvis.wavelength_min_nm = 950.0: at or above the bulk band-gap "
                                    "wavelength of InP (918 nm); no exciton of its dots can be in view"]
