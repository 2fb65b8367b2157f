"""Calibration from a lab's stored run: the round trip (known parameters → run → fit → recovered), the CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from flowqd.cli import main
from flowqd.twin import Conditions, Twin, TwinParameters
from flowqd.twin.calibration import FIT_PARAMETERS, Observation, RunObjective

FREE = ("k_d_ref_per_s", "k1_ref_per_s")
#: log10 shifts of the "true" lab twin from the packaged one (well inside the packaged posterior's spread)
SHIFT = {"k_d_ref_per_s": 0.12, "k1_ref_per_s": -0.08}
CONDITIONS = (Conditions(200.0, 0.1), Conditions(200.0, 0.3))  # one set point: one PBE row per parameter set


def _store_run(url: str, pred) -> None:
    from flowqd.store import Store

    with Store(url) as store:
        run = store.create_run("lab-roundtrip", status="completed")
        for i, c in enumerate(CONDITIONS):
            cid = store.add_condition(run, i, core_temperature_c=c.core_temperature_c,
                                      core_flow_ml_min=c.core_flow_ml_min, status="completed")
            sid = store.add_spectrum(run, i, kind="absorbance", wavelength_nm=pred.absorbance_wavelength_nm,
                                     condition_id=cid, processed=pred.absorbance[i])
            store.add_analysis(sid, "psd", {}, x13_nm=float(pred.x13_nm[i]), rsd=float(pred.rsd[i]),
                               conversion=float(pred.conversion[i]),
                               peak_wavelength_nm=float(pred.peak_wavelength_nm[i]))


def _coarse_parameter_file(tmp_path):
    """The packaged parameters with cheaper numerics (the round trip is self-consistent at any resolution)."""
    from importlib import resources

    data = json.loads((resources.files("flowqd.twin") / "data" / "parameters-v3.json").read_text())
    data["numerics"].update(n_cells=90, ratio=0.06, richardson=False)
    path = tmp_path / "coarse.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.slow
def test_calibrate_from_run_recovers_known_parameters_within_their_intervals(tmp_path, capsys):
    coarse = _coarse_parameter_file(tmp_path)
    base = TwinParameters.load(coarse)
    kin = base.kinetics
    truth = kin.replace(**{k: getattr(kin, k) * 10.0**v for k, v in SHIFT.items()})
    lab = Twin(dataclasses.replace(base, kinetics=truth, posterior=None))
    pred = lab.predict_batch(list(CONDITIONS))
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    _store_run(url, pred)
    out = tmp_path / "lab-twin.json"
    code = main(["twin", "calibrate", "--from-run", "lab-roundtrip", "--db", url, "--free", ",".join(FREE),
                 "--parameters", str(coarse), "--max-nfev", "8", "--steps", "10", "--json", "--out", str(out)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    rows = {r["parameter"]: r for r in summary["posterior"]}
    for name in FREE:
        true_theta = float(np.log10(getattr(truth, name)))
        start_theta = float(np.log10(getattr(kin, name)))
        r = rows[name]
        assert r["q05"] <= true_theta <= r["q95"], (name, r, true_theta)
        assert abs(r["map"] - true_theta) < abs(start_theta - true_theta)  # the data moved it towards the truth
    # the written file loads and drives `simulate --parameters`, reproducing the lab's x1,3
    loaded = TwinParameters.load(out)
    assert loaded.meta["version"] == 3 and loaded.posterior is not None
    assert main(["simulate", "--temperature-c", "200", "--flow-ml-min", "0.3", "--parameters", str(out),
                 "--json", "--no-bands"]) == 0
    sim = json.loads(capsys.readouterr().out)
    assert sim["x13_nm"] == pytest.approx(float(pred.x13_nm[1]), abs=0.02)


def test_run_objective_residuals_are_zero_on_its_own_predictions():
    twin = Twin.default()
    pred = twin.predict_batch(list(CONDITIONS))
    obs = [Observation(c, x13_nm=float(pred.x13_nm[i]), rsd=float(pred.rsd[i]),
                       conversion=float(pred.conversion[i])) for i, c in enumerate(CONDITIONS)]
    from flowqd.twin.core import core_outlet

    p = twin.parameters
    outlet = core_outlet(list(CONDITIONS), p.kinetics, feed_in_mol_m3=p.feed_in_mol_m3, numerics=p.numerics)
    res = RunObjective(obs).residuals(outlet)
    assert len(res) == 6 and max(abs(v) for v in res.values()) < 1e-9


def test_run_without_results_is_one_clear_error(tmp_path, capsys):
    from flowqd.store import Store

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with Store(url) as store:
        run = store.create_run("empty")
        store.add_condition(run, 0, core_temperature_c=200.0, core_flow_ml_min=0.1)
    assert main(["twin", "calibrate", "--from-run", "empty", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "nothing to calibrate" in err and "Traceback" not in err


def test_calibrate_out_must_be_json(tmp_path, capsys):
    assert main(["twin", "calibrate", "--out", str(tmp_path / "x.toml")]) == 2
    assert "JSON" in capsys.readouterr().err


def test_fit_parameters_cover_the_v3_model():
    names = [p[0] for p in FIT_PARAMETERS]
    assert {"k_n_ref_per_s", "k_d_ref_per_s", "e_n_j_mol", "e_d_j_mol", "r_nucleus_nm"} <= set(names)
    assert TwinParameters.load().fit_names == tuple(names)
