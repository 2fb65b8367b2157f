"""twin/calibration.py: the paper objective's residuals by hand, MAP recovery of known parameters (direct and
through `flowqd twin calibrate --from-run`), bad input, the burn-in filter, the parameter file round trip."""

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
#: Cheaper PBE numerics than the packaged ones (the synthetic round trips are self-consistent at any resolution)
COARSE_NUMERICS = {"n_cells": 90, "ratio": 0.06, "richardson": False}


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
    data["numerics"].update(COARSE_NUMERICS)
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


# ------------------------------------------------------------------ the paper objective's residuals, by hand
def _paper_outlet(x13=(2.70, 2.85, 3.10, 3.40, 2.75, 2.80, 2.95), rsd=(0.08, 0.10, 0.12, 0.14, 0.085, 0.09, 0.11),
                  conversion=(0.5, 0.6, 0.7, 0.8, 0.40, 0.736, 0.7)):
    """A synthetic outlet at CALIBRATION_CONDITIONS (T series at 0.1 mL/min, then 200 °C at 0.3/0.2/0.05 mL/min):
    Gaussian volume PSDs with the given x1,3 and RSD, meeting every statement of the paper."""
    from flowqd.twin.core import CoreOutlet

    d = np.linspace(1.0, 8.0, 141)
    x, r = np.array(x13), np.array(rsd)
    vol = np.exp(-0.5 * ((d[None, :] - x[:, None]) / (r[:, None] * x[:, None])) ** 2)
    zeros = np.zeros(x.size)
    return CoreOutlet(d, vol / d**3, vol, x, r * x, r, np.array(conversion), zeros, zeros, 87.7)


def test_paper_residuals_are_the_stated_z_scores_and_zero_hinges():
    from flowqd.twin.calibration import PAPER_TARGETS, core_peaks_nm, residuals

    outlet = _paper_outlet()
    res = residuals(outlet)
    peaks = core_peaks_nm(outlet)
    # the numbers: (fit − target)/sd with the module's sds
    assert res["x13_180"] == 0.0 and res["x13_250"] == 0.0 and res["conversion_200_0.2"] == 0.0
    production = 60.0 * 87.7e-3 * 145.79 * 0.2 * 0.736  # mg/h of InP at 0.2 mL/min, 73.6 % conversion, 87.7 mM In
    assert res["production_200_0.2"] == pytest.approx((production - 107.0) / 4.0, rel=1e-12)
    assert res["peak_180"] == pytest.approx((peaks[0] - 518.0) / 2.0, rel=1e-12)
    assert res["peak_250"] == pytest.approx((peaks[3] - 590.0) / 2.0, rel=1e-12)
    # the optics put the paper's sizes at the paper's peaks (2.7 nm ↔ 518 nm, 3.4 nm ↔ 590 nm) within 6 nm
    assert abs(peaks[0] - PAPER_TARGETS["peak_180_nm"][0]) < 6.0
    assert abs(peaks[3] - PAPER_TARGETS["peak_250_nm"][0]) < 6.0
    # the statements all hold: every hinge is exactly zero
    hinges = {k: v for k, v in res.items() if k not in ("x13_180", "x13_250", "peak_180", "peak_250",
                                                        "conversion_200_0.2", "production_200_0.2")}
    assert len(hinges) == 10 and all(v == 0.0 for v in hinges.values()), hinges


def test_paper_residuals_grow_by_the_stated_hinge_when_a_statement_fails():
    from flowqd.twin.calibration import residuals

    # x1,3 at 200 and 220 °C swapped: one falling step of 0.25 nm, hinge (0.25 + 0.02 gap)/0.01 nm = 27
    swapped = residuals(_paper_outlet(x13=(2.70, 3.10, 2.85, 3.40, 2.75, 2.80, 2.95)))
    assert swapped["x13_rises_with_T"] == pytest.approx(27.0, rel=1e-9)
    # RSD 7.0 % at 180 °C: below the paper's 7.7 % band by 0.7 pp, hinge 0.007/0.003
    low = residuals(_paper_outlet(rsd=(0.070, 0.10, 0.12, 0.14, 0.085, 0.09, 0.11)))
    assert low["rsd_band"] == pytest.approx(0.007 / 0.003, rel=1e-9)
    assert low["rsd_rises_with_T"] == 0.0
    # 60 % conversion at 0.3 mL/min out-produces the 0.2 mL/min point: the "best at 0.2" hinge is positive
    over = residuals(_paper_outlet(conversion=(0.5, 0.6, 0.7, 0.8, 0.60, 0.736, 0.7)))
    prod_03 = 60.0 * 87.7e-3 * 145.79 * 0.3 * 0.60
    assert over["production_max_at_0.2"] == pytest.approx((prod_03 - 107.0 + 1.0) / 2.0, rel=1e-9)


# ------------------------------------------------------------------ MAP fit on synthetic run data
def test_calibrate_recovers_a_known_parameter_from_noise_free_measurements():
    """Data made by the twin at a known k_d (log10 shifted by +0.15 from the packaged value); the MAP fit from the
    packaged value recovers it to 0.005 in log10 (measured: 0.0007; the weak prior, sd 1.5, pulls by far less)."""
    from flowqd.twin.calibration import calibrate
    from flowqd.twin.core import core_outlet

    base = TwinParameters.load()
    numerics = dataclasses.replace(base.numerics, **COARSE_NUMERICS)
    true_log10 = float(np.log10(base.kinetics.k_d_ref_per_s)) + 0.15
    truth = base.kinetics.replace(k_d_ref_per_s=10.0**true_log10)
    out = core_outlet(list(CONDITIONS), truth, feed_in_mol_m3=base.feed_in_mol_m3, numerics=numerics)
    obs = [Observation(c, x13_nm=float(out.x13_nm[i]), rsd=float(out.rsd[i]), conversion=float(out.conversion[i]))
           for i, c in enumerate(CONDITIONS)]
    result = calibrate(RunObjective(obs), start=base.kinetics, free=["k_d_ref_per_s"], numerics=numerics,
                       max_nfev=12, backend="numpy")
    i = [p[0] for p in FIT_PARAMETERS].index("k_d_ref_per_s")
    assert abs(result.theta[i] - true_log10) < 0.005, (result.theta[i], true_log10)
    assert max(abs(v) for v in result.residuals.values()) < 0.05  # in measurement sds (0.03 nm, 0.01, 0.03)
    sd = float(np.sqrt(result.covariance[i, i]))
    assert 0.01 < sd < 0.2  # measured 0.06: the Laplace sd of the free parameter, finite and constrained
    # the other parameters stay where they started (not free)
    j = [p[0] for p in FIT_PARAMETERS].index("k1_ref_per_s")
    assert result.theta[j] == pytest.approx(np.log10(base.kinetics.k1_ref_per_s), abs=1e-12)


def test_calibrate_bad_input_is_one_clear_error():
    from flowqd.errors import RangeError
    from flowqd.twin.calibration import calibrate

    with pytest.raises(RangeError, match=r"unknown fit parameter\(s\) \['k_x_per_s'\]"):
        calibrate(free=["k_x_per_s"])
    with pytest.raises(RangeError, match="nothing to calibrate"):
        RunObjective([Observation(CONDITIONS[0]), Observation(CONDITIONS[1], x13_nm=float("nan"))])
    # a NaN measurement is dropped, the finite ones stay
    assert Observation(CONDITIONS[0], x13_nm=float("nan"), rsd=0.1).values() == {"rsd": 0.1}


def test_burn_in_filter_keeps_the_chi2_999_quantile_of_a_gaussian_posterior():
    from flowqd.twin.calibration import _burnt_in

    rng = np.random.default_rng(3)
    ndim, n = 4, 200_000
    log_prob = -0.5 * rng.chisquare(ndim, n)  # exact Gaussian posterior draws
    kept = _burnt_in(log_prob, ndim)
    # the best draw sits ~0 below the mode, so the bound keeps 99.9 % (binomial sd 7e-5)
    assert kept.mean() == pytest.approx(0.999, abs=5e-4)
    assert not _burnt_in(np.array([0.0, -1.0, -1e3, np.nan]), 1)[2:].any()


def test_write_parameters_round_trips_through_the_parameter_file(tmp_path):
    from flowqd.errors import RangeError
    from flowqd.twin.calibration import DEFAULT_START, CalibrationResult, _from_params, write_parameters

    theta = _from_params(DEFAULT_START)
    cov = np.diag(np.full(theta.size, 0.01))
    result = CalibrationResult(DEFAULT_START, theta, cov, {"x": 0.0}, [], 0.0, 1, True, "ok", "test")
    path = write_parameters(result, tmp_path / "p.json")
    loaded = TwinParameters.load(path)
    assert loaded.kinetics == DEFAULT_START  # every float exactly (JSON keeps the repr)
    assert loaded.fit_names == tuple(p[0] for p in FIT_PARAMETERS)
    np.testing.assert_array_equal(loaded.theta, theta)
    assert "log10_nucleation_prefactor_per_m3_s" in json.loads(path.read_text())["kinetics"]
    with pytest.raises(RangeError, match="JSON"):
        write_parameters(result, tmp_path / "p.toml")
