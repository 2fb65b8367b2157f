"""``flowqd plan``: JSON numbers and one-line errors."""

from __future__ import annotations

import json

import pytest
import typer

from flowqd.cli import plan as plan_cli
from flowqd.cli._common import run_cli


def _app() -> typer.Typer:
    app = typer.Typer()
    plan_cli.register(app)

    @app.callback()
    def _root() -> None:
        """test root"""

    return app


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert run_cli(_app(), ["plan", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_core_plan_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    r = _json(capsys, "--temperature-c", "200", "--flow-ml-min", "0.1", "--duration-min", "60")
    assert r["residence_time_min"]["HB1"] == pytest.approx(35.95, abs=0.01)
    assert r["residence_time_min"]["total"] == pytest.approx(35.95, abs=0.01)
    assert r["reynolds"]["HB1"] == pytest.approx(2.43, rel=0.015)
    assert r["dean"]["HB1"] == pytest.approx(2.43 * (0.9975 / 30.0) ** 0.5, rel=0.015)
    assert r["pressure_drop_bar"]["total"] == pytest.approx(2.0e-3, rel=0.02)
    assert r["pressure_limit_bar"] == 20.0
    assert r["pressure_margin_bar"] == pytest.approx(20.0 - r["pressure_drop_bar"]["total"], abs=1e-12)
    assert r["stock_ml"] == pytest.approx(6.0, abs=1e-12)
    assert r["syringe_swaps"] == 2
    assert r["in_feed_mmol_h"] == pytest.approx(0.526, rel=0.005)
    assert r["max_inp_mg_h"] == pytest.approx(76.7, rel=0.005)
    assert r["rtd_particle"]["regime"] == "dispersion"
    assert r["residence_time_min"]["HB1"] < r["washout_min"] < r["washout_particle_min"]
    assert r["bubble_point_margin_bar"] == pytest.approx(-0.30, abs=0.02)


def test_shell_plan(capsys: pytest.CaptureFixture[str]) -> None:
    r = _json(capsys, "--flow-ml-min", "0.06", "--shell", "--ddt-flow-ml-min", "0.03",
              "--shell-temperature-c", "200", "--shell-units", "1")
    assert r["residence_time_min"]["HB1"] == pytest.approx(3.595 / 0.06, abs=0.02)
    assert r["residence_time_min"]["HB2"] == pytest.approx(3.595 / 0.09, abs=0.02)
    assert r["ddt_ml"] == pytest.approx(1.8, abs=1e-12)
    assert r["shell_zinc_m"] == pytest.approx(0.29, rel=0.02)
    assert set(r["pressure_drop_bar"]) == {"HB1", "HB2", "total"}


def test_three_units_and_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    r = _json(capsys, "--flow-ml-min", "0.3", "--units", "3")
    assert r["residence_time_min"]["HB1"] == pytest.approx(3 * 3.595 / 0.3, abs=0.02)
    assert run_cli(_app(), ["plan", "--flow-ml-min", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "residence time HB1 (min)" in out and "11.98" in out


@pytest.mark.parametrize(("args", "needle"), [
    (["--units", "4"], "heating box HB1: units 4 outside 1-3"),
    (["--temperature-c", "400"], "heating box HB1: temperature 400.0 °C above its limit 350 °C"),
    (["--flow-ml-min", "3"], "stock flow 3.0 mL/min outside the pump range 0.03-1.5 mL/min"),
    (["--shell", "--shell-temperature-c", "230"], "heating box HB2: temperature 230.0 °C above its limit 220 °C"),
])
def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], args: list[str], needle: str) -> None:
    assert run_cli(_app(), ["plan", *args]) == 2
    err = capsys.readouterr().err
    assert needle in " ".join(err.split())
    assert "Traceback" not in err
