"""``flowqd analyze pl`` / ``plqy``: JSON keys, CSV/plot outputs, one-line errors with exit code 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import typer

from flowqd.cli._common import run_cli
from flowqd.cli.analyze import PL_JSON_KEYS, register

EXAMPLES = Path(__file__).parents[2] / "examples" / "spectra"
DATA = Path(__file__).parents[1] / "analysis" / "data"
PL = EXAMPLES / "pl-inp-zns-607nm.csv"


def _app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)

    @app.callback()
    def _root() -> None:
        """test root"""

    register(app)
    return app


def run(argv: list[str]) -> int:
    return run_cli(_app(), argv)


def test_pl_json_keys_and_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["analyze", "pl", str(PL), str(DATA / "oceanview-pl.txt"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [tuple(row) for row in out] == [PL_JSON_KEYS, PL_JSON_KEYS]
    first = out[0]
    assert first["file"] == str(PL) and first["quantity"] == "photon"
    assert first["peak_wavelength_nm"] == pytest.approx(607.0, abs=0.1)
    assert first["fwhm_nm"] == pytest.approx(90.0, abs=0.1)
    assert 0.5 < first["cie_x"] < 0.6 and 585 <= first["dominant_wavelength_nm"] <= 595
    assert out[1]["fwhm_nm"] == pytest.approx(45.0, abs=0.5)


def test_pl_table_csv_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_csv, out_png = tmp_path / "pl.csv", tmp_path / "pl.png"
    assert run(["analyze", "pl", str(PL), "--csv", str(out_csv), "--plot", str(out_png)]) == 0
    assert "607.0" in capsys.readouterr().out
    rows = list(csv.DictReader(out_csv.open()))
    assert tuple(rows[0]) == PL_JSON_KEYS and float(rows[0]["fwhm_nm"]) == pytest.approx(90.0, abs=0.1)
    assert out_png.stat().st_size > 1000 and (tmp_path / "pl-cie.png").stat().st_size > 1000


def test_bad_file_one_line_exit_2_nothing_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.csv"
    bad.write_text("wavelength_nm,counts\n" + "".join(f"{500 + i},{'x' if i == 4 else 1}\n" for i in range(20)))
    out_csv = tmp_path / "out.csv"
    code = run(["analyze", "pl", str(PL), str(bad), "--json", "--csv", str(out_csv)])
    captured = capsys.readouterr()
    assert code == 2
    err = captured.err.strip()
    assert err.startswith("error:") and "broken.csv" in err and "line 6, column 2: 'x' is not a number" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in captured.err
    assert captured.out == "" and not out_csv.exists()


def test_bad_quantity_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["analyze", "pl", str(PL), "--quantity", "watts"]) == 2
    assert "quantity must be 'photon' or 'power'" in capsys.readouterr().err
    assert run(["analyze", "pl", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err


def test_plqy_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["analyze", "plqy", "--method", "two-measurement", "--blank", str(EXAMPLES / "plqy-blank.csv"),
            "--sample", str(EXAMPLES / "plqy-sample.csv"), "--excitation-band", "390,410",
            "--emission-band", "450,800", "--json"]
    assert run(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plqy"] == pytest.approx(0.31, abs=0.005) and out["method"] == "two-measurement"
    assert out["absorptance"] == pytest.approx(0.4, abs=0.01) and out["uncertainty"] is None


def test_plqy_errors(capsys: pytest.CaptureFixture[str]) -> None:
    blank, sample = str(EXAMPLES / "plqy-blank.csv"), str(EXAMPLES / "plqy-sample.csv")
    assert run(["analyze", "plqy", "--method", "de-mello", "--blank", blank, "--sample", sample]) == 2
    assert "empty-sphere" in capsys.readouterr().err
    assert run(["analyze", "plqy", "--blank", blank, "--sample", sample, "--emission-band", "450"]) == 2
    assert "--emission-band must be two numbers" in capsys.readouterr().err
    assert run(["analyze", "plqy", "--blank", sample, "--sample", blank]) == 2  # swapped: absorbs nothing
    assert "absorbed photons" in capsys.readouterr().err


def test_skip_bad_analyses_the_rest_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.csv"
    bad.write_text("wavelength_nm,counts\n" + "".join(f"{500 + i},{'x' if i == 4 else 1}\n" for i in range(20)))
    assert run(["analyze", "pl", str(bad), str(PL), "--skip-bad", "--json"]) == 1
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [Path(r["file"]).name for r in rows] == [PL.name]
    assert rows[0]["peak_wavelength_nm"] == pytest.approx(607, abs=1)
    assert captured.err.count("skipped:") == 1 and "line 6, column 2" in captured.err


def test_micrometre_axis_is_refused_then_declared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A µm axis is one line naming the command-line option; with it the PL analyses as in nm."""
    rows = [line.split(",") for line in PL.read_text().splitlines() if line and line[0].isdigit()]
    um = tmp_path / "pl-um.csv"
    um.write_text("wavelength,counts\n" + "".join(f"{float(w) / 1000:.6f},{c}\n" for w, c in rows))
    assert run(["analyze", "pl", str(um)]) == 2
    assert "--wavelength-unit um" in capsys.readouterr().err
    assert run(["analyze", "pl", str(um), "--wavelength-unit", "um", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["peak_wavelength_nm"] == pytest.approx(607, abs=1)
