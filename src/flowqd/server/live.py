"""Live console data: what a run gained since the last look, pushed as server-sent events.

``GET /api/live?run=RUN`` is an ``text/event-stream``: one ``update`` message at once (the whole run so far), then
one whenever the store has something new (checked every :data:`POLL_S`), at least one ``ping`` comment every
15 s. Each message is the JSON of :meth:`LiveCursor.update`: run status, engine state, phase, condition,
progress with ETA, interlock state, new trace points, new events, new per-spectrum results, and the latest
absorbance and PL spectra (with the PSD and its model absorbance) when they changed. ``GET
/api/runs/{run}/live`` returns the same first message as JSON (for scripts and the schema tests).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from flowqd._json import jsonable
from flowqd.errors import FlowqdError
from flowqd.server.supervisor import EngineSlot
from flowqd.store import Store
from flowqd.store.live import analyses_after, events_after, latest_spectrum, traces_after

__all__ = ["POLL_S", "LiveCursor", "spectrum_payload"]

#: Seconds between store polls of a live stream (the browser sees a new spectrum within about this + drawing).
POLL_S = 0.2


def _model_absorbance(payload: dict[str, Any], wavelength_nm: np.ndarray, values: np.ndarray,
                      material: str) -> list[float | None] | None:
    """The absorbance of the fitted PSD on the spectrum's axis (amplitude by least squares over the wavelengths
    where the model is defined), or ``None`` without a PSD."""
    psd = payload.get("psd")
    if not isinstance(psd, dict) or not psd.get("diameter_nm"):
        return None
    from flowqd.analysis.psd import forward_absorbance

    try:
        model = forward_absorbance(psd["diameter_nm"], psd["q3"], wavelength_nm=wavelength_nm, material=material,
                                   volume_fraction=1.0)
    except (FlowqdError, ValueError):
        return None
    model = np.asarray(model, dtype=float)
    ok = np.isfinite(model) & np.isfinite(values) & (model > 0)
    peak = payload.get("peak_wavelength_nm")
    if peak is not None:
        ok &= wavelength_nm <= float(peak) + 20.0  # the fit window lies above the band edge
    if ok.sum() < 3:
        return None
    scale = float(np.dot(model[ok], values[ok]) / np.dot(model[ok], model[ok]))
    return [float(v) if math.isfinite(v) else None for v in model * scale]


def spectrum_payload(store: Store, run_id: int, spectrum: Any, *, material: str = "InP") -> dict[str, Any]:
    """A spectrum for the plots: axis, values, its analyses' key numbers, PSD and model absorbance."""
    processed = spectrum.processed
    w = spectrum.processed_wavelength_nm if processed is not None else spectrum.wavelength_nm
    v = processed if processed is not None else spectrum.counts
    analyses = store.analyses(run_id, spectrum_id=spectrum.id)
    payload = analyses[0].payload if analyses else {}
    out: dict[str, Any] = {"seq": spectrum.seq, "kind": spectrum.kind, "t_s": spectrum.t_s,
                           "acquired_at": spectrum.acquired_at, "wavelength_nm": w, "values": v,
                           "analysis": {k: payload.get(k) for k in (
                               "peak_wavelength_nm", "x13_nm", "sigma_nm", "rsd", "fwhm_nm", "plqy", "cie_x",
                               "cie_y", "error") if k in payload}}
    if spectrum.kind == "absorbance" and v is not None:
        psd = payload.get("psd")
        if isinstance(psd, dict):
            out["psd"] = {"diameter_nm": psd.get("diameter_nm"), "q3": psd.get("q3")}
        out["model"] = _model_absorbance(payload, np.asarray(w, float), np.asarray(v, float), material)
    return out


class LiveCursor:
    """One viewer's position in one run: the ids seen so far; :meth:`update` returns what is new."""

    def __init__(self, store: Store, slot: EngineSlot, run_id: int) -> None:
        self.store = store
        self.slot = slot
        self.run_id = run_id
        self.trace_id = 0
        self.event_id = 0
        self.analysis_id = 0
        self.seqs: dict[str, int] = {}
        self.status: tuple[Any, ...] | None = None
        self.phase = "–"
        self.condition: dict[str, Any] | None = None
        self.interlock: dict[str, Any] = {"state": "ok", "message": ""}
        self.estimate_s: float | None = None
        self.t_s = 0.0
        self.n_conditions = 0
        self.done: set[int] = set()
        self.material = "InP"
        self.campaign_read = False  # parsed once (a text that does not parse is not parsed again on every poll)

    def update(self) -> dict[str, Any] | None:
        """What changed since the last call (everything on the first), or ``None`` when nothing did."""
        store, rid = self.store, self.run_id
        run = store.get_run(rid)
        if not self.campaign_read and run.campaign_toml:
            self.campaign_read = True
            self._read_campaign(run.campaign_toml, run.platform_toml)
        traces = traces_after(store, rid, self.trace_id)
        events = events_after(store, rid, self.event_id)
        results = analyses_after(store, rid, self.analysis_id)
        engine = self.slot.status()
        status = (run.status, run.ended_at, engine["paused"], engine["emergency_stop"],
                  None if engine["engine"] is None else engine["engine"]["run_id"])
        new_spectra: dict[str, Any] = {}
        if results or self.status is None:
            for kind in ("absorbance", "pl"):
                s = latest_spectrum(store, rid, kind)
                if s is not None and self.seqs.get(kind) != s.seq:
                    self.seqs[kind] = s.seq
                    new_spectra[kind] = spectrum_payload(store, rid, s, material=self.material)
        if not (traces or events or results or new_spectra) and status == self.status:
            return None
        self.status = status
        out_traces: dict[str, dict[str, list[float]]] = {}
        for t in traces:
            name = t.channel if t.role == "reading" else f"{t.channel} ({t.role})"
            ch = out_traces.setdefault(name, {"t_s": [], "value": []})
            ch["t_s"].append(t.t_s)
            ch["value"].append(t.value)
            self.t_s = max(self.t_s, t.t_s)
        if traces:
            self.trace_id = traces[-1].id
        for e in events:
            self._follow(e)
        if events:
            self.event_id = events[-1].id
        if results:
            self.analysis_id = results[-1]["id"]
        eng = engine["engine"]
        speed = eng["speed"] if eng is not None and eng["run_id"] == rid else None
        remaining_s = None if self.estimate_s is None else max(self.estimate_s - self.t_s, 0.0)
        if run.status in ("completed", "failed", "tripped"):
            remaining_s = 0.0
        return jsonable({
            "run": {"id": run.id, "name": run.name, "status": run.status, "started_at": run.started_at,
                    "ended_at": run.ended_at},
            "engine": engine, "phase": "paused" if run.status == "paused" else self.phase,
            "condition": self.condition, "interlock": self.interlock,
            "progress": {"conditions_done": len(self.done), "n_conditions": self.n_conditions, "t_s": self.t_s,
                         "estimate_s": self.estimate_s, "remaining_s": remaining_s,
                         "remaining_wall_s": None if remaining_s is None or not speed else remaining_s / speed},
            "traces": out_traces,
            "events": [{"id": e.id, "at": e.at, "t_s": e.t_s, "level": e.level, "kind": e.kind,
                        "message": e.message} for e in events],
            "results": results, "spectra": new_spectra})

    def _read_campaign(self, campaign_toml: str, platform_toml: str) -> None:
        from flowqd.platform import campaign_from_text, platform_from_text

        try:
            self.n_conditions = len(campaign_from_text(campaign_toml).conditions)
            if platform_toml:
                self.material = platform_from_text(platform_toml).control.material
        except FlowqdError:
            self.n_conditions = 0

    def _follow(self, e: Any) -> None:
        details = e.details or {}
        if e.kind == "run.started" and details.get("estimate_min") is not None:
            self.estimate_s = float(details["estimate_min"]) * 60.0
        elif e.kind.startswith("phase."):
            self.phase = e.kind.split(".", 1)[1]
        elif e.kind == "condition.started":
            self.condition = {"index": details.get("index"), "message": e.message,
                              "setpoints": {k: v for k, v in details.items() if k not in ("index",
                                                                                       "existing_spectra")}}
        elif e.kind == "condition.completed" and details.get("index") is not None:
            self.done.add(int(details["index"]))
        elif e.kind.startswith("interlock."):
            self.interlock = {"state": "tripped", "message": e.message, "kind": e.kind.split(".", 1)[1]}
            self.phase = "tripped"
        elif e.kind in ("run.resumed",):
            self.interlock = {"state": "ok", "message": ""}
        if e.t_s is not None:
            self.t_s = max(self.t_s, float(e.t_s))
