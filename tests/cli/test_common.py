"""Shared CLI plumbing: messages and table cells are shown as they are (square brackets are not rich markup)."""

from __future__ import annotations

import pytest
import typer
from rich.console import Console
from rich.text import Text

from flowqd.cli._common import print_table, run_cli
from flowqd.errors import FlowqdError


def test_error_lines_keep_square_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    app = typer.Typer()

    @app.command()
    def boom(what: str) -> None:
        raise FlowqdError(f"{what}: needs pip install 'flowqd[server]' [yellow]not a style[/]")

    @app.command()
    def other() -> None:  # two commands, so typer keeps the sub-command name
        pass

    assert run_cli(app, ["boom", "data[1].csv"]) == 2
    err = capsys.readouterr().err
    assert "data[1].csv: needs pip install 'flowqd[server]' [yellow]not a style[/]" in err


def test_table_cells_are_plain_text_unless_styled() -> None:
    out = Console(width=80, record=True)
    print_table("files [raw]", ["file", "status"], [["x[bold]1[/].csv", Text("ok", style="green")]], out=out)
    text = out.export_text()
    assert "x[bold]1[/].csv" in text and "files [raw]" in text and "ok" in text
