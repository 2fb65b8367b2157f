"""Issue 13 items 6-9 on the command line: plan limit statuses, one-line errors, consistency, progress."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from flowqd.cli import main

ROOT = Path(__file__).resolve().parents[2]
SWEEP_2X2 = """
name = "sweep-2x2"
[defaults]
n_spectra = 3
[sweep]
core_temperature_c = [180.0, 220.0]
core_flow_ml_min = [0.1, 0.2]
"""


def _err_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]


# ------------------------------------------------------------------------------------------------ item 6
def test_item6_plan_limits_have_statuses_in_json(capsys):
    assert main(["plan", "--temperature-c", "300", "--flow-ml-min", "1.5", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    status = {e["key"]: e["status"] for e in r["limits"]}
    assert status == {"pressure_margin_bar": "ok", "bubble_point_margin_bar": "warning",
                      "syringe_duration_min": "warning", "stock_ml": "warning", "washout_particle_min": "ok"}
    bp = next(e for e in r["limits"] if e["key"] == "bubble_point_margin_bar")
    assert bp["value"] < 0 and "supercritical" in bp["note"] and "back pressure" in bp["note"]
    assert r["status"] == "warning"
    # the paper's operating point with a thick stock: the pressure passes the 20 bar syringe rating → refused
    assert main(["plan", "--flow-ml-min", "1.5", "--viscosity-multiplier", "3000", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["pressure_margin_bar"] < 0 and r["status"] == "refused"


def test_item6_plan_table_shows_statuses_in_colour(monkeypatch):
    from flowqd.cli import plan as plan_cli

    out = io.StringIO()
    monkeypatch.setattr(plan_cli, "console", Console(file=out, force_terminal=True, width=120, color_system="standard"))
    assert main(["plan", "--temperature-c", "300", "--flow-ml-min", "1.5"]) == 0
    text = out.getvalue()
    assert "\x1b[33mwarning" in text  # yellow
    assert "\x1b[32mok" in text  # green
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert "warning: syringe_duration_min = 1.67 min: 35 syringe swaps" in plain


# ------------------------------------------------------------------------------------------------ item 7
def test_item7_unknown_option_is_one_line(capsys):
    assert main(["analyze", "plqy", "--plot", "x.png"]) == 2
    (line,) = _err_lines(capsys)
    assert "no such option: --plot" in line and "Possible options" not in line
    assert "--empty" in line and "--method" in line and "--sample" in line  # all its options, not one guess


def test_item7_de_mello_error_names_the_option(capsys, tmp_path):
    assert main(["analyze", "plqy", "--method", "de-mello", "--blank", str(tmp_path / "b.csv"),
                 "--sample", str(tmp_path / "s.csv")]) == 2
    (line,) = _err_lines(capsys)
    assert "--empty FILE" in line and "empty=" not in line


def test_item7_unreachable_postgresql_is_one_line(capsys):
    import psycopg  # noqa: F401  (the test extra: the driver must be there, so the error is about the server)

    assert main(["runs", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/flowqd"]) == 2
    (line,) = _err_lines(capsys)
    assert line.startswith("error: cannot open the database:") and "127.0.0.1" in line


def test_item7_refused_campaign_leaves_no_database_and_names_the_key(capsys, tmp_path):
    campaign = tmp_path / "sweep.toml"
    campaign.write_text(SWEEP_2X2)
    db = tmp_path / "data" / "flowqd.sqlite"
    assert main(["run", str(campaign), "--db", f"sqlite:///{db}", "--speed", "0", "-q"]) == 2
    (line,) = _err_lines(capsys)
    assert not db.exists() and not db.parent.exists()  # nothing written
    assert "<flowqd>" not in line  # not a file inside the installed package
    assert "devices.core_pump.reservoir_ml = 61" in line and "--platform FILE" in line
    assert "60.3 mL of stock" in line


# ------------------------------------------------------------------------------------------------ item 8
def test_item8_runs_json(capsys, tmp_path):
    from flowqd.store import Store

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Store(url) as store:
        run_id = store.create_run("first")
        store.add_condition(run_id, 0, core_temperature_c=200.0, core_flow_ml_min=0.1)
    assert main(["runs", "--db", url, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["id"] == run_id and row["name"] == "first" and row["n_conditions"] == 1 and row["n_spectra"] == 0
    assert "platform_toml" not in row


@pytest.mark.parametrize("command", [
    ["analyze", "absorbance"], ["analyze", "pl"], ["analyze", "plqy"], ["plan"], ["simulate"], ["run"], ["runs"],
    ["report"], ["export"], ["demo"], ["stop"], ["materials"], ["twin", "calibrate"], ["serve"], []])
def test_item8_help_texts_show_no_python_types(capsys, command):
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    for python in ("<float>", "<int>", "<str>", "<bool>", "<path>", "<list[", "{files}", "{run}"):
        assert python not in text, (command, python)


def test_item8_help_shows_people_metavars(capsys):
    assert main(["analyze", "absorbance", "--help"]) == 0
    text = capsys.readouterr().out
    assert "FILE..." in text and "FLOAT" in text


def test_item8_sweep_conditions_are_labelled():
    from flowqd.platform import campaign_from_text

    campaign = campaign_from_text(SWEEP_2X2 + "[[conditions]]\ncore_temperature_c = 250.0\ncore_flow_ml_min = 0.3\n"
                                  "label = 'mine'\n", "sweep.toml")
    assert [c.label for c in campaign.conditions] == [
        "mine", "180 °C · 0.1 mL/min", "180 °C · 0.2 mL/min", "220 °C · 0.1 mL/min", "220 °C · 0.2 mL/min"]


def test_item8_gitignore_covers_what_flowqd_writes():
    lines = (ROOT / ".gitignore").read_text().splitlines()
    assert "flowqd-data/" in lines and "flowqd-export/" in lines


def test_item8_time_for_people():
    from datetime import UTC, datetime, timedelta, timezone

    from flowqd._time import for_people

    t = datetime(2026, 12, 3, 11, 26, 27, 999999, tzinfo=timezone(timedelta(hours=1)))
    assert for_people(t) == "2026-12-03 10:26:27 UTC"
    assert for_people(t.astimezone(UTC).replace(tzinfo=None)) == "2026-12-03 10:26:27 UTC"


# ------------------------------------------------------------------------------------------------ item 9
def test_item9_simulate_grid_shows_progress_with_eta(capsys, monkeypatch):
    from flowqd.cli import _common

    out = io.StringIO()
    monkeypatch.setattr(_common, "err_console", Console(file=out, force_terminal=True, width=120))
    assert main(["simulate", "--grid", "--temperatures", "200", "--flows", "0.1,0.2", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)  # stdout stays clean JSON
    assert len(records) == 2
    shown = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.getvalue())
    assert "loading the twin" in shown and "simulating 200 °C × 2 flows" in shown
    assert "ETA" in shown and "2/2" in shown  # loading + one temperature


def test_item9_live_panel_shows_campaign_eta():
    from flowqd.cli.platform import LiveDisplay
    from flowqd.platform.engine import Progress

    display = LiveDisplay(total_s=3600.0)
    start = Progress(run_id=1, t_s=0.0, phase="stabilising", condition_index=0, n_conditions=2, label="200 °C")
    half = Progress(run_id=1, t_s=1800.0, phase="acquiring", condition_index=1, n_conditions=2, label="220 °C")
    assert display.eta(start) == (0.0, None)
    frac, left_s = display.eta(half)
    assert frac == pytest.approx(0.5) and left_s is not None and left_s >= 0
    console = Console(file=io.StringIO(), width=140, record=True)
    console.print(display._render(half))
    text = console.export_text()
    assert "campaign" in text and "50 %" in text and "ETA 0:00:0" in text and "30 min of process time left" in text


def test_item7_no_arguments_still_shows_the_help(capsys):
    assert main([]) == 2  # click's no_args_is_help, as before: the help, no error line
    captured = capsys.readouterr()
    assert "Usage: flowqd" in captured.out + captured.err and "error:" not in captured.err


def test_item8_report_and_export_json(capsys, tmp_path):
    from tests.store_fixtures import populate_demo_run

    from flowqd.store import Store

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Store(url) as store:
        run_id = populate_demo_run(store, temperatures_c=(180.0, 250.0), n_spectra=1, shell=False)
    assert main(["report", str(run_id), "--db", url, "--out", str(tmp_path / "rep"), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["run_id"] == run_id and Path(r["report"]).is_file() and all(Path(f).is_file() for f in r["figures"])
    assert main(["export", str(run_id), "--db", url, "--out", str(tmp_path / "csv"), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["format"] == "csv" and r["files"] and all(Path(f).is_file() for f in r["files"])
