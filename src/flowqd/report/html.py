"""A self-contained HTML report of one stored run.

:func:`write_report` reads only the :class:`~flowqd.store.Store` and writes ``run<ID>-report.html`` plus its
figures as PNG files beside it. The HTML embeds every figure as a base64 ``data:`` URI and uses inline CSS only,
so the single file can be mailed or archived; it references nothing outside itself.

Contents: run header (name, UUID, status, start/end, flowqd version, host, SHA-256 of the platform and campaign
files, their TOML text in collapsible blocks); the results table per condition (set points, exciton peak,
x1,3, σ, RSD, conversion/production and PL peak/FWHM/PLQY/CIE when present); the paper's figures (Fig. 3a
spectra, 3b PSDs, 3c x1,3 and RSD against the varied set point, Fig. 4a absorbance + PL, Fig. 4b CIE 1931);
set-point/sensor traces; and the events table with interlock trips highlighted.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from flowqd._time import for_people
from flowqd.analysis.outcome import StoredOutcome
from flowqd.store import Store
from flowqd.store.models import Condition, Event, Run
from flowqd.store.results import RESULT_COLUMNS, ResultColumn

__all__ = ["Figure", "condition_label", "is_trip", "write_report"]


@dataclass(frozen=True)
class Figure:
    """One report figure: a PNG on disk and its caption."""

    key: str
    caption: str
    path: Path


def condition_label(c: Condition | Mapping[str, Any]) -> str:
    """Short label of a condition: ``"#0 200 °C · 0.1 mL/min"`` (+ shell)."""
    get = c.get if isinstance(c, Mapping) else lambda k: getattr(c, k)
    label = f"#{get('index')} {get('core_temperature_c'):g} °C · {get('core_flow_ml_min'):g} mL/min"
    if get("shell"):
        label += " + shell"
    return label


def is_trip(event: Event) -> bool:
    """An interlock trip or an error-level event (highlighted in the report)."""
    return event.kind.startswith("interlock") or event.level.lower() in ("error", "critical")


def _event_time_s(event: Event, run: Run) -> float | None:
    if event.t_s is not None:
        return event.t_s
    if event.at is not None and run.started_at is not None:
        return (event.at - run.started_at).total_seconds()
    return None


def _mean_curve(spectra: Sequence[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean processed curve of spectra (interpolated onto the first one's axis)."""
    curves = [(s.processed_wavelength_nm, s.processed) for s in spectra if s.processed_npy is not None]
    if not curves:
        return None
    axis = curves[0][0]
    stack = [np.interp(axis, wl, y) for wl, y in curves]
    return axis, np.mean(stack, axis=0)


def find_psd(payload: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """The volume-weighted PSD ``(diameter_nm, q3)`` of an absorbance analysis payload, or None.

    Uses the stable analysis key ``psd = {"diameter_nm": [...], "q3": [...]}``
    (:meth:`flowqd.analysis.absorbance.AbsorbanceResult.to_dict`; :class:`~flowqd.analysis.outcome.StoredOutcome`).
    """
    return StoredOutcome.from_payload("", payload).psd


def _sweep_axes(rows: Sequence[Mapping[str, Any]]) -> tuple[str, str, str | None] | None:
    """(x key, x label, group key or None) of Fig. 3c: the varied set point on x; in a temperature × flow sweep,
    one line per flow (grouped by the other varied factor) instead of one line in condition order."""
    axis = _varied_axis(rows)
    if axis is None:
        return None
    key, label = axis
    core = [r for r in rows if not r["shell"]] or list(rows)
    other = "core_flow_ml_min" if key == "core_temperature_c" else "core_temperature_c"
    varied = len({r.get(other) for r in core if r.get(other) is not None}) > 1
    return key, label, other if varied else None


def _group_text(key: str, value: Any) -> str:
    return f"{value:g} mL/min" if key == "core_flow_ml_min" else f"{value:g} °C"


def _rms(values: Sequence[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None and np.isfinite(float(v))]
    return float(np.sqrt(np.mean(np.square(vals)))) if vals else None


def _varied_axis(rows: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """Which set point the campaign varies: (row key, axis label)."""
    core = [r for r in rows if not r["shell"]] or list(rows)
    for key, label in (("core_temperature_c", "Core temperature (°C)"),
                       ("residence_time_min", "Residence time (min)"), ("core_flow_ml_min", "Core flow (mL/min)")):
        values = {r.get(key) for r in core if r.get(key) is not None}
        if len(values) > 1 and all(r.get(key) is not None for r in core):
            return key, label
    if core:
        return "core_temperature_c", "Core temperature (°C)"
    return None


def psd_marks(spectra: Sequence[Any], analyses: Mapping[int, Sequence[StoredOutcome]]) -> dict[int, list[str]]:
    """PSD warnings per condition id (:func:`flowqd.analysis.psd_checks.psd_warnings`, stored with each absorbance
    analysis), each with the number of the condition's spectra that raised it: ``"… (2/3 spectra)"``."""
    counts: dict[int, dict[str, int]] = {}
    totals: dict[int, int] = {}
    for s in spectra:
        if s.kind != "absorbance" or s.condition_id is None:
            continue
        totals[s.condition_id] = totals.get(s.condition_id, 0) + 1
        found: set[str] = set()
        for a in analyses.get(s.id, []):
            # the same artefact moves by a grid point between spectra: count it by its kind and place
            found.update(w.split(":")[0] for w in a.psd_warnings)
        for w in found:
            counts.setdefault(s.condition_id, {})[w] = counts.setdefault(s.condition_id, {}).get(w, 0) + 1
    return {cid: [f"{w} ({n}/{totals[cid]} spectra)" for w, n in sorted(ws.items())] for cid, ws in counts.items()}


def make_figures(store: Store, run: Run, rows: Sequence[Mapping[str, Any]], events: Sequence[Event],
                 out_dir: Path) -> tuple[list[Figure], dict[int, list[str]]]:
    """Draw the report figures of ``run`` (its ``results_table`` rows and events given) into ``out_dir`` (PNG files
    named ``run<ID>_<key>.png``); return them and the PSD warnings per condition id (:func:`psd_marks`)."""
    from flowqd.report import figures

    run_id = run.id
    row_of = {r["condition_id"]: r for r in rows}
    conds = store.conditions(run_id)
    label_of = {c.id: condition_label(c) for c in conds}
    # spectra taken before an interruption are kept in the store but are not part of the condition's result
    spectra = [s for s in store.spectra(run_id) if not (s.meta or {}).get("superseded")]
    analyses: dict[int, list[StoredOutcome]] = {}  # per spectrum id, typed (payload schema 1)
    for a in store.analyses(run_id):
        analyses.setdefault(a.spectrum_id, []).append(StoredOutcome.from_payload(a.method, a.payload))
    by_cond: dict[tuple[int | None, str], list[Any]] = {}
    for s in spectra:
        by_cond.setdefault((s.condition_id, s.kind), []).append(s)

    def png(key: str) -> Path:
        return out_dir / f"run{run.id}_{key}.png"

    out: list[Figure] = []

    def add(key: str, caption: str, path: Path | None) -> None:
        if path is not None:
            out.append(Figure(key, caption, path))

    # Fig. 3a: absorbance spectra per condition.
    curves, peaks = {}, {}
    for c in conds:
        mean = _mean_curve(by_cond.get((c.id, "absorbance"), []))
        if mean is not None:
            curves[label_of[c.id]] = mean
            peaks[label_of[c.id]] = row_of[c.id]["peak_nm"]
    add("fig3a_spectra", "UV-vis absorption spectra per condition (mean of the condition's spectra, normalised at "
        "the first excitonic peak; dotted lines: peak positions) — cf. Fig. 3a.",
        figures.plot_spectra(curves, png("fig3a_spectra"), peaks_nm=peaks))

    # Fig. 3b: PSDs as stored by the analysis (no figure when none was stored: nothing is made up); a condition
    # whose PSD was flagged (mass at the grid edges, isolated spikes) is marked ⚠ in the legend.
    marks = psd_marks(spectra, analyses)
    psds: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for c in conds:
        for s in by_cond.get((c.id, "absorbance"), []):
            found = next((a.psd for a in analyses.get(s.id, []) if a.psd is not None), None)
            if found is not None:
                psds[label_of[c.id] + (" ⚠" if marks.get(c.id) else "")] = found
                break
    add("fig3b_psd", "Volume-weighted particle-size distributions q3(x) per condition, from the UV-vis PSD "
        "inversion — cf. Fig. 3b." + (" ⚠: PSD flagged (mass at a grid edge or an isolated spike; see the "
                                      "results table)." if any(marks.values()) else ""),
        figures.plot_psds(psds, png("fig3b_psd")))

    # Fig. 3c: x1,3 and RSD against the varied set point, one line per value of the other varied factor, with the
    # PSD inversion's uncertainty as error bars; the exciton peak beside it.
    axes = _sweep_axes(rows)
    if axes is not None:
        key, label, group = axes
        sel = ([r for r in rows if r.get(key) is not None and not r["shell"]]
               or [r for r in rows if r.get(key) is not None])
        u_x13, u_rsd = {}, {}
        for c in conds:
            found = [a for s in by_cond.get((c.id, "absorbance"), []) for a in analyses.get(s.id, [])]
            u_x13[c.id] = _rms([a.x13_uncertainty_nm for a in found])
            u_rsd[c.id] = _rms([a.rsd_uncertainty for a in found])
        what = label.split(" (")[0].lower()
        add("fig3c_size_rsd", f"Mean size x1,3 (left, squares) and RSD (right, circles) against {what}"
            + (f", one line per {'flow' if group == 'core_flow_ml_min' else 'temperature'}" if group else "")
            + "; error bars ±1 u (noise-propagated uncertainty of the PSD inversion, RMS over the condition's "
            "spectra). Right: first exciton peak — cf. Fig. 3c.",
            figures.plot_size_rsd(
                [float(v) for r in sel if (v := r.get(key)) is not None], [r["x13_nm"] for r in sel],
                [None if r["rsd"] is None else 100 * r["rsd"] for r in sel], png("fig3c_size_rsd"), xlabel=label,
                groups=None if group is None else [_group_text(group, r.get(group)) for r in sel],
                x13_uncertainty_nm=[u_x13.get(r["condition_id"]) for r in sel],
                rsd_uncertainty_percent=[None if (u := u_rsd.get(r["condition_id"])) is None else 100 * u
                                         for r in sel],
                peak_nm=[r.get("peak_nm") for r in sel]))

    # Fig. 4a: absorbance + PL of each condition with PL spectra (at most six).
    pl_conds = [c for c in conds if by_cond.get((c.id, "pl"))][:6]

    def pl_curve(c: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """Mean PL of a condition, cut to the emission band when a sphere analysis recorded one (the excitation
        band of an integrating-sphere spectrum would dwarf the emission)."""
        specs = by_cond[(c.id, "pl")]
        mean = _mean_curve(specs)
        band = next((a.emission_band_nm for sp in specs for a in analyses.get(sp.id, [])
                     if a.emission_band_nm is not None), None)
        if mean is None or band is None:
            return mean
        keep = (mean[0] >= float(band[0])) & (mean[0] <= float(band[1]))
        return (mean[0][keep], mean[1][keep]) if keep.sum() > 1 else mean

    def no_emission(c: Any) -> str | None:
        """"no emission detected" (with the PLQY upper limit) when every PL analysis of the condition says so."""
        found = [a for sp in by_cond[(c.id, "pl")] for a in analyses.get(sp.id, [])]
        if not found or any(a.emission_detected for a in found):
            return None
        limits = [a.plqy_upper_limit for a in found if a.plqy_upper_limit is not None]
        return "no emission detected" + (f"\n(PLQY < {100 * max(limits):.2g} %)" if limits else "")

    for c in pl_conds:
        note = no_emission(c)
        add(f"fig4a_abs_pl_{c.index}", f"Absorbance and PL of condition {label_of[c.id]} — cf. Fig. 4a."
            + (" PL: no emission above the noise (the PL spectra hold noise only; not plotted)." if note else ""),
            figures.plot_absorbance_pl(_mean_curve(by_cond.get((c.id, "absorbance"), [])),
                                       None if note else pl_curve(c), png(f"fig4a_abs_pl_{c.index}"),
                                       title=label_of[c.id], pl_note=note))

    # Fig. 4b: CIE 1931.
    points = [(label_of[r["condition_id"]], r["cie_x"], r["cie_y"]) for r in rows
              if r["cie_x"] is not None and r["cie_y"] is not None]
    if points:
        from flowqd.report.cie_plot import plot_chromaticity

        add("fig4b_cie", "CIE 1931 chromaticity of the PL spectra — cf. Fig. 4b.",
            plot_chromaticity(points, png("fig4b_cie")))

    # Traces and trips.
    traces: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for t in store.traces(run_id):
        ts, vs = traces.setdefault((t.channel, t.role), ([], []))
        ts.append(t.t_s)
        vs.append(t.value)
    trips = [t for e in events if is_trip(e) and (t := _event_time_s(e, run)) is not None]
    add("traces", "Set points (dashed) and sensor readings against time; red lines: interlock trips.",
        figures.plot_traces(traces, png("traces"), trips_s=trips))
    return out, marks


# ---------------------------------------------------------------------------------------------- HTML rendering
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.4;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.8em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{border:1px solid #ddd;padding:3px 7px;
text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}
table.meta td{text-align:left}table.meta th{text-align:left;width:12em}
tr.trip td{background:#fde2e2;color:#8a0000;font-weight:600}
.badge{display:inline-block;padding:1px 8px;border-radius:8px;color:#fff;font-size:.85em}
.running{background:#1f77b4}.paused{background:#b8860b}.tripped{background:#c00}.completed{background:#2a8a2a}
.failed{background:#c00}
figure{display:inline-block;margin:.6em;vertical-align:top;max-width:520px}figure img{max-width:100%}
figure.wide{max-width:100%}figcaption{font-size:.8em;color:#555}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.8em}code{font-size:.9em}
.muted{color:#777}.warn{color:#9a5b00}td.warn{background:#fff3d6;font-weight:600}
"""

#: The results table's columns (:data:`flowqd.store.results.RESULT_COLUMNS`; # and status are drawn apart).
_COLUMNS: tuple[ResultColumn, ...] = tuple(c for c in RESULT_COLUMNS if c.key not in ("index", "label", "status"))
#: Columns shown even when empty.
_ALWAYS = {"core_temperature_c", "core_flow_ml_min", "n_absorbance", "peak_nm", "x13_nm", "sigma_nm", "rsd"}


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _dt(value: datetime | None) -> str:
    return for_people(value)


def _psd_warnings_html(rows: Sequence[Mapping[str, Any]], marks: Mapping[int, Sequence[str]]) -> str:
    items = [f"<li>#{r['index']}: {_esc('; '.join(marks[r['condition_id']]))}</li>" for r in rows
             if marks.get(r["condition_id"])]
    if not items:
        return ""
    return ("<p class='warn'><b>⚠ PSD warnings</b> — these distributions hold artefacts of the inversion (mass "
            "at the size-grid edges, isolated spikes); read x1,3, σ and RSD of these conditions with care:</p>"
            f"<ul class='warn'>{''.join(items)}</ul>")


def _results_html(rows: Sequence[Mapping[str, Any]], marks: Mapping[int, Sequence[str]] | None = None) -> str:
    if not rows:
        return "<p class='muted'>No conditions recorded.</p>"
    marks = marks or {}
    def shown(key: str) -> bool:
        if key == "core_units":
            return any(r.get(key, 1) != 1 for r in rows)
        return key in _ALWAYS or any(r.get(key) not in (None, 0) for r in rows)

    cols = [c for c in _COLUMNS if shown(c.key)]
    head = "<tr><th>#</th><th class='l'>Status</th>" + "".join(f"<th>{_esc(c.header)}</th>" for c in cols)
    if marks:
        head += "<th class='l'>PSD</th>"
    body = []
    for r in rows:
        cells = "".join(f"<td>{_esc(c.cell(r))}</td>" for c in cols)
        if marks:
            warn = marks.get(r["condition_id"])
            cells += (f"<td class='l warn' title='{_esc('; '.join(warn))}'>⚠ {len(warn)} warning(s)</td>" if warn
                      else "<td class='l'>ok</td>")
        body.append(f"<tr><td>{r['index']}</td><td class='l'>{_esc(r['status'])}"
                    f"{' (shell)' if r['shell'] else ''}</td>{cells}</tr>")
    return f"<table class='results'>{head}</tr>{''.join(body)}</table>"


def _events_html(events: Sequence[Event], run: Run) -> str:
    if not events:
        return "<p class='muted'>No events recorded.</p>"
    rows = []
    for e in events:
        t = _event_time_s(e, run)
        cls = " class='trip'" if is_trip(e) else ""
        rows.append(f"<tr{cls}><td class='l'>{_esc(_dt(e.at))}</td><td>{'' if t is None else f'{t:.1f}'}</td>"
                    f"<td class='l'>{_esc(e.level)}</td><td class='l'>{_esc(e.kind)}</td>"
                    f"<td class='l'>{_esc(e.message)}</td></tr>")
    n_trips = sum(is_trip(e) for e in events)
    note = f"<p><b>{n_trips} interlock trip(s) / error(s)</b> (highlighted).</p>" if n_trips else ""
    return (note + "<table class='events'><tr><th class='l'>Time</th><th>t (s)</th><th class='l'>Level</th>"
            "<th class='l'>Kind</th><th class='l'>Message</th></tr>" + "".join(rows) + "</table>")


def _figure_html(fig: Figure) -> str:
    data = base64.b64encode(fig.path.read_bytes()).decode("ascii")
    wide = " class='wide'" if fig.key in ("traces", "fig3c_size_rsd") else ""
    return (f"<figure{wide} id='{_esc(fig.key)}'><img alt='{_esc(fig.caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{_esc(fig.caption)}</figcaption></figure>")


def _header_html(run: Run) -> str:
    def toml_block(name: str, text: str, digest: str) -> str:
        if not text:
            return f"<tr><th>{name} file</th><td class='muted'>not recorded</td></tr>"
        return (f"<tr><th>{name} file</th><td><code>sha256 {_esc(digest)}</code><details><summary>show TOML"
                f"</summary><pre>{_esc(text)}</pre></details></td></tr>")

    duration = "–"
    if run.ended_at is not None:
        duration = f"{(run.ended_at - run.started_at).total_seconds() / 60:.1f} min"
    return (
        "<table class='meta'>"
        f"<tr><th>Status</th><td><span class='badge {_esc(run.status)}'>{_esc(run.status)}</span></td></tr>"
        f"<tr><th>Run</th><td>id {run.id}, uuid <code>{_esc(run.uuid)}</code></td></tr>"
        f"<tr><th>Started</th><td>{_dt(run.started_at)}</td></tr>"
        f"<tr><th>Ended</th><td>{_dt(run.ended_at)} (duration {duration})</td></tr>"
        f"<tr><th>flowqd version</th><td>{_esc(run.flowqd_version)}</td></tr>"
        f"<tr><th>Host</th><td>{_esc(run.host) or '–'}</td></tr>"
        + toml_block("Platform", run.platform_toml, run.platform_sha256)
        + toml_block("Campaign", run.campaign_toml, run.campaign_sha256)
        + (f"<tr><th>Notes</th><td>{_esc(run.notes)}</td></tr>" if run.notes else "")
        + "</table>"
    )


def write_report(store: Store, run_id: int, out_dir: str | Path) -> Path:
    """Write the self-contained HTML report of a run (and its PNG figures) into ``out_dir``; return the HTML path.

    Parameters
    ----------
    store : Store
        The database holding the run.
    run_id : int
        The run's id (unknown id → :class:`~flowqd.errors.FlowqdError`).
    out_dir : str or Path
        Output folder, created if needed. Files: ``run<ID>-report.html`` and ``run<ID>_<figure>.png``.
    """
    from flowqd import __version__

    run = store.get_run(run_id)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = store.results_table(run_id)
    events = store.events(run_id)
    figs, marks = make_figures(store, run, rows, events, out)
    groups = (
        ("Spectra and particle sizes (cf. Fig. 3)", [f for f in figs if f.key.startswith("fig3")]),
        ("Optical properties (cf. Fig. 4)", [f for f in figs if f.key.startswith("fig4")]),
        ("Set points and sensor traces", [f for f in figs if f.key == "traces"]),
    )
    sections = "".join(
        f"<h2>{_esc(title)}</h2>" + "".join(_figure_html(f) for f in group) for title, group in groups if group
    )
    doc = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>flowqd run {run.id}: {_esc(run.name)}</title><style>{_CSS}</style></head><body>"
        f"<h1>flowqd run {run.id}: {_esc(run.name)}</h1>"
        + _header_html(run)
        + "<h2>Results per condition</h2>" + _results_html(rows, marks)
        + "<p class='muted'>Means over the condition's spectra. RSD = σ / x1,3 (volume-balanced mean size, paper "
          "eq. 3). Conversion = chemical yield (InP formed per In fed; InP is In-limited) and production rate from "
          "the absorbance at 413 nm (Hens &amp; Moreels, J. Mater. Chem. 2012, 22, 10406), with the In feed of the "
          "recipe and the outlet flow of the condition. PL values from PL spectra of the same condition."
          + (" Spectra taken before an interruption are kept in the database but not averaged (column "
             "&ldquo;superseded&rdquo;)." if any(r.get("n_superseded") for r in rows) else "") + "</p>"
        + _psd_warnings_html(rows, marks)
        + sections
        + "<h2>Events</h2>" + _events_html(events, run)
        + f"<p class='muted'>Generated by flowqd {_esc(__version__)} from {_esc(store.url)}.</p>"
        + "</body></html>\n"
    )
    path = out / f"run{run.id}-report.html"
    path.write_text(doc, encoding="utf-8")
    return path
