"""HTML pages of the lab console: login, overview, live console, API docs (every asset served from /static)."""

from __future__ import annotations

from html import escape
from typing import Any

from flowqd._time import for_people
from flowqd.store import Store
from flowqd.store.auth import Identity
from flowqd.store.database import mask_url
from flowqd.store.results import columns

__all__ = ["console_page", "docs_page", "login_page", "overview_page", "when"]

_HEAD = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
         "<meta name='viewport' content='width=device-width, initial-scale=1'>"
         "<link rel='stylesheet' href='/static/console.css'>")


#: Timestamps for people (UTC to the second): the package's one formatter.
when = for_people


def _nav(who: Identity, csrf: str) -> str:
    out = (f"<nav><a href='/'>runs</a> <a href='/console'>console</a> <a href='/docs'>API</a>"
           f"<span class='who'>{escape(who.user)} · {escape(who.role)}</span>")
    if who.csrf is not None:
        out += (f"<form method='post' action='/logout' class='inline'><input type='hidden' name='csrf' "
                f"value='{escape(csrf)}'><button>log out</button></form>")
    return out + "</nav>"


def login_page(message: str = "") -> str:
    """The login form: a token is exchanged for a session cookie."""
    msg = f"<p class='error'>{escape(message)}</p>" if message else ""
    return (f"{_HEAD}<title>flowqd · log in</title></head><body class='login'><h1>flowqd lab console</h1>{msg}"
            "<form method='post' action='/login'><label>API token <input type='password' name='token' "
            "autocomplete='current-password' required maxlength='200' autofocus></label> "
            "<button type='submit'>log in</button></form>"
            "<p class='hint'>Tokens are made on the server: <code>flowqd token create --role operator</code>.</p>"
            "</body></html>")


def overview_page(store: Store, runs: list[dict[str, Any]], who: Identity, csrf: str) -> str:
    """Every run, newest first, with its per-condition results (the lab-screen table)."""
    cols = columns("index", "label", "core_temperature_c", "core_flow_ml_min", "peak_nm", "x13_nm", "rsd",
                   "pl_peak_nm", "plqy", "status")
    head = "<tr>" + "".join(f"<th>{escape(c.header)}</th>" for c in cols) + "</tr>"
    blocks = []
    for r in runs:
        rows = store.results_table(r["id"])
        body = "".join("<tr>" + "".join(f"<td>{escape(c.cell(row))}</td>" for c in cols) + "</tr>" for row in rows)
        blocks.append(
            f"<h2>run {r['id']}: {escape(r['name'])} <span class='{escape(r['status'])}'>{escape(r['status'])}</span>"
            f"</h2><p>started {when(r['started_at'])} · {r['n_conditions']} conditions · {r['n_spectra']} spectra · "
            f"<a href='/console?run={r['id']}'>console</a> · <a href='/runs/{r['id']}/report'>report</a> · "
            f"<a href='/api/runs/{r['id']}/results'>JSON</a></p>"
            f"<table>{head}{body}</table>")
    db = escape(mask_url(store.url))
    content = "".join(blocks) or f"<p>no runs yet in {db}</p>"
    return (f"{_HEAD}<meta name='csrf-token' content='{escape(csrf)}'><title>flowqd · runs</title></head><body>"
            f"{_nav(who, csrf)}<h1>flowqd runs</h1><p class='hint'>database {db}</p>{content}</body></html>")


def console_page(who: Identity, csrf: str, run_id: int | None, *, controls: bool) -> str:
    """The live console; the control panel exists in the page only for operators and admins."""
    panel = ""
    if controls:
        panel = (
            "<section id='controls' class='card'><h2>control</h2>"
            "<div class='row'><label>campaign <select id='campaign'>"
            "<option value='campaign-temperature-series.toml'>temperature series (packaged)</option>"
            "<option value='campaign-core-shell.toml'>core-shell (packaged)</option>"
            "<option value='upload'>upload TOML…</option></select></label>"
            "<label>speed (sim s per s) <input id='speed' type='number' min='0' max='1000000' value='1000'></label>"
            "</div><textarea id='toml' rows='6' placeholder='campaign TOML' hidden></textarea>"
            "<input id='file' type='file' accept='.toml' hidden>"
            "<div class='row'><button id='preflight'>pre-flight</button><button id='start' disabled>start</button>"
            "<button id='pause'>pause</button><button id='resume'>resume</button><button id='stop'>stop</button>"
            "<button id='clear-stop'>clear e-stop</button></div><pre id='preflight-out'></pre></section>")
    estop = "<button id='estop' class='estop'>EMERGENCY STOP</button>"
    run_attr = "" if run_id is None else str(run_id)
    return (
        f"{_HEAD}<link rel='stylesheet' href='/static/vendor/uplot/uPlot.min.css'>"
        f"<meta name='csrf-token' content='{escape(csrf)}'><title>flowqd · console</title></head>"
        f"<body data-run='{run_attr}' data-role='{escape(who.role)}'>{_nav(who, csrf)}"
        "<header class='status'><h1 id='title'>flowqd console</h1>"
        "<div id='state'><span id='run-status'>–</span> · phase <b id='phase'>–</b> · <span id='condition'>–</span>"
        " · <span id='interlock' class='ok'>interlocks ok</span></div>"
        "<div id='progress'><progress id='bar' max='1' value='0'></progress> <span id='eta'>–</span></div>"
        f"{estop}<span id='msg'></span></header>{panel}"
        "<main class='grid'>"
        "<section class='card'><h2>temperatures (°C): set point vs reading</h2><div id='plot-temp'></div></section>"
        "<section class='card'><h2>pressure (bar)</h2><div id='plot-pressure'></div></section>"
        "<section class='card'><h2>flows (mL/min)</h2><div id='plot-flow'></div></section>"
        "<section class='card'><h2>syringe volumes (mL)</h2><div id='plot-volume'></div></section>"
        "<section class='card'><h2>absorbance <span id='abs-seq'></span></h2><div id='plot-abs'></div>"
        "<p id='abs-info'></p></section>"
        "<section class='card'><h2>PL <span id='pl-seq'></span></h2><div id='plot-pl'></div><p id='pl-info'></p>"
        "</section>"
        "<section class='card'><h2>PSD q3 (1/nm)</h2><div id='plot-psd'></div></section>"
        "<section class='card'><h2>peak (nm), x1,3 (nm) and RSD (%) against time</h2><div id='plot-peak'></div>"
        "</section>"
        "<section class='card wide'><h2>events</h2><table id='events'><thead><tr><th>time (UTC)</th><th>t (min)"
        "</th><th>level</th><th>kind</th><th>message</th></tr></thead><tbody></tbody></table></section>"
        "</main><script src='/static/vendor/uplot/uPlot.iife.min.js'></script>"
        "<script src='/static/console.js'></script></body></html>")


def docs_page(csrf: str) -> str:
    """Swagger UI over /openapi.json, from the vendored bundle (works offline); "try it out" sends the CSRF
    token of the browser session."""
    return (f"{_HEAD}<link rel='stylesheet' href='/static/vendor/swagger-ui/swagger-ui.css'>"
            f"<meta name='csrf-token' content='{escape(csrf)}'>"
            "<title>flowqd · API</title></head><body><div id='swagger-ui'></div>"
            "<script src='/static/vendor/swagger-ui/swagger-ui-bundle.js'></script>"
            "<script src='/static/docs.js'></script></body></html>")
