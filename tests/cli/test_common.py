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


def test_live_display_shows_labels_and_messages_as_they_are() -> None:
    from types import SimpleNamespace

    from flowqd.cli.platform import LiveDisplay

    progress = SimpleNamespace(
        run_id=1, t_s=600.0, condition_index=0, n_conditions=2, label="T [hot] 250 C", phase="tripped",
        phase_remaining_s=0, setpoints={"hb1.temperature_c": 250.0}, temperatures_c={"hb1": 249.5}, pressure_bar=1.2,
        flows_ml_min={"core": 0.1}, spectra=3, last_analysis={"seq": 2, "peak_wavelength_nm": 590.0, "x13_nm": 3.4,
                                                              "rsd": 0.1},
        message="over-pressure [20 bar]")
    out = Console(width=100, record=True)
    out.print(LiveDisplay(quiet=True)._render(progress))
    text = out.export_text()
    assert "1/2  T [hot] 250 C" in text and "over-pressure [20 bar]" in text and "peak 590.0 nm" in text
