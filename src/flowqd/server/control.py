"""Run control over HTTP: pre-flight, start, pause, resume, stop, emergency stop; every action an event.

The engine is a ``flowqd run`` subprocess (:mod:`flowqd.server.supervisor`); these routes only validate, launch
and signal it, and record who did what as ``console.*`` events of the run.
"""

from __future__ import annotations

import time
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException

from flowqd.errors import FlowqdError
from flowqd.platform import campaign_from_text, platform_from_text
from flowqd.platform.preflight import preflight
from flowqd.server.auth import Anyone, Operator, Viewer
from flowqd.server.schemas import StartPackaged, StartRequest, StartUpload, errors
from flowqd.server.supervisor import EngineBusy, EngineSlot
from flowqd.store import Store
from flowqd.store.auth import Identity
from flowqd.store.live import newest_run_id

__all__ = ["PACKAGED_CAMPAIGNS", "control_router", "packaged_text"]

PACKAGED_CAMPAIGNS: tuple[str, ...] = ("campaign-temperature-series.toml", "campaign-core-shell.toml")
PACKAGED_PLATFORM = "platform-wang-segets-2023.toml"
#: Seconds to wait for a launched engine to create its run.
START_TIMEOUT_S = 60.0


def packaged_text(name: str) -> str:
    """Text of a file packaged in ``flowqd/platform/data``."""
    return (files("flowqd.platform") / "data" / name).read_text()


def _record(store: Store, run_id: int | None, kind: str, message: str, who: Identity, **details: Any) -> None:
    if run_id is not None:
        store.add_event(run_id, kind, f"{message} by {who.user}", details={"user": who.user, "role": who.role,
                                                                             **details})


def control_router(store: Store, slot: EngineSlot, platform_path: Path | None) -> APIRouter:
    """The run-control routes (``/api/preflight``, ``POST /api/runs``, ``/api/engine/*``)."""
    router = APIRouter(tags=["run control"])
    platform_text = platform_path.read_text() if platform_path is not None else packaged_text(PACKAGED_PLATFORM)
    platform_source = str(platform_path) if platform_path is not None else f"<flowqd>/platform/data/{PACKAGED_PLATFORM}"

    def campaign_of(req: StartRequest) -> tuple[str, str]:
        if isinstance(req, StartPackaged):
            return packaged_text(req.campaign), f"<flowqd>/{req.campaign}"
        if isinstance(req, StartUpload):
            return req.campaign_toml, "<uploaded campaign>"
        try:
            text = store.get_run(req.from_run).campaign_toml
        except FlowqdError as exc:
            raise HTTPException(404, f"no run {req.from_run}") from exc
        if not text:
            raise FlowqdError(f"run {req.from_run} has no stored campaign")
        return text, f"<run {req.from_run} campaign>"

    def check(req: StartRequest) -> tuple[str, dict[str, Any]]:
        text, source = campaign_of(req)
        platform = platform_from_text(platform_text, platform_source)
        campaign = campaign_from_text(text, source)
        report = preflight(campaign, platform)
        plans = [{"index": p.index, "residence_time_min": p.residence_time_min, "washout_min": p.washout_min,
                  "duration_min": p.duration_min, "stock_ml": p.stock_ml, "pressure_bar": p.pressure_bar}
                 for p in report.plans]
        wall_min = report.duration_min / req.speed if req.speed > 0 else None
        return text, {"ok": report.ok, "problems": report.problems, "campaign": campaign.name,
                      "n_conditions": len(campaign.conditions), "duration_min": report.duration_min,
                      "wall_duration_min": wall_min, "conditions": plans}

    @router.post("/api/preflight", responses=errors(400, 401, 403, 404, 422))
    def preflight_route(req: StartRequest, who: Operator) -> dict[str, Any]:
        """Pre-flight a campaign on the server's platform (nothing moves): estimates per condition, problems."""
        return check(req)[1]

    @router.post("/api/runs", status_code=201, responses=errors(400, 401, 403, 404, 409, 422))
    def start(req: StartRequest, who: Operator) -> dict[str, Any]:
        """Pre-flight, then start the campaign in a new engine process; returns once the run exists."""
        text, report = check(req)
        if not report["ok"]:
            raise FlowqdError("pre-flight failed; nothing was started: " + "; ".join(report["problems"]))
        folder = slot.state_dir / "campaigns"
        folder.mkdir(exist_ok=True)
        path = folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{time.monotonic_ns()}.toml"
        path.write_text(text)
        before = newest_run_id(store) or 0
        try:
            info = slot.launch(path, user=who.user, speed=req.speed, platform_path=platform_path)
        except EngineBusy as exc:
            raise HTTPException(409, str(exc)) from exc
        end = time.monotonic() + START_TIMEOUT_S
        run_id = None
        while time.monotonic() < end:
            newest = newest_run_id(store) or 0
            if newest > before:
                run_id = newest
                break
            if slot.exited() is not None:
                raise FlowqdError(f"the engine ended before starting the run: {slot.log_tail()}")
            time.sleep(0.05)
        if run_id is None:
            slot.terminate()
            raise FlowqdError(f"the engine did not start the run within {START_TIMEOUT_S:g} s: {slot.log_tail()}")
        slot.set_run_id(run_id)
        _record(store, run_id, "console.start", f"campaign {report['campaign']!r} started at speed {req.speed:g}",
                who, pid=info.pid, speed=req.speed)
        return {"run_id": run_id, "pid": info.pid, "preflight": report}

    def running(action: str) -> int | None:
        info = slot.alive()
        if info is None:
            raise HTTPException(409, f"cannot {action}: no engine is running")
        return info.run_id

    @router.get("/api/engine", responses=errors(401))
    def engine(who: Viewer) -> dict[str, Any]:
        """The supervised engine (pid, run, who started it), and the pause and emergency-stop flags."""
        return slot.status()

    @router.post("/api/engine/pause", responses=errors(401, 403, 409))
    def pause(who: Operator) -> dict[str, Any]:
        """Pause: the platform holds its set points (interlocks stay on) and the phase clock stops."""
        run_id = running("pause")
        slot.set_pause(True)
        _record(store, run_id, "console.pause", "pause requested", who)
        return slot.status()

    @router.post("/api/engine/resume", responses=errors(401, 403, 409))
    def resume(who: Operator) -> dict[str, Any]:
        """Continue a paused run."""
        run_id = running("resume")
        slot.set_pause(False)
        _record(store, run_id, "console.resume", "continue requested", who)
        return slot.status()

    @router.post("/api/engine/stop", responses=errors(401, 403, 409))
    def stop(who: Operator) -> dict[str, Any]:
        """Stop the run: the engine puts the platform in its safe state (resumable with `flowqd run --resume`)."""
        run_id = running("stop")
        _record(store, run_id, "console.stop", "stop requested", who)
        slot.set_pause(False)
        slot.terminate()
        return slot.status()

    @router.post("/api/engine/emergency-stop", responses=errors(401))
    def emergency_stop(who: Anyone) -> dict[str, Any]:
        """Emergency stop (every authenticated role): the stop flag every engine reads each control period, and
        SIGTERM to the supervised engine. New starts are refused until an operator clears the flag."""
        info = slot.alive()
        signalled = slot.emergency_stop(f"emergency stop from the console by {who.user}")
        _record(store, info.run_id if info else None, "console.emergency_stop", "EMERGENCY STOP", who)
        return {**slot.status(), "signalled": signalled}

    @router.post("/api/engine/clear-stop", responses=errors(401, 403))
    def clear_stop(who: Operator) -> dict[str, Any]:
        """Clear the emergency-stop flag (after the cause was handled)."""
        slot.clear_stop()
        return slot.status()

    @router.get("/api/campaigns", responses=errors(401))
    def campaigns(who: Viewer) -> list[dict[str, Any]]:
        """The packaged example campaigns (their names and TOML text)."""
        return [{"name": n, "toml": packaged_text(n)} for n in PACKAGED_CAMPAIGNS]

    return router
