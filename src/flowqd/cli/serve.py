"""``flowqd serve``: the lab console and HTTP API (:mod:`flowqd.server`)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from flowqd.cli._common import console
from flowqd.cli.report import _DB_HELP, _DEFAULT_DB
from flowqd.errors import FlowqdError

#: Host names answered on loopback (restated from flowqd.server, which imports FastAPI; tested equal).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address to bind) is the loopback interface only.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0"), is_loopback("192.168.1.5")
    (True, True, False, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, auth: bool, trusted_hosts: list[str]) -> list[str]:
    """The trusted ``Host`` names for binding ``host``; refuses a non-loopback bind without authentication or
    without an explicit trusted-hosts list (one line, exit code 2)."""
    if is_loopback(host):
        return [*LOOPBACK_HOSTS, *trusted_hosts]
    if not auth:
        raise FlowqdError(f"--host {host}: binding beyond loopback needs authentication; drop --no-auth")
    if not trusted_hosts:
        raise FlowqdError(f"--host {host}: binding beyond loopback needs --trusted-host NAME (the host name or "
                          "address the lab PCs use to reach this server; repeat for several)")
    if "*" in trusted_hosts:
        raise FlowqdError("--trusted-host '*' would answer any Host header (DNS rebinding); name the hosts")
    return [*LOOPBACK_HOSTS, *trusted_hosts]


def serve(
    db: Annotated[str, typer.Option("--db", envvar="FLOWQD_DB", help=_DB_HELP)] = _DEFAULT_DB,
    host: Annotated[str, typer.Option(
        "--host", help="Interface to listen on (loopback by default; another needs --trusted-host).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    trusted_host: Annotated[list[str] | None, typer.Option(
        "--trusted-host", help="Host header accepted besides localhost (repeatable).")] = None,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="No tokens: every caller is admin (loopback only).")]
    = False,
    state_dir: Annotated[Path | None, typer.Option(
        "--state-dir", help="Engine bookkeeping and flag files (default: console/ beside the database).")] = None,
    platform: Annotated[Path | None, typer.Option(
        "--platform", "-p", help="Platform TOML for campaigns started from the console (default: the paper's "
                                 "simulated platform).")] = None,
) -> None:
    """Serve the lab console, runs, spectra, reports and run control over HTTP (open / in a browser)."""
    try:
        import uvicorn

        from flowqd.server import create_app
        from flowqd.store.database import mask_url
    except ImportError as exc:
        raise FlowqdError(
            f"flowqd serve needs the server extra: pip install 'flowqd[server]' ({exc.name} missing)") from exc
    if not 1 <= port <= 65535:
        raise FlowqdError(f"--port {port}: not a TCP port (1-65535)")
    hosts = check_bind(host, auth=not no_auth, trusted_hosts=list(trusted_host or []))
    if platform is not None and not platform.is_file():
        raise FlowqdError(f"--platform {platform}: no such file")
    app = create_app(db, auth=not no_auth, trusted_hosts=hosts, state_dir=state_dir, platform=platform)
    if not no_auth and not app.state.tokens.list():
        console.print("[yellow]no API tokens yet:[/] create one with "
                      + escape(f"`flowqd token create --role admin --db {mask_url(db)}`") + " and log in with it")
    console.print(escape(f"flowqd serving {mask_url(db)} on http://{host}:{port}/ (API docs: /docs); Ctrl-C stops "
                         "(a running campaign goes on)"))
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    app.command("serve")(serve)
