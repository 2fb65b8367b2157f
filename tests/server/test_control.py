"""Run control over HTTP with a real engine process: start, pause, continue, server restart, stop; events name
the user; the engine pause itself (platform level) holds set points and stops the phase clock."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import bearer, make_tokens, surrogate_platform

from flowqd.server import create_app
from flowqd.store import Store


def wait_for(predicate, timeout_s: float, what: str, step_s: float = 0.1):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


@pytest.mark.slow
def test_start_pause_continue_restart_and_stop_a_supervised_engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    Store(url).close()
    tok = make_tokens(url)
    state, platform = tmp_path / "state", surrogate_platform(tmp_path)
    app = create_app(url, trusted_hosts=["testserver"], state_dir=state, platform=platform)
    op = TestClient(app, headers=bearer(tok["operator"]))

    pre = op.post("/api/preflight", json={"campaign": "campaign-temperature-series.toml", "speed": 0})
    assert pre.status_code == 200 and pre.json()["ok"] and pre.json()["n_conditions"] == 5
    bad = op.post("/api/preflight", json={"campaign_toml": "name = 'x'\n[[conditions]]\ncore_temperature_c = 900\n"
                                                           "core_flow_ml_min = 0.1\n"})
    assert bad.status_code == 422 or not bad.json()["ok"]
    assert op.post("/api/runs", json={"speed": 0}).status_code == 422  # no campaign given
    assert op.post("/api/engine/pause").status_code == 409  # nothing running

    started = op.post("/api/runs", json={"campaign": "campaign-temperature-series.toml", "speed": 200})
    assert started.status_code == 201, started.text
    run_id, pid = started.json()["run_id"], started.json()["pid"]
    store = app.state.store
    try:
        assert op.post("/api/engine/pause").status_code == 200
        wait_for(lambda: store.get_run(run_id).status == "paused", 60, "the engine to pause")
        t_paused = max(t.t_s for t in store.traces(run_id))
        time.sleep(1.0)  # while paused the control loop goes on (traces), the phase clock does not
        assert op.get("/api/engine").json()["paused"] is True

        # a new server (restart) finds the same engine; a second start is refused, nothing is duplicated
        app2 = create_app(url, trusted_hosts=["testserver"], state_dir=state, platform=platform)
        op2 = TestClient(app2, headers=bearer(tok["operator"]))
        engine = op2.get("/api/engine").json()["engine"]
        assert engine["pid"] == pid and engine["run_id"] == run_id
        again = op2.post("/api/runs", json={"campaign": "campaign-temperature-series.toml", "speed": 200})
        assert again.status_code == 409 and "already running" in again.json()["detail"]
        assert len(store.list_runs()) == 1

        assert op2.post("/api/engine/resume").status_code == 200
        wait_for(lambda: store.get_run(run_id).status == "running", 60, "the engine to continue")
        assert max(t.t_s for t in store.traces(run_id)) > t_paused
        live = op2.get(f"/api/runs/{run_id}/live").json()
        assert live["run"]["id"] == run_id and live["progress"]["n_conditions"] == 5
        assert live["progress"]["estimate_s"] > 3600 and "hb1.temperature_c" in live["traces"]

        assert op2.post("/api/engine/stop").status_code == 200
        wait_for(lambda: app2.state.slot.alive() is None, 60, "the engine to end")
    finally:
        app.state.slot.emergency_stop("test cleanup")
        app.state.slot.wait(30)
    assert store.get_run(run_id).status == "tripped"  # a stop leaves the platform safe and the run resumable
    kinds = [(e.kind, e.details.get("user")) for e in store.events(run_id)]
    user = "operator of the tests"
    for kind in ("console.start", "console.pause", "console.resume", "console.stop"):
        assert any(k == kind and u and u.startswith(user) for k, u in kinds), kind
    assert [k for k, _ in kinds].index("run.paused") < [k for k, _ in kinds].index("run.continued")
    assert any(k == "interlock.emergency_stop" for k, _ in kinds)  # SIGTERM: the safe state, recorded


ONE_CONDITION = """
name = "one"
[[conditions]]
core_temperature_c = 180.0
core_flow_ml_min = 0.1
n_spectra = 1
"""


def test_engine_pause_holds_setpoints_and_stops_the_phase_clock():
    """Platform level: a pause in the flushing phase lengthens it by the pause; set points stay; events."""
    from tests.platform.conftest import platform_text

    from flowqd.devices import SimClock, build_devices
    from flowqd.platform import MemoryRecorder, RunEngine, campaign_from_text, platform_from_text

    def run(pause_s: float) -> tuple[MemoryRecorder, float]:
        platform = platform_from_text(platform_text())
        clock = SimClock(speedup=float("inf"))
        devices = build_devices(platform, clock)
        rec = MemoryRecorder()
        state = {"start": None}

        def paused() -> bool:
            if engine._phase == "flushing" and state["start"] is None:
                state["start"] = clock.now()
            return state["start"] is not None and clock.now() - state["start"] < pause_s

        engine = RunEngine(platform, devices, clock, rec, pause_flag=paused)
        engine.run(campaign_from_text(ONE_CONDITION))
        return rec, clock.now()

    from flowqd.platform.preflight import operating_point
    from flowqd.reactor.process import ProcessModel

    rec, _ = run(600.0)
    t = {e["kind"]: e["t_s"] for e in reversed(rec.events)}  # first occurrence of each kind
    platform = platform_from_text(platform_text())
    wash_s = 60.0 * ProcessModel(platform.train()).washout_time_min(
        operating_point(campaign_from_text(ONE_CONDITION).conditions[0]), platform.control.washout_fraction)
    # the flush lasts the full washout plus the pause (to one 1-s control period)
    assert t["phase.acquiring"] - t["phase.flushing"] == pytest.approx(wash_s + 600.0, abs=1.0)
    kinds = [e["kind"] for e in rec.events]
    assert kinds.count("run.paused") == 1 and kinds.count("run.continued") == 1
    assert kinds.index("phase.flushing") < kinds.index("run.paused") < kinds.index("phase.acquiring")
    rec1 = rec
    assert rec1.runs[1].status == "completed"
    setpoints = [(ch, v) for _, _, ch, v, role in rec.samples if role == "setpoint"]
    assert len(setpoints) == len({ch for ch, _ in setpoints})  # set once for the one condition: the pause set none


def test_concurrent_starts_launch_one_engine(tmp_path):
    """Two start requests at the same moment: one engine, the other refused (the launch is serialised)."""
    from concurrent.futures import ThreadPoolExecutor

    from flowqd.server.control import packaged_text
    from flowqd.server.supervisor import EngineBusy, EngineSlot

    campaign = tmp_path / "c.toml"
    campaign.write_text(packaged_text("campaign-temperature-series.toml"))
    slot = EngineSlot(tmp_path / "state", f"sqlite:///{tmp_path / 'runs.sqlite'}")

    def launch(_: int) -> str:
        try:
            return f"pid {slot.launch(campaign, user='t', speed=1.0).pid}"
        except EngineBusy as exc:
            return f"busy: {exc}"

    try:
        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(launch, range(2)))
        assert outcomes[0].startswith("busy: an engine is already running") and outcomes[1].startswith("pid ")
    finally:
        slot.terminate()
        slot.wait(30)


def test_flowqd_pause_sets_and_clears_the_flag(tmp_path):
    from flowqd.cli import main

    flag = tmp_path / "PAUSE"
    assert main(["pause", "--pause-file", str(flag)]) == 0 and flag.exists()
    assert main(["pause", "--pause-file", str(flag), "--clear"]) == 0 and not flag.exists()
