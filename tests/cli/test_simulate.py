"""``flowqd simulate`` and ``flowqd twin`` commands."""

from __future__ import annotations

import json

import pytest

from flowqd.cli import main


def test_simulate_json_has_stable_keys(capsys, tmp_path):
    out = tmp_path / "spec.csv"
    code = main(["simulate", "--temperature-c", "180", "--flow-ml-min", "0.1", "--json", "--no-bands",
                 "--spectrum", str(out)])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("residence_time_min", "pressure_drop_bar", "reynolds", "dean", "peak_wavelength_nm", "x13_nm",
                "sigma_nm", "rsd", "conversion", "production_mg_h", "pl_peak_nm", "pl_fwhm_nm", "plqy"):
        assert key in data
    assert data["x13_nm"] == pytest.approx(2.7, abs=0.1)
    lines = out.read_text().splitlines()
    assert lines[0].startswith("# flowqd twin prediction") and lines[2] == "wavelength_nm,absorbance"


def test_simulated_spectrum_analyses_back_to_the_twin(capsys, tmp_path):
    """The written spectrum says its path and dilution; analysed with them it gives the twin's size, RSD and the
    outlet concentration (production / flow)."""
    out = tmp_path / "spec.csv"
    assert main(["simulate", "--temperature-c", "235", "--flow-ml-min", "0.15", "--units", "2", "--json",
                 "--no-bands", "--spectrum", str(out)]) == 0
    pred = json.loads(capsys.readouterr().out)
    assert "--path-mm 1 --dilution 20" in out.read_text()
    assert main(["analyze", "absorbance", str(out), "--path-mm", "1", "--dilution", "20", "--json"]) == 0
    (got,) = json.loads(capsys.readouterr().out)
    assert got["x13_nm"] == pytest.approx(pred["x13_nm"], abs=0.05)
    assert got["rsd"] == pytest.approx(pred["rsd"], abs=0.015)
    assert got["concentration_mg_ml"] == pytest.approx(pred["production_mg_h"] / (0.15 * 60.0), rel=0.02)


def test_simulate_shell_json(capsys):
    code = main(["simulate", "--temperature-c", "200", "--flow-ml-min", "0.06", "--shell", "--ddt-flow-ml-min",
                 "0.03", "--shell-temperature-c", "200", "--json", "--no-bands"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pl_peak_nm"] == pytest.approx(607.0, abs=3.0)
    assert data["plqy"] == pytest.approx(0.309, abs=0.02)


def test_simulate_bad_condition_is_one_red_line(capsys):
    code = main(["simulate", "--temperature-c", "400", "--flow-ml-min", "0.1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "HB1 limit" in err and "Traceback" not in err


def test_simulate_grid_json_and_plots(capsys, tmp_path):
    code = main(["simulate", "--grid", "--temperatures", "180,250", "--flows", "0.1,0.3", "--json",
                 "--plot-dir", str(tmp_path)])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) == 4
    assert (tmp_path / "x13_rsd.png").exists() and (tmp_path / "spectra.png").exists()


def test_simulate_json_reports_90_percent_intervals_for_the_flow_series(capsys, tmp_path):
    """v3: posterior predictive intervals (``*_interval``) for peak, x1,3, RSD, conversion and production."""
    png = tmp_path / "pred.png"
    assert main(["simulate", "--temperature-c", "200", "--flow-ml-min", "0.3", "--json", "--plot", str(png)]) == 0
    data = json.loads(capsys.readouterr().out)
    for name in ("peak_wavelength_nm", "x13_nm", "rsd", "conversion", "production_mg_h"):
        lo, hi = data[f"{name}_interval"]
        assert lo <= data[name] <= hi and lo < hi, name
    assert png.stat().st_size > 0


def test_plan_with_parameters_adds_the_twin_prediction(capsys):
    from importlib import resources

    path = resources.files("flowqd.twin") / "data" / "parameters-v2.json"
    assert main(["plan", "--temperature-c", "180", "--flow-ml-min", "0.1", "--parameters", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["twin_prediction"]["x13_nm"] == pytest.approx(2.65, abs=0.05)  # the v2 file (provenance) still loads


def test_simulate_unknown_parameter_file_is_one_red_line(capsys, tmp_path):
    code = main(["simulate", "--temperature-c", "200", "--flow-ml-min", "0.1", "--parameters",
                 str(tmp_path / "missing.json")])
    assert code == 2
    assert "parameter file not found" in capsys.readouterr().err
