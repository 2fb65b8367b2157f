"""``flowqd serve``: the HTTP API and live overview page (:mod:`flowqd.server`)."""

from __future__ import annotations

import typer
from rich.markup import escape

from flowqd.cli._common import console
from flowqd.cli.report import _DB_HELP, _DEFAULT_DB
from flowqd.errors import FlowqdError


def serve(
    db: str = typer.Option(_DEFAULT_DB, "--db", envvar="FLOWQD_DB", help=_DB_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0: the whole lab network)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
) -> None:
    """Serve runs, results, spectra, reports and twin predictions over HTTP (open / in a browser)."""
    try:
        import uvicorn

        from flowqd.server import create_app
    except ImportError as exc:
        raise FlowqdError(
            f"flowqd serve needs the server extra: pip install 'flowqd[server]' ({exc.name} missing)") from exc
    if not 1 <= port <= 65535:
        raise FlowqdError(f"--port {port}: not a TCP port (1-65535)")
    from flowqd.store.database import mask_url

    app = create_app(db)
    console.print(escape(f"flowqd serving {mask_url(db)} on http://{host}:{port}/ (API docs: /docs); Ctrl-C stops"))
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    app.command("serve")(serve)
