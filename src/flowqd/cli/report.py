"""``flowqd report``, ``flowqd runs`` and ``flowqd export``: read the run database.

``RUN_ID`` is a run's integer id, its UUID (or a unique prefix of at least 4 characters) or its unique name.
The database URL comes from ``--db``, else the ``FLOWQD_DB`` environment variable, else
``sqlite:///flowqd-data/flowqd.sqlite``. These commands never create a database: a missing file is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.text import Text

from flowqd.cli._common import console, print_json, print_table
from flowqd.cli.platform import DEFAULT_DB_URL
from flowqd.errors import FlowqdError

if TYPE_CHECKING:
    from flowqd.store import Store

__all__ = ["register"]

_DEFAULT_DB = DEFAULT_DB_URL
_DB_HELP = "Database URL (sqlite:///PATH or postgresql+psycopg://...)."
_FORMATS = ("csv", "parquet", "jcamp")


def _open(db: str) -> Store:
    from flowqd.store import Store

    return Store(db, create=False)


def report(
    run: str = typer.Argument(..., metavar="RUN_ID", help="Run id, UUID (prefix) or name."),
    db: str = typer.Option(_DEFAULT_DB, "--db", envvar="FLOWQD_DB", help=_DB_HELP),
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output folder (HTML + PNG figures); default: report/ next to a SQLite database "
        "(flowqd-data/report, as `flowqd demo`), else flowqd-data/report.")] = None,
    open_: bool = typer.Option(False, "--open", help="Open the report in a web browser."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: the run id and the report's files."),
) -> None:
    """Write a self-contained HTML report of a run (results table, Fig. 3/4-style figures, traces, events)."""
    from flowqd.cli.platform import default_report_dir
    from flowqd.report.html import write_report

    with _open(db) as store:
        run_id = store.resolve_run(run)
        path = write_report(store, run_id, out if out is not None else default_report_dir(db))
    if json_out:
        print_json({"run_id": run_id, "report": str(path),
                    "figures": sorted(str(p) for p in path.parent.glob(f"run{run_id}_*.png"))})
    else:
        console.print(f"report written: [bold]{escape(str(path))}[/]", highlight=False)
    if open_:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


def runs(
    db: str = typer.Option(_DEFAULT_DB, "--db", envvar="FLOWQD_DB", help=_DB_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (one object per run, stable keys)."),
) -> None:
    """List the runs in the database (newest first)."""

    with _open(db) as store:
        rows = store.list_runs()
        counts = store.run_counts()
    if json_out:
        from flowqd.store.export import run_metadata

        print_json([{**{k: v for k, v in run_metadata(r).items() if not k.endswith("_toml")},
                     "n_conditions": counts[r.id][0], "n_spectra": counts[r.id][1]} for r in rows])
        return
    if not rows:
        console.print(escape(f"no runs in {store.url}"))
        return
    colour = {"completed": "green", "running": "cyan", "paused": "yellow", "tripped": "red", "failed": "red",
              "interrupted": "yellow"}
    cells = [[str(r.id), r.name, Text(r.status, style=colour.get(r.status, "white")),
              r.started_at.strftime("%Y-%m-%d %H:%M"), str(counts[r.id][0]), str(counts[r.id][1]), r.uuid[:8]]
             for r in rows]
    print_table("flowqd runs", ["id", "name", "status", "started\n(UTC)", "condi-\ntions", "spectra", "uuid"],
                cells, caption=store.url, right=(0, 4, 5), fold=(1,))


def export(
    run: str = typer.Argument(..., metavar="RUN_ID", help="Run id, UUID (prefix) or name."),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv, parquet or jcamp."),
    db: str = typer.Option(_DEFAULT_DB, "--db", envvar="FLOWQD_DB", help=_DB_HELP),
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default: flowqd-export/run<ID>-<format>).")
    ] = None,
    json_out: bool = typer.Option(False, "--json", help="Print JSON: the run id and the files written."),
) -> None:
    """Export a run as CSV tables, Parquet tables or one JCAMP-DX file per spectrum."""
    fmt = fmt.lower()
    if fmt not in _FORMATS:
        raise FlowqdError(f"unknown export format {fmt!r} (expected one of: {', '.join(_FORMATS)})")
    from flowqd.store import export as exporters

    with _open(db) as store:
        run_id = store.resolve_run(run)
        target = out if out is not None else Path("flowqd-export") / f"run{run_id}-{fmt}"
        writer = {"csv": exporters.export_run_csv, "parquet": exporters.export_run_parquet,
                  "jcamp": exporters.export_spectra_jcamp}[fmt]
        paths = writer(store, run_id, target)
    if json_out:
        print_json({"run_id": run_id, "format": fmt, "out": str(target), "files": [str(p) for p in paths]})
        return
    console.print(f"{len(paths)} file(s) written to [bold]{escape(str(target))}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``report``, ``runs`` and ``export`` commands to ``app``."""
    app.command("report")(report)
    app.command("runs")(runs)
    app.command("export")(export)
