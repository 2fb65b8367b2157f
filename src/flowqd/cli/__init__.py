"""The ``flowqd`` command (typer + rich).

Each command group lives in its own module and imports its heavy dependencies inside the command functions, so
``flowqd --help`` starts fast. Every :class:`~flowqd.errors.FlowqdError` (and pydantic validation error) becomes one
red line on stderr and exit code 2 — never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer

from flowqd import __version__
from flowqd.cli._common import run_cli

__all__ = ["app", "main"]

app = typer.Typer(
    name="flowqd",
    help="Plan, run, analyse and report continuous-flow InP / InP-ZnS quantum-dot syntheses.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Command-group modules: each defines ``register(app)``.
_GROUPS = (
    "flowqd.cli.platform",
    "flowqd.cli.analyze",
    "flowqd.cli.plan",
    "flowqd.cli.simulate",
    "flowqd.cli.report",
    "flowqd.cli.materials",
    "flowqd.cli.serve",
    "flowqd.cli.optimize",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"flowqd {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """flowqd: plan, run, analyse, store and report QD flow syntheses."""


for _name in _GROUPS:
    importlib.import_module(_name).register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    return run_cli(app, sys.argv[1:] if argv is None else argv)
