"""``flowqd analyze absorbance``: JSON keys, CSV/plot, one-line error with exit code 2 and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from flowqd.analysis.absorbance import ABSORBANCE_JSON_KEYS
from flowqd.cli._common import run_cli
from flowqd.cli.analyze_absorbance import CSV_COLUMNS, register

EXAMPLES = Path(__file__).parents[2] / "examples" / "spectra"
A518 = EXAMPLES / "inp-180C-518nm.csv"
A590 = EXAMPLES / "inp-250C-590nm.csv"


def run(argv: list[str]) -> int:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    analyze = typer.Typer()

    @analyze.callback()
    def _group() -> None:
        """analyze"""

    register(analyze)
    app.add_typer(analyze, name="analyze")
    return run_cli(app, argv)


def test_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["analyze", "absorbance", str(A518), str(A590), "--json", "--in-feed-mmol-l", "20",
                "--outlet-flow-ml-min", "0.1", "--path-mm", "1", "--dilution", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [tuple(row) for row in out] == [("file", *ABSORBANCE_JSON_KEYS)] * 2
    assert out[0]["file"] == str(A518)
    assert out[0]["x13_nm"] == pytest.approx(2.7, abs=0.1) and out[1]["x13_nm"] == pytest.approx(3.4, abs=0.1)
    assert out[0]["yield"] == pytest.approx(out[0]["concentration_mol_l"] / 0.020)


def test_table_csv_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path, png = tmp_path / "out.csv", tmp_path / "fig.png"
    assert run(["analyze", "absorbance", str(A518), str(A590), "--csv", str(csv_path), "--plot", str(png)]) == 0
    assert "x13" in capsys.readouterr().out
    lines = csv_path.read_text().splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS) and len(lines) == 3
    assert png.stat().st_size > 10_000


def test_bad_file_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("wavelength_nm,absorbance\n" + "".join(f"{400 + i},{0.01}\n" for i in range(600)))
    csv_path = tmp_path / "out.csv"
    assert run(["analyze", "absorbance", str(A518), str(bad), "--csv", str(csv_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.csv" in err and "no signal above the noise" in err
    assert not csv_path.exists()


def test_table_keeps_every_value_whole_in_80_columns(tmp_path: Path, monkeypatch) -> None:
    """A default (80-column) console: long file names wrap, numbers are never cut to '…'."""
    from rich.console import Console

    from flowqd.cli import _common

    narrow = Console(width=80, record=True)
    monkeypatch.setattr(_common, "console", narrow)
    long_name = tmp_path / "a-long-descriptive-file-name-from-the-spectrometer-180C.csv"
    long_name.write_text(A518.read_text())
    assert run(["analyze", "absorbance", str(long_name), str(A590)]) == 0
    text = narrow.export_text()
    assert "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "2.735±0.056" in text and "518.2" in text and "589.9" in text


def test_skip_bad_analyses_the_rest_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "flat.csv"
    bad.write_text("wavelength_nm,absorbance\n" + "".join(f"{400 + i},{0.01}\n" for i in range(600)))
    csv_path = tmp_path / "out.csv"
    assert run(["analyze", "absorbance", str(A518), str(bad), str(A590), "--skip-bad", "--csv", str(csv_path),
                "--json"]) == 1
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [Path(r["file"]).name for r in rows] == [A518.name, A590.name]
    assert rows[0]["x13_nm"] == pytest.approx(2.741, abs=0.01)
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("skipped:") and "flat.csv" in err[0] and "no signal" in err[0]
    assert len(csv_path.read_text().splitlines()) == 3
    assert run(["analyze", "absorbance", str(bad), "--skip-bad"]) == 2  # nothing left to analyse: an error
    assert "none of the 1 files could be analysed" in capsys.readouterr().err


def test_batch_error_points_to_skip_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "flat.csv"
    bad.write_text("wavelength_nm,absorbance\n" + "".join(f"{400 + i},{0.01}\n" for i in range(600)))
    assert run(["analyze", "absorbance", str(bad), str(A518), str(A590)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.endswith("(--skip-bad analyses the other 2 files)")
    assert run(["analyze", "absorbance", str(bad)]) == 2
    assert "--skip-bad" not in capsys.readouterr().err  # a single file: nothing else to analyse
