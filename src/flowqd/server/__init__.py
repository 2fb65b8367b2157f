"""HTTP access to a flowqd database and the twin (FastAPI; optional extra ``flowqd[server]``).

``flowqd serve`` starts it. Everything is read-only except the twin prediction, which writes nothing:

======================================  ==============================================================
``GET /``                               live overview: runs with status and per-condition results,
                                        refreshed every 10 s (an HTML page for the lab screen)
``GET /api/health``                     ``{"status": "ok", "flowqd_version", "database"}``
``GET /api/runs``                       runs, newest first
``GET /api/runs/{run}``                 one run: provenance (platform and campaign TOML with SHA-256)
``GET /api/runs/{run}/results``         per-condition results (peak, x1,3, RSD, PL, PLQY, CIE …)
``GET /api/runs/{run}/events``          event log (interlock trips, phases, operator actions)
``GET /api/runs/{run}/traces``          sensor and set-point traces; ``?channel=`` picks one
``GET /api/runs/{run}/spectra``         spectra metadata; ``?kind=absorbance|pl`` filters
``GET /api/runs/{run}/spectra/{seq}``   one spectrum: wavelengths, processed values, its analyses
``GET /runs/{run}/report``              the self-contained HTML report (as ``flowqd report``)
``POST /api/simulate``                  twin prediction for a JSON body of :class:`~flowqd.twin.Conditions`
                                        fields (same keys as ``flowqd simulate --json``)
======================================  ==============================================================

``{run}`` is an id, a UUID (or a unique prefix of ≥ 4 characters) or a unique run name. Errors are JSON
``{"detail": "<one line>"}``: 404 for an unknown run or spectrum, 422 for a bad request (a set point out of range
names the field and the limit).

The store is opened once per application (SQLAlchemy's pool serves the request threads; SQLite in WAL mode lets a
running campaign write while the server reads).
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import escape
from pathlib import Path
from typing import Any, get_type_hints

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, create_model

from flowqd._json import jsonable
from flowqd._time import for_people
from flowqd.errors import FlowqdError
from flowqd.store import Store
from flowqd.store.export import run_metadata
from flowqd.twin.conditions import Conditions

__all__ = ["SimulateRequest", "create_app", "plain"]

#: Seconds between refreshes of the overview page.
REFRESH_S = 10


def _simulate_request_model() -> type[BaseModel]:
    """The JSON body of ``POST /api/simulate``: the fields of :class:`~flowqd.twin.Conditions` (one definition;
    ranges are checked by ``Conditions`` itself) plus ``bands`` (uncertainty bands), unknown fields refused."""
    hints = get_type_hints(Conditions)
    fields: dict[str, Any] = {f.name: (hints[f.name], ... if f.default is dataclasses.MISSING else f.default)
                              for f in dataclasses.fields(Conditions)}
    return create_model("SimulateRequest", __config__=ConfigDict(extra="forbid"), bands=(bool, False), **fields)


SimulateRequest = _simulate_request_model()


#: JSON values for the responses (NaN → null, datetimes ISO 8601): the package's one converter.
plain = jsonable


def _run_summary(run: Any, n_conditions: int, n_spectra: int) -> dict[str, Any]:
    """A run for listings: its columns without the (long) TOML texts, and its counts."""
    return {"id": run.id, "uuid": run.uuid, "name": run.name, "status": run.status, "started_at": run.started_at,
            "ended_at": run.ended_at, "flowqd_version": run.flowqd_version, "host": run.host,
            "n_conditions": n_conditions, "n_spectra": n_spectra}


def create_app(db: str) -> FastAPI:
    """The FastAPI application serving database ``db`` (a SQLAlchemy URL; the file must exist)."""
    from flowqd import __version__

    store = Store(db, create=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="flowqd", version=__version__, lifespan=lifespan,
                  description="Runs, spectra, results and reports of a flowqd platform; twin predictions.")
    app.state.store = store
    app.state.twin = None

    class NotFound(FlowqdError):
        pass

    @app.exception_handler(FlowqdError)
    async def _flowqd_error(request: Request, exc: FlowqdError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFound) else 422
        return JSONResponse({"detail": " ".join(str(exc).split())}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
        return JSONResponse({"detail": "; ".join(parts)}, status_code=422)

    def run_id(ref: str) -> int:
        try:
            return store.resolve_run(ref)
        except FlowqdError as exc:  # unknown or ambiguous reference
            raise NotFound(str(exc)) from exc

    def summaries() -> list[dict[str, Any]]:
        counts = store.run_counts()
        return [_run_summary(r, *counts[r.id]) for r in store.list_runs()]

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "flowqd_version": __version__, "database": store.url}

    @app.get("/api/runs")
    def runs() -> list[dict[str, Any]]:
        return plain(summaries())

    @app.get("/api/runs/{run}")
    def run_detail(run: str) -> dict[str, Any]:
        return plain(run_metadata(store.get_run(run_id(run))))

    @app.get("/api/runs/{run}/results")
    def results(run: str) -> list[dict[str, Any]]:
        return plain(store.results_table(run_id(run)))

    @app.get("/api/runs/{run}/events")
    def events(run: str) -> list[dict[str, Any]]:
        return plain([{"at": e.at, "t_s": e.t_s, "level": e.level, "kind": e.kind, "message": e.message,
                       "details": e.details} for e in store.events(run_id(run))])

    @app.get("/api/runs/{run}/traces")
    def traces(run: str, channel: str | None = None) -> dict[str, Any]:
        rid = run_id(run)
        if channel is not None and channel not in store.channels(rid):
            raise NotFound(f"run {run}: no trace channel {channel!r} (have: {', '.join(store.channels(rid))})")
        out: dict[str, dict[str, list[Any]]] = {}
        for t in store.traces(rid, channel):
            ch = out.setdefault(f"{t.channel} ({t.role})" if t.role != "reading" else t.channel,
                                {"t_s": [], "value": []})
            ch["t_s"].append(t.t_s)
            ch["value"].append(t.value)
        return plain(out)

    @app.get("/api/runs/{run}/spectra")
    def spectra(run: str, kind: str | None = None) -> list[dict[str, Any]]:
        rid = run_id(run)
        cond_index = {c.id: c.index for c in store.conditions(rid)}
        return plain([{"seq": s.seq, "kind": s.kind, "condition_index": cond_index.get(s.condition_id),
                       "acquired_at": s.acquired_at, "t_s": s.t_s, "n_points": s.n_points,
                       "saturated": s.saturated, "integration_ms": s.integration_ms, "averages": s.averages}
                      for s in store.spectra(rid, kind=kind)])

    @app.get("/api/runs/{run}/spectra/{seq}")
    def spectrum(run: str, seq: int) -> dict[str, Any]:
        rid = run_id(run)
        match = store.spectra(rid, seq=seq)
        if not match:
            raise NotFound(f"run {run}: no spectrum with seq {seq}")
        s = match[0]
        processed = s.processed
        return plain({"seq": s.seq, "kind": s.kind, "acquired_at": s.acquired_at, "t_s": s.t_s,
                      "wavelength_nm": s.processed_wavelength_nm if processed is not None else s.wavelength_nm,
                      "values": processed if processed is not None else s.counts, "meta": s.meta,
                      "analyses": [{"method": a.method, "payload": a.payload}
                                   for a in store.analyses(rid, spectrum_id=s.id)]})

    @app.get("/runs/{run}/report", response_class=HTMLResponse)
    def report(run: str) -> HTMLResponse:
        from flowqd.report.html import write_report

        rid = run_id(run)
        with tempfile.TemporaryDirectory(prefix="flowqd-report-") as tmp:
            path = write_report(store, rid, Path(tmp))
            return HTMLResponse(path.read_text(encoding="utf-8"))

    @app.post("/api/simulate")
    def simulate(req: SimulateRequest) -> dict[str, Any]:
        from flowqd.twin import Twin

        if app.state.twin is None:
            app.state.twin = Twin.default()
        fields = req.model_dump()
        bands = fields.pop("bands")
        return plain(app.state.twin.predict(Conditions(**fields), bands=bands).to_dict())

    @app.get("/", response_class=HTMLResponse)
    def overview() -> HTMLResponse:
        return HTMLResponse(_overview_html(store, summaries()))

    return app


def _overview_html(store: Store, runs: list[dict[str, Any]]) -> str:
    """The lab-screen page: every run, newest first, with its per-condition results."""

    def cell(v: Any, spec: str, scale: float = 1.0) -> str:
        return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v * scale, spec)

    blocks = []
    for r in runs:
        rows = store.results_table(r["id"])
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(str(x))}</td>" for x in (
                row["index"], row.get("label") or "", cell(row.get("core_temperature_c"), "g"),
                cell(row.get("core_flow_ml_min"), "g"), cell(row.get("peak_nm"), ".1f"),
                cell(row.get("x13_nm"), ".2f"), cell(row.get("rsd"), ".1f", 100.0), cell(row.get("pl_peak_nm"), ".1f"),
                cell(row.get("plqy"), ".1f", 100.0), row.get("status", ""))) + "</tr>"
            for row in rows)
        blocks.append(
            f"<h2>run {r['id']}: {escape(r['name'])} <span class='{escape(r['status'])}'>{escape(r['status'])}</span>"
            f"</h2><p>started {escape(for_people(r['started_at']))} · {r['n_conditions']} conditions · "
            f"{r['n_spectra']} spectra · <a href='/runs/{r['id']}/report'>report</a> · "
            f"<a href='/api/runs/{r['id']}/results'>JSON</a></p>"
            "<table><tr><th>#</th><th>label</th><th>T core (°C)</th><th>flow (mL/min)</th><th>peak (nm)</th>"
            "<th>x1,3 (nm)</th><th>RSD (%)</th><th>PL peak (nm)</th><th>PLQY (%)</th><th>status</th></tr>"
            f"{body}</table>")
    content = "".join(blocks) or f"<p>no runs yet in {escape(store.url)}</p>"
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<meta http-equiv='refresh' content='{REFRESH_S}'><title>flowqd</title><style>"
            "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
            "td,th{border-bottom:1px solid #ccc;padding:2px 8px;text-align:right}"
            ".running{color:#07c}.completed{color:#080}.tripped,.failed{color:#c00}.paused{color:#b80}"
            f"</style></head><body><h1>flowqd</h1><p>{escape(store.url)} · refreshed every {REFRESH_S} s</p>"
            f"{content}</body></html>")
