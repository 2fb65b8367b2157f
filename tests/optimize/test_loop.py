"""The closed loop on the simulated platform: the limits guard, failures, --json, kill -9 and --resume."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tests.platform.conftest import platform_text

from flowqd.cli import main
from flowqd.devices import SimClock, build_devices
from flowqd.devices.sim import SurrogateTwin
from flowqd.errors import ConfigError, RangeError
from flowqd.optimize import Optimizer, Proposal, optimize_campaign_from_text
from flowqd.optimize.loop import OptimizeLoop
from flowqd.platform import platform_from_text
from flowqd.store import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: The paper's platform on the surrogate twin, with quicker (still valid) control settings: fewer control ticks.
FAST = {'twin = "surrogate"': 'twin = "surrogate"', "trace_period_s = 10.0": "trace_period_s = 60.0",
        "control_period_s = 1.0": "control_period_s = 5.0", "temperature_hold_s = 120.0": "temperature_hold_s = 10.0",
        "spectrum_interval_s = 60.0": "spectrum_interval_s = 10.0", "ramp_c_min = 5.0": "ramp_c_min = 10.0",
        "reservoir_ml = 45.6": "reservoir_ml = 400.0",
        "pressure_rise_window_s = 10.0": "pressure_rise_window_s = 30.0"}  # ≥ 3 control periods
NO_DOTS = """
[[sim.no_dots]]
core_temperature_c = [230.0, 240.0]
core_flow_ml_min = [0.4, 0.6]
"""
CAMPAIGN = """
name = "loop-test"
[variables]
core_temperature_c = { min = 200.0, max = 240.0 }
core_flow_ml_min = { min = 0.2, max = 0.6, log = true }
[fixed]
n_spectra = 3
[[objectives]]
outcome = "peak_nm"
target = 560.0
tolerance = 1.0
[budget]
experiments = 3
stop_at_target = false
[design]
initial = 2
seed = 3
twin_prior = false
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "p.toml").write_text(platform_text(**FAST) + NO_DOTS)
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    return tmp_path


def _args(d: Path, db: str, *extra: str) -> list[str]:
    return ["optimize", "--db", f"sqlite:///{d / db}", "--stop-file", str(d / "STOP"), "--quiet", *extra]


def test_sim_plant_takes_twin_parameters_noise_and_a_no_dots_region(tmp_path):
    text = platform_text(**FAST).replace('twin = "surrogate"', 'twin = "default"') + NO_DOTS
    text = text.replace("ambient_c = 25.0", 'ambient_c = 25.0\ntwin_parameters = "plant.json"\n'
                        "measurement_noise = 0.05")
    (tmp_path / "plant.json").write_text((EXAMPLES / "twin-parameters-plant.json").read_text())
    (tmp_path / "p.toml").write_text(text)
    platform = platform_from_text(text, str(tmp_path / "p.toml"))
    devices = build_devices(platform, SimClock(speedup=math.inf))
    plant = devices.backend
    k1 = json.loads((EXAMPLES / "twin-parameters-plant.json").read_text())["kinetics"]["k1_ref_per_s"]
    assert plant.twin.parameters.kinetics.k1_ref_per_s == pytest.approx(k1, rel=1e-12)  # the plant's, not v2's
    assert plant.measurement_noise == 0.05
    assert plant.no_dots(235.0, 0.5) and not plant.no_dots(235.0, 0.3) and not plant.no_dots(220.0, 0.5)
    with pytest.raises(ConfigError, match=r"p\.toml: sim\.no_dots\[0\]: core_temperature_c = \[240, 230\]: "
                                          r"low must be below high"):
        platform_from_text(platform_text() + "[[sim.no_dots]]\ncore_temperature_c = [240.0, 230.0]\n", "p.toml")
    with pytest.raises(ConfigError, match=r"sim\.measurement_noise = -0\.1"):
        platform_from_text(platform_text().replace("ambient_c = 25.0", "ambient_c = 25.0\nmeasurement_noise = -0.1"),
                           "p.toml")


def test_measurement_noise_is_relative_on_the_spectrum_and_no_dots_is_a_clear_outlet():
    from flowqd.devices.sim.plant import _Commanded  # the plant's record of commanded set points

    def plant_with(extra: str):
        platform = platform_from_text(platform_text(**FAST) + extra, "p.toml")
        return build_devices(platform, SimClock(speedup=math.inf), twin=SurrogateTwin()).backend

    quiet = plant_with("")
    noisy = plant_with("").__class__  # same class; noise set below
    assert noisy is type(quiet)
    wl = np.linspace(450.0, 650.0, 401)
    op = _Commanded(220.0, 0.3, 1)
    quiet._segments[-1].key = op
    a0 = quiet.outlet_absorbance(wl, 1.0)
    quiet.measurement_noise = 0.02
    ratio = quiet.outlet_absorbance(wl, 1.0) / a0 - 1.0
    assert np.std(ratio) == pytest.approx(0.02, rel=0.2)  # 401 samples: σ of the sample σ ≈ 3.5 %
    assert abs(np.mean(ratio)) < 0.005
    clear = plant_with(NO_DOTS)
    op = _Commanded(235.0, 0.5, 1)
    clear._segments[-1].key = op
    clear._mean_flows = lambda seg: (op.core_flow_ml_min, 0.0)  # a plug made at its set point (pumps idle here)
    assert np.all(clear.outlet_absorbance(wl, 1.0) == 0.0)


def test_a_proposal_outside_the_platform_limits_is_never_sent_to_the_devices(files, monkeypatch):
    platform = platform_from_text((files / "p.toml").read_text(), str(files / "p.toml"))
    camp = optimize_campaign_from_text(CAMPAIGN, "c.toml")
    clock = SimClock(speedup=math.inf)
    devices = build_devices(platform, clock, twin=SurrogateTwin())
    sent: list[tuple[str, float]] = []
    monkeypatch.setattr(devices.hb1, "set_setpoint_c", lambda v: sent.append(("hb1", v)))
    monkeypatch.setattr(devices.core_pump, "set_flow_ml_min", lambda v: sent.append(("core_pump", v)))

    def bad(self, observations, index):  # an optimiser gone wrong: 400 °C is above the HB1 box limit (350 °C)
        return [Proposal(index, {"core_temperature_c": 400.0, "core_flow_ml_min": 0.3}, "model", seed=0)]

    monkeypatch.setattr(Optimizer, "propose", bad)
    engines: list[object] = []
    with Store(f"sqlite:///{files / 'g.sqlite'}") as store:
        loop = OptimizeLoop(platform, store, lambda rec: engines.append(rec) or pytest.fail("engine built"))
        run_id = loop.start(camp)
        with pytest.raises(RangeError, match=r"core_temperature_c = 400.*outside the campaign's bounds 200-240; "
                                             r"not sent to the devices"):
            loop.run(run_id)
        assert store.conditions(run_id) == []
    assert sent == [] and engines == []
    # a proposal inside the campaign bounds but beyond a platform limit is refused the same way
    narrow = platform_from_text((files / "p.toml").read_text().replace("max_c = 350.0", "max_c = 230.0"), "p.toml")
    with pytest.raises(RangeError, match=r"core_temperature_c = 235.0: above the HB1 limit 230 °C; not sent"):
        from flowqd.optimize.loop import check_proposal

        check_proposal(camp, narrow, {"core_temperature_c": 235.0, "core_flow_ml_min": 0.3}, "experiment 1")


def _proposals(url: str) -> list[dict]:
    with Store(url) as store:
        return [e.details for e in store.events(1, "optimize.proposal")]


def _spectra(url: str) -> list[int]:
    with Store(url) as store:
        return store.spectrum_seqs(1)


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_uninterrupted_proposal_sequence(files, capsys):
    # uninterrupted reference run (in process), then the same campaign killed with SIGKILL during experiment 3
    # (its model-based proposal is stored; the platform is running it) and resumed
    assert main([*_args(files, "a.sqlite", str(files / "c.toml"), "--platform", str(files / "p.toml"), "--json")]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert set(ref) >= {"experiments", "best", "target_hit_at", "stock_used_ml", "platform_hours"}
    assert all(set(e) >= {"conditions", "objectives", "feasible"} for e in ref["experiments"])
    url_a = f"sqlite:///{files / 'a.sqlite'}"
    # the simulated platform runs experiment 3 in about a second: a kill that lands after the campaign finished
    # proves nothing, so such an attempt is made again on a fresh database (at most 4 attempts)
    for attempt in range(4):
        name = f"b{attempt}.sqlite"
        url_b = f"sqlite:///{files / name}"
        cmd = [sys.executable, "-c", "import sys; from flowqd.cli import main; sys.exit(main())",
               *_args(files, name, str(files / "c.toml"), "--platform", str(files / "p.toml"))]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                try:
                    if len(_proposals(url_b)) >= 3:
                        break
                except Exception:
                    pass
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.05)
            time.sleep(random.uniform(0.0, 0.3))  # somewhere in experiment 3 (set points, flush or spectra)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        with Store(url_b) as store:
            if store.get_run(1).status == "running":  # killed: nobody marked it
                break
    else:
        pytest.fail("the campaign finished before it could be killed in 4 attempts")
    before = _proposals(url_b)
    assert main([*_args(files, name, "--resume", "1", "--json")]) == 0
    resumed = json.loads(capsys.readouterr().out)
    after = _proposals(url_b)
    assert after[:len(before)] == before  # stored proposals reused, not recomputed
    assert [p["index"] for p in after] == [0, 1, 2]  # none lost, none repeated
    assert [p["x"] for p in after] == [p["x"] for p in _proposals(url_a)]  # the uninterrupted sequence
    assert [p["kind"] for p in after] == ["sobol", "sobol", "model"]
    assert len(resumed["experiments"]) == 3 and [e["index"] for e in resumed["experiments"]] == [1, 2, 3]
    seqs = _spectra(url_b)
    assert seqs == list(range(len(seqs)))  # no spectrum lost or duplicated
    # the experiment in the failure region (235 °C … 0.5 mL/min makes no dots) is stored as failed
    for e in resumed["experiments"]:
        x = e["conditions"]
        no_dots = 230.0 <= x["core_temperature_c"] <= 240.0 and 0.4 <= x["core_flow_ml_min"] <= 0.6
        assert e["feasible"] is (not no_dots)


def test_the_plant_example_is_the_paper_platform_but_for_its_plant():
    """examples/platform-plant-not-twin.toml differs from the paper's platform only in its plant (twin parameters,
    noise, failure region), reservoir and name: a flow cell without the 20x dilution saturates (A > 3) and every
    experiment of the example campaign would fail."""
    from flowqd.platform.config import load_platform

    examples = Path(__file__).resolve().parents[2] / "examples"
    paper = load_platform(examples / "platform-wang-segets-2023.toml")
    plant = load_platform(examples / "platform-plant-not-twin.toml")
    assert plant.devices.uvvis.dilution == paper.devices.uvvis.dilution == 20.0
    assert plant.interlocks == paper.interlocks and plant.control == paper.control
    assert plant.sim.twin_parameters is not None and paper.sim.twin_parameters is None
