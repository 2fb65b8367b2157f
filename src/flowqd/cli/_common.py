"""Shared command-line plumbing: consoles, one-line errors, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import typer
from rich.console import Console
from rich.markup import escape

from flowqd._json import jsonable
from flowqd._toml import format_errors
from flowqd.errors import FlowqdError

try:  # typer >= 0.20 vendors click as typer._click; older typer depends on click itself
    from typer._click.exceptions import ClickException

    _ABORTS: tuple[type[BaseException], ...] = (typer.Abort,)
except ImportError:  # pragma: no cover - depends on the typer version installed
    from click.exceptions import Abort as _ClickAbort
    from click.exceptions import ClickException

    _ABORTS = (typer.Abort, _ClickAbort)

__all__ = ["analyze_files", "check_output", "console", "err_console", "exit_if_skipped", "fail", "file_error",
           "print_json", "print_table", "progress_bar", "report_skipped", "run_cli", "to_jsonable"]

console = Console()
err_console = Console(stderr=True)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], *, caption: str | None = None,
                right: Sequence[int] = (), fold: Sequence[int] = (), out: Console | None = None) -> None:
    """Print a compact table: no vertical rules, shared padding, headers that may wrap (use ``\\n`` for units),
    and values that are never truncated — it fits the 80 columns of a default console where a boxed table would
    cut values to "…". ``right``: indices of right-justified (numeric) columns; ``fold``: text columns (names,
    files) that wrap onto more lines when the console is narrow. Cells are plain text (shown as they are, brackets
    included) or :class:`rich.text.Text` for styled cells."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    cells = [[c if isinstance(c, Text) else Text(str(c)) for c in r] for r in rows]
    t = Table(title=escape(title), caption=None if caption is None else escape(caption), box=box.SIMPLE_HEAD,
              show_edge=False, collapse_padding=True)
    for j, head in enumerate(headers):
        width = 8 if j in fold else max([r[j].cell_len for r in cells] + [2])
        t.add_column(head, min_width=width, overflow="fold", justify="right" if j in right else "left")
    for r in cells:
        t.add_row(*r)
    (out or console).print(t)


def progress_bar(*, disable: bool = False, transient: bool = True) -> Any:
    """A rich progress bar for long work, on stderr (stdout stays clean for ``--json``): what, bar, done/total,
    elapsed and ``ETA`` (the remaining time at the rate so far)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=err_console, transient=transient,
                    disable=disable)


def file_error(err: FlowqdError, path: object, n_files: int) -> FlowqdError:
    """``err`` naming the file; in a batch of several files, with a pointer to ``--skip-bad``."""
    named = err.with_source(str(path))
    if n_files < 2:
        return named
    hint = type(named).__new__(type(named))
    others = "the other file" if n_files == 2 else f"the other {n_files - 1} files"
    FlowqdError.__init__(hint, f"{named} (--skip-bad analyses {others})")
    return hint


def check_output(path: Path | None, option: str) -> None:
    """An output file's folder must exist: one line naming the option otherwise (checked before any work)."""
    if path is not None and not path.parent.is_dir():
        raise FlowqdError(f"{option} {path}: directory {path.parent} does not exist")


def analyze_files(files: Sequence[Path], analyze: Callable[[Path], Any], *, skip_bad: bool, label: str,
                  quiet: bool) -> tuple[list[tuple[Path, Any]], list[str]]:
    """``analyze(path)`` for every file, with a progress bar (unless ``quiet``): ``[(path, result)]`` and the
    skipped files' lines. A bad file stops the batch (:func:`file_error`) unless ``skip_bad``; then it is reported
    (:func:`report_skipped`) and the rest go on."""
    from rich.progress import Progress

    results: list[tuple[Path, Any]] = []
    skipped: list[str] = []
    with Progress(console=err_console, transient=True, disable=quiet) as progress:
        task = progress.add_task(label, total=len(files))
        for f in files:
            try:
                results.append((f, analyze(f)))
            except FlowqdError as err:
                if not skip_bad:
                    raise file_error(err, f, len(files)) from err
                skipped.append(str(err.with_source(str(f))))
            progress.advance(task)
    report_skipped(skipped, len(files))
    return results, skipped


def report_skipped(skipped: Sequence[str], n_files: int, *, what: str = "files") -> None:
    """Warn about each file (or spectrum: ``what``) a ``--skip-bad`` batch skipped (one line each); all of them
    bad is an error."""
    for line in skipped:
        err_console.print(f"[yellow]skipped:[/] {escape(line)}", highlight=False, soft_wrap=True)
    if skipped and len(skipped) == n_files:
        raise FlowqdError(f"none of the {n_files} {what} could be analysed")


def exit_if_skipped(skipped: Sequence[str]) -> None:
    """Exit code 1 after the results of a batch in which some files were skipped (scripts notice)."""
    if skipped:
        raise typer.Exit(1)


def fail(message: str, code: int = 2) -> None:
    """Print one red error line to stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


#: Help metavars for people (``FLOAT``, ``FILE...``), by the Python type typer would print (``<float>``).
_METAVARS = {"float": "FLOAT", "int": "INTEGER", "str": "TEXT", "path": "PATH", "file": "FILE",
             "list[Path]": "FILE...", "list[str]": "TEXT...", "list[float]": "FLOAT..."}


def _people_metavars(command: Any, ctx: Any) -> None:
    """Give every parameter of ``command`` (and its subcommands) a metavar people read (``FLOAT``, ``FILE...``,
    nothing for a flag) instead of the Python type typer prints (``<float>``, ``<list[Path]>``, ``<bool>``)."""
    get_help = getattr(command, "get_help_option", None)
    help_option = get_help(ctx) if get_help is not None else None  # click caches it: the one --help shows
    for param in [*getattr(command, "params", ()), *([help_option] if help_option is not None else [])]:
        if param.param_type_name == "argument" and param.metavar is not None:
            param.display_type_rich = lambda ctx: None  # "RUN_ID", not "RUN_ID <str>"
        if param.metavar is not None:
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
            continue
        try:
            shown = param.display_type(ctx).strip("<>")
        except (AttributeError, TypeError):  # pragma: no cover - another typer version
            continue
        if param.param_type_name == "argument":
            # usage "FILE...", no type column: the name says it
            param.metavar = ("FILE" if shown == "list[Path]" else param.name.upper()) + ("..." if param.nargs != 1
                                                                                          else "")
            param.display_type_rich = lambda ctx: None
            if param.nargs != 1:  # usage "FILE...", not "{FILE...}..."
                param._usage_display_name = lambda p=param: p.metavar
        else:
            param.metavar = _METAVARS.get(shown, shown.upper())
    for sub in getattr(command, "commands", {}).values():
        _people_metavars(sub, ctx)


class _UsageError(Protocol):
    """What :func:`_usage_line` reads of a click usage error (typer's vendored click or click itself)."""

    def format_message(self) -> str: ...


def _usage_line(exc: _UsageError) -> str:
    """A usage error as one line: the command, the problem and the command's options (no "Possible options")."""
    ctx = getattr(exc, "ctx", None)
    message = exc.format_message().split(" (Possible options:")[0]
    if ctx is None:
        return message
    options = sorted({o for p in ctx.command.params for o in getattr(p, "opts", ()) if o.startswith("--")})
    hint = f"; options: {', '.join(options)}" if options and "option" in message.lower() else ""
    return f"{ctx.command_path}: {message[0].lower() + message[1:] if message else message}{hint} " \
           f"(see {ctx.command_path} --help)"


def _database_error(exc: BaseException) -> str | None:
    """One line for a database that cannot be reached (SQLAlchemy ``OperationalError``: no server, wrong host or
    credentials); ``None`` for anything else. SQLAlchemy is not imported here: the check is by class."""
    names = {t.__name__ for t in type(exc).__mro__}
    if "OperationalError" not in names or not type(exc).__module__.startswith("sqlalchemy"):
        return None
    orig = getattr(exc, "orig", None)
    text = " ".join(str(orig if orig is not None else exc).split())
    return f"cannot open the database: {text}"


def run_cli(app: typer.Typer, argv: Sequence[str]) -> int:
    """Run ``app`` turning expected errors into one-line messages and exit codes."""
    try:
        command = typer.main.get_command(app)
        _people_metavars(command, command.make_context("flowqd", ["--help"], resilient_parsing=True))
        # With standalone_mode=False click *returns* the code of a typer.Exit instead of raising it.
        result = command.main(args=list(argv), prog_name="flowqd", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except _ABORTS:
        err_console.print("[bold red]aborted[/]")
        return 130
    except ClickException as exc:
        if exc.exit_code == 2 and type(exc).__name__ != "NoArgsIsHelpError":  # usage errors: one red line
            err_console.print(f"[bold red]error:[/] {escape(_usage_line(exc))}", highlight=False, soft_wrap=True)
            return 2
        exc.show()
        return exc.exit_code
    except (FlowqdError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        message = format_errors(exc)
        if isinstance(exc, OSError) and exc.filename:
            message = f"{exc.filename}: {exc.strerror or message}"
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        return 2
    except Exception as exc:
        line = _database_error(exc)
        if type(exc).__name__ == "ValidationError" or line is not None:
            err_console.print(f"[bold red]error:[/] {escape(line or format_errors(exc))}", highlight=False,
                              soft_wrap=True)
            return 2
        raise


#: JSON values of numpy arrays, dataclasses, mappings… (NaN → null); one implementation for the whole package.
to_jsonable = jsonable


def print_json(obj: Any) -> None:
    """Write ``obj`` as JSON to stdout (no rich markup)."""
    sys.stdout.write(json.dumps(to_jsonable(obj), indent=2) + "\n")
