"""The lab console and HTTP API of a flowqd database (FastAPI; optional extra ``flowqd[server]``).

``flowqd serve`` starts it. Every route but ``/login`` and ``/api/health`` needs a token (Bearer) or a browser
session (:mod:`flowqd.server.auth`); roles: viewer (read), operator (run control), admin (tokens).

======================================  ==============================================================
``GET /login``, ``POST /login``         the login form; a token → HttpOnly SameSite=Strict session cookie
``POST /logout``                        end the browser session
``GET /``                               runs with status and per-condition results
``GET /console``                        live console of the current (or ``?run=``) run: traces, spectra,
                                        PSD, peak/x1,3/RSD, progress and ETA, interlocks, events; the
                                        control panel for operators
``GET /docs``, ``GET /openapi.json``    API docs (Swagger UI, served from /static: works offline)
``GET /api/health``                     ``{"status": "ok", "flowqd_version", "database"}`` (no auth; the
                                        database URL with its password masked)
``GET /api/runs``                       runs, newest first
``GET /api/runs/{run}``                 one run: provenance (platform and campaign TOML with SHA-256)
``GET /api/runs/{run}/results``         per-condition results (peak, x1,3, RSD, PL, PLQY, CIE …)
``GET /api/runs/{run}/events``          event log (interlock trips, phases, operator actions with the user)
``GET /api/runs/{run}/traces``          sensor and set-point traces; ``?channel=`` picks one
``GET /api/runs/{run}/spectra``         spectra metadata; ``?kind=absorbance|pl`` filters
``GET /api/runs/{run}/spectra/{seq}``   one spectrum: wavelengths, processed values, its analyses
``GET /api/runs/{run}/live``            the console's data for a run as JSON (:mod:`flowqd.server.live`)
``GET /api/live?run=``                  the same as server-sent events, pushed as the store changes
``GET /runs/{run}/report``              the self-contained HTML report (as ``flowqd report``)
``POST /api/simulate``                  twin prediction for a JSON body of :class:`~flowqd.twin.Conditions`
``POST /api/preflight``                 pre-flight a campaign (operator)
``POST /api/runs``                      start a campaign in a supervised engine process (operator)
``GET /api/engine``                     the engine, pause and emergency-stop flags
``POST /api/engine/pause|resume|stop``  run control (operator)
``POST /api/engine/emergency-stop``     every authenticated role
``POST /api/engine/clear-stop``         operator
``GET|POST /api/tokens``,               list, create and revoke tokens (admin)
``POST /api/tokens/{key}/revoke``
======================================  ==============================================================

``{run}`` is an id, a UUID (or a unique prefix of ≥ 4 characters) or a unique run name. Errors are JSON
``{"detail": "<one line>"}`` with the status codes each route documents: 401 unauthenticated, 403 role or CSRF,
404 unknown run or spectrum, 409 engine busy or idle, 422 a bad request (a set point out of range names the field
and the limit). Requests whose ``Host`` is not a trusted host get 400.

The store is opened once per application (SQLAlchemy's pool serves the request threads; SQLite in WAL mode lets a
running campaign write while the server reads).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_type_hints
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from flowqd._json import jsonable
from flowqd.errors import FlowqdError
from flowqd.reactor.conditions import Conditions
from flowqd.server.auth import COOKIE, Admin, AuthConfig, Authenticator, Viewer, same_origin
from flowqd.server.control import control_router
from flowqd.server.live import POLL_S, LiveCursor
from flowqd.server.pages import console_page, docs_page, login_page, overview_page
from flowqd.server.schemas import MAX_ID, TokenRequest, errors
from flowqd.server.supervisor import EngineSlot
from flowqd.store import Store
from flowqd.store.auth import Identity, TokenStore, parse_duration
from flowqd.store.database import mask_url
from flowqd.store.export import run_metadata
from flowqd.store.live import newest_run_id

__all__ = ["LOOPBACK_HOSTS", "SimulateRequest", "create_app", "default_state_dir", "plain"]

#: Host names a loopback-only server answers to (other ``Host`` headers get 400: DNS rebinding).
LOOPBACK_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
_STATIC = Path(__file__).parent / "static"
#: Heavy requests (``POST /api/simulate``, a run's report: seconds of CPU each) served at once; more get 429.
MAX_HEAVY_REQUESTS = 2
#: Longest inlet line accepted by ``POST /api/simulate``, m (a bound for the schema; the twin takes any ≥ 0).
MAX_INLET_LINE_M = 100.0
RunRef = Annotated[str, PathParam(min_length=1, max_length=200, description="id, UUID (prefix) or unique name")]
Seq = Annotated[int, PathParam(ge=0, le=MAX_ID)]


def _simulate_request_model() -> type[BaseModel]:
    """The JSON body of ``POST /api/simulate``: the fields of :class:`~flowqd.twin.Conditions` (one definition)
    with the twin's own limits published as schema bounds (a request the schema accepts is one the twin accepts),
    plus ``bands`` (uncertainty bands); unknown fields refused."""
    from flowqd.reactor import conditions as c

    lo, hi = c.PUMP_RANGE_ML_MIN
    bounds: dict[str, tuple[float, float]] = {
        "core_temperature_c": (c.MIN_TEMPERATURE_C, c.CORE_MAX_TEMPERATURE_C),
        "core_flow_ml_min": (lo, hi), "ddt_flow_ml_min": (lo, hi),
        "shell_temperature_c": (c.MIN_TEMPERATURE_C, c.SHELL_MAX_TEMPERATURE_C),
        "core_units": (1, c.UNITS_PER_BOX), "shell_units": (1, c.UNITS_PER_BOX),
        "inlet_line_m": (0.0, MAX_INLET_LINE_M)}
    hints = get_type_hints(Conditions)

    def field(f: dataclasses.Field[Any]) -> Any:
        default = ... if f.default is dataclasses.MISSING else f.default
        if f.name not in bounds:
            return Field(default)
        ge, le = bounds[f.name]
        return Field(default, ge=ge, le=le)

    fields: dict[str, Any] = {f.name: (hints[f.name], field(f)) for f in dataclasses.fields(Conditions)}
    return create_model("SimulateRequest", __config__=ConfigDict(extra="forbid", allow_inf_nan=False),
                        bands=(bool, False), **fields)


SimulateRequest = _simulate_request_model()


#: JSON values for the responses (NaN → null, datetimes ISO 8601): the package's one converter.
plain = jsonable


def default_state_dir(db: str) -> Path:
    """Where the console keeps engine bookkeeping and flag files: ``console/`` beside a SQLite file, else
    ``flowqd-data/console``."""
    from flowqd.store.database import parse_url, sqlite_path

    path = sqlite_path(parse_url(db))
    return (path.parent if path is not None else Path("flowqd-data")) / "console"


def _run_summary(run: Any, n_conditions: int, n_spectra: int) -> dict[str, Any]:
    """A run for listings: its columns without the (long) TOML texts, and its counts."""
    return {"id": run.id, "uuid": run.uuid, "name": run.name, "status": run.status, "started_at": run.started_at,
            "ended_at": run.ended_at, "flowqd_version": run.flowqd_version, "host": run.host,
            "n_conditions": n_conditions, "n_spectra": n_spectra}


class _NotFound(FlowqdError):
    pass


def create_app(db: str, *, auth: bool = True, trusted_hosts: Sequence[str] = LOOPBACK_HOSTS,
               state_dir: Path | None = None, platform: Path | None = None,
               session_lifetime: timedelta = timedelta(hours=12)) -> FastAPI:
    """The FastAPI application serving database ``db`` (a SQLAlchemy URL; the file must exist).

    Parameters
    ----------
    auth : bool
        Require tokens (``False``: every caller is the local admin; ``flowqd serve`` allows it on loopback only).
    trusted_hosts : sequence of str
        ``Host`` header values answered; others get 400.
    state_dir : Path, optional
        Engine bookkeeping, flag files and uploaded campaigns (default :func:`default_state_dir`).
    platform : Path, optional
        Platform TOML the console's engines run on (default: the packaged simulated platform of the paper).
    """
    from flowqd import __version__

    store = Store(db, create=False)
    tokens = TokenStore(store)
    guard = Authenticator(tokens, AuthConfig(enabled=auth, session_lifetime=session_lifetime))
    slot = EngineSlot(state_dir if state_dir is not None else default_state_dir(db), db)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()  # the engine process is not ours to stop: it outlives the server

    app = FastAPI(title="flowqd", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None,
                  description="Runs, spectra, results and reports of a flowqd platform; run control; twin "
                              "predictions. Authenticate with `Authorization: Bearer TOKEN`.")
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(trusted_hosts))
    app.state.store = store
    app.state.auth = guard
    app.state.tokens = tokens
    app.state.slot = slot
    app.state.twin = None
    #: Heavy requests (a twin prediction, a report: seconds of CPU each) running at once; more get 429.
    app.state.heavy = threading.BoundedSemaphore(MAX_HEAVY_REQUESTS)

    @contextmanager
    def heavy(what: str) -> Iterator[None]:
        if not app.state.heavy.acquire(blocking=False):
            raise HTTPException(429, f"{what}: {MAX_HEAVY_REQUESTS} heavy requests (twin predictions, reports) "
                                     "are already running; retry in a few seconds")
        try:
            yield
        finally:
            app.state.heavy.release()
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")

    @app.exception_handler(FlowqdError)
    async def _flowqd_error(request: Request, exc: FlowqdError) -> JSONResponse:
        status = 404 if isinstance(exc, _NotFound) else 422
        detail = " ".join(str(exc).split()).replace(store.url, mask_url(store.url))
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
        return JSONResponse({"detail": "; ".join(parts)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 401 and _wants_html(request):
            return HTMLResponse(login_page("log in to see this page"), status_code=401,
                                headers=dict(exc.headers or {}))
        return JSONResponse({"detail": " ".join(str(exc.detail).split())}, status_code=exc.status_code,
                            headers=dict(exc.headers or {}))

    def run_id(ref: str) -> int:
        try:
            return store.resolve_run(ref)
        except FlowqdError as exc:  # unknown or ambiguous reference
            raise _NotFound(str(exc)) from exc

    def summaries() -> list[dict[str, Any]]:
        counts = store.run_counts()
        return [_run_summary(r, *counts[r.id]) for r in store.list_runs()]


    # ------------------------------------------------------------------ open routes
    @app.get("/api/health", tags=["read"])
    def health() -> dict[str, Any]:
        """Liveness (no authentication): version and the database URL with its password masked."""
        return {"status": "ok", "flowqd_version": __version__, "database": mask_url(store.url)}

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form() -> HTMLResponse:
        return HTMLResponse(login_page())

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        token = (await _form(request)).get("token", "")
        return await run_in_threadpool(_login, request, token)

    def _login(request: Request, token: str) -> Response:
        if not same_origin(request):
            return HTMLResponse(login_page("cross-origin login refused"), status_code=403)
        who = tokens.verify(token.strip()) if auth else None
        if who is None:
            return HTMLResponse(login_page("invalid, expired or revoked token"), status_code=401)
        sid, _ = tokens.open_session(who, session_lifetime)
        resp = RedirectResponse("/console", status_code=303)
        resp.set_cookie(COOKIE, sid, max_age=int(session_lifetime.total_seconds()), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
        return resp

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        csrf = (await _form(request)).get("csrf", "")
        return await run_in_threadpool(_logout, request, csrf)

    def _logout(request: Request, csrf: str) -> Response:
        sid = request.cookies.get(COOKIE, "")
        who = tokens.session(sid)
        if who is None:
            resp: Response = JSONResponse({"detail": "not logged in"}, status_code=401)
        else:
            if not tokens.csrf_ok(who, csrf) or not same_origin(request):
                raise HTTPException(403, "missing or wrong CSRF token")
            tokens.close_session(sid)
            resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    # ------------------------------------------------------------------ pages and docs
    def page_identity(request: Request) -> Identity:
        who = guard.page_identity(request)
        if who is None:
            raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"})
        return who

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(who: Viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return HTMLResponse(docs_page(page_identity(request).csrf or ""))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview(request: Request) -> HTMLResponse:
        who = page_identity(request)
        return HTMLResponse(overview_page(store, summaries(), who, who.csrf or ""))

    @app.get("/console", response_class=HTMLResponse, include_in_schema=False)
    def console(request: Request, run: Annotated[str | None, Query(max_length=200)] = None) -> HTMLResponse:
        who = page_identity(request)
        rid = run_id(run) if run else None
        return HTMLResponse(console_page(who, who.csrf or "", rid, controls=who.allows("operator")))

    # ------------------------------------------------------------------ read API
    @app.get("/api/runs", tags=["read"], responses=errors(401))
    def runs(who: Viewer) -> list[dict[str, Any]]:
        """Runs, newest first, with their counts."""
        return plain(summaries())

    @app.get("/api/runs/{run}", tags=["read"], responses=errors(401, 404, 422))
    def run_detail(run: RunRef, who: Viewer) -> dict[str, Any]:
        """One run with its provenance."""
        return plain(run_metadata(store.get_run(run_id(run))))

    @app.get("/api/runs/{run}/results", tags=["read"], responses=errors(401, 404, 422))
    def results(run: RunRef, who: Viewer) -> list[dict[str, Any]]:
        """Per-condition results."""
        return plain(store.results_table(run_id(run)))

    @app.get("/api/runs/{run}/events", tags=["read"], responses=errors(401, 404, 422))
    def events(run: RunRef, who: Viewer) -> list[dict[str, Any]]:
        """The event log, in time order."""
        return plain([{"at": e.at, "t_s": e.t_s, "level": e.level, "kind": e.kind, "message": e.message,
                       "details": e.details} for e in store.events(run_id(run))])

    @app.get("/api/runs/{run}/traces", tags=["read"], responses=errors(401, 404, 422))
    def traces(run: RunRef, who: Viewer, channel: Annotated[str | None, Query(max_length=100)] = None
               ) -> dict[str, Any]:
        """Sensor and set-point traces by channel."""
        rid = run_id(run)
        if channel is not None and channel not in store.channels(rid):
            raise _NotFound(f"run {run}: no trace channel {channel!r} (have: {', '.join(store.channels(rid))})")
        out: dict[str, dict[str, list[Any]]] = {}
        for t in store.traces(rid, channel):
            ch = out.setdefault(f"{t.channel} ({t.role})" if t.role != "reading" else t.channel,
                                {"t_s": [], "value": []})
            ch["t_s"].append(t.t_s)
            ch["value"].append(t.value)
        return plain(out)

    @app.get("/api/runs/{run}/spectra", tags=["read"], responses=errors(401, 404, 422))
    def spectra(run: RunRef, who: Viewer,
                kind: Literal["absorbance", "pl", "intensity", "transmittance"] | None = None) -> list[dict[str, Any]]:
        """Spectra metadata (no arrays)."""
        rid = run_id(run)
        cond_index: dict[int | None, int] = {c.id: c.index for c in store.conditions(rid)}
        return plain([{"seq": s.seq, "kind": s.kind, "condition_index": cond_index.get(s.condition_id),
                       "acquired_at": s.acquired_at, "t_s": s.t_s, "n_points": s.n_points,
                       "saturated": s.saturated, "integration_ms": s.integration_ms, "averages": s.averages}
                      for s in store.spectra(rid, kind=kind)])

    @app.get("/api/runs/{run}/spectra/{seq}", tags=["read"], responses=errors(401, 404, 422))
    def spectrum(run: RunRef, seq: Seq, who: Viewer) -> dict[str, Any]:
        """One spectrum: axis, processed values and its analyses."""
        rid = run_id(run)
        match = store.spectra(rid, seq=seq)
        if not match:
            raise _NotFound(f"run {run}: no spectrum with seq {seq}")
        s = match[0]
        processed = s.processed
        return plain({"seq": s.seq, "kind": s.kind, "acquired_at": s.acquired_at, "t_s": s.t_s,
                      "wavelength_nm": s.processed_wavelength_nm if processed is not None else s.wavelength_nm,
                      "values": processed if processed is not None else s.counts, "meta": s.meta,
                      "analyses": [{"method": a.method, "payload": a.payload}
                                   for a in store.analyses(rid, spectrum_id=s.id)]})

    @app.get("/api/runs/{run}/live", tags=["live"], responses=errors(401, 404, 422))
    def live_state(run: RunRef, who: Viewer) -> dict[str, Any]:
        """The console's data for a run so far (the first message of the live stream)."""
        return LiveCursor(store, slot, run_id(run)).update() or {}

    def current_run() -> int | None:
        info = slot.alive()
        if info is not None and info.run_id is not None:
            return info.run_id
        return newest_run_id(store)

    @app.get("/api/live", include_in_schema=False)
    async def live(request: Request, who: Viewer, run: Annotated[str | None, Query(max_length=200)] = None
                   ) -> StreamingResponse:
        """Server-sent events: the run's data so far, then what is new (see :mod:`flowqd.server.live`)."""
        rid = await run_in_threadpool(run_id, run) if run else await run_in_threadpool(current_run)

        async def stream() -> AsyncIterator[str]:
            nonlocal rid
            yield "retry: 2000\n\n"
            while rid is None:  # an empty database: wait for the first run
                if await request.is_disconnected():
                    return
                await asyncio.sleep(POLL_S)
                rid = await run_in_threadpool(current_run)
                yield ": waiting\n\n"
            cursor = LiveCursor(store, slot, rid)
            idle = 0.0
            while not await request.is_disconnected():
                msg = await run_in_threadpool(cursor.update)
                if msg is not None:
                    idle = 0.0
                    yield f"event: update\ndata: {json.dumps(msg, separators=(',', ':'))}\n\n"
                else:
                    idle += POLL_S
                    if idle >= 15.0:
                        idle = 0.0
                        yield ": ping\n\n"
                await asyncio.sleep(POLL_S)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/runs/{run}/report", response_class=HTMLResponse, tags=["read"],
             responses=errors(401, 404, 422, 429, html=True))
    def report(run: RunRef, who: Viewer) -> HTMLResponse:
        """The self-contained HTML report of a run."""
        from flowqd.report.html import write_report

        rid = run_id(run)
        with heavy("report"), tempfile.TemporaryDirectory(prefix="flowqd-report-") as tmp:
            path = write_report(store, rid, Path(tmp))
            return HTMLResponse(path.read_text(encoding="utf-8"))

    @app.post("/api/simulate", tags=["twin"], responses=errors(400, 401, 422, 429))
    # SimulateRequest is built at import time from Conditions' fields (create_model): a class FastAPI reads, but a
    # variable to a static checker
    def simulate(req: SimulateRequest, who: Viewer) -> dict[str, Any]:  # pyright: ignore[reportInvalidTypeForm]
        """Twin prediction for a set of conditions (writes nothing; every role)."""
        from flowqd.twin import Twin

        if app.state.twin is None:
            app.state.twin = Twin.default()
        fields = req.model_dump()
        bands = fields.pop("bands")
        with heavy("simulate"):
            return plain(app.state.twin.predict(Conditions(**fields), bands=bands).to_dict())

    # ------------------------------------------------------------------ run control, tokens
    app.include_router(control_router(store, slot, platform))

    def token_row(t: Any) -> dict[str, Any]:
        return plain({"id": t.id, "key": t.key, "name": t.name, "role": t.role, "created_at": t.created_at,
                      "expires_at": t.expires_at, "revoked_at": t.revoked_at})

    @app.get("/api/tokens", tags=["admin"], responses=errors(401, 403))
    def list_tokens(who: Admin) -> list[dict[str, Any]]:
        """Every token without its secret."""
        return [token_row(t) for t in tokens.list()]

    @app.post("/api/tokens", status_code=201, tags=["admin"], responses=errors(400, 401, 403, 422))
    def create_token(req: TokenRequest, who: Admin) -> dict[str, Any]:
        """A new token; the secret is in this response only."""
        row, secret = tokens.create(req.role, name=req.name,
                                    expires=None if req.expires is None else parse_duration(req.expires))
        return {**token_row(row), "token": secret}

    @app.post("/api/tokens/{key}/revoke", tags=["admin"], responses=errors(401, 403, 404, 422))
    def revoke_token(key: Annotated[str, PathParam(pattern="^[0-9a-f]{8}$")], who: Admin
                     ) -> dict[str, Any]:
        """Revoke a token (by its key): it and its browser sessions stop working at once."""
        try:
            return token_row(tokens.revoke(key))
        except FlowqdError as exc:
            raise _NotFound(str(exc)) from exc

    return app


async def _form(request: Request, max_bytes: int = 4096) -> dict[str, str]:
    """The fields of a small ``application/x-www-form-urlencoded`` body (first value of each; at most 4 KiB)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise HTTPException(413, "form too large")
    fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=10)
    return {k: v[0] for k, v in fields.items() if v}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")
