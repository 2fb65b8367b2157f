"""``flowqd run``, ``flowqd stop`` and ``flowqd demo``: drive a campaign on the (simulated or real) platform."""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from flowqd.cli._common import console, err_console, fail, print_json, print_table
from flowqd.errors import FlowqdError

if TYPE_CHECKING:
    from flowqd.store.results import ResultColumn

__all__ = ["register"]

#: ``flowqd.store.DEFAULT_URL``, restated: importing the store would load SQLAlchemy at CLI start (tested equal).
DEFAULT_DB_URL = "sqlite:///flowqd-data/flowqd.sqlite"
DEFAULT_STOP_FILE = Path("flowqd-data") / "STOP"
DEFAULT_PAUSE_FILE = Path("flowqd-data") / "PAUSE"
DEFAULT_REPORT_DIR = Path("flowqd-data") / "report"
PACKAGED_PLATFORM = "platform-wang-segets-2023.toml"
PACKAGED_DEMO_CAMPAIGN = "campaign-temperature-series.toml"

# options shared by the commands that drive the platform (``run``, ``stop``, ``demo``, ``optimize``)
PlatformOption = Annotated[Path | None, typer.Option(
    "--platform", "-p", help="Platform TOML (default: the paper's simulated platform, packaged).")]
RunDbOption = Annotated[str, typer.Option("--db", help="Run database URL.")]
StopFileOption = Annotated[Path, typer.Option("--stop-file", help="Emergency-stop flag file.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No live display.")]


# ------------------------------------------------------------------------------------------------ stop flag
class StopRequest:
    """Emergency-stop flag: a file (set by ``flowqd stop``) or a signal (SIGINT / SIGTERM) received here."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.signal_reason: str | None = None

    def __call__(self) -> str | None:
        if self.signal_reason is not None:
            return self.signal_reason
        if self.path.exists():
            text = self.path.read_text(errors="replace").strip()
            return f"stop flag {self.path}" + (f" ({text})" if text else "")
        return None

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: Any) -> None:
            self.signal_reason = f"signal {signal.Signals(signum).name}"

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)


# ------------------------------------------------------------------------------------------------ live display
class LiveDisplay:
    """Rich live panel (TTY) or one line per event (pipes); refreshed at most ``hz`` times per real second."""

    def __init__(self, *, quiet: bool = False, hz: float = 4.0, total_s: float | None = None) -> None:
        self.quiet = quiet
        self.total_s = total_s  # the pre-flight estimate of the whole campaign, process seconds
        self._start: tuple[float, float] | None = None  # (process time, real time) of the first update
        self.period = 1.0 / hz
        self._last = 0.0
        self._live: Any = None
        self._last_phase: tuple[Any, str] | None = None
        self._last_seq: Any = None
        self.tty = console.is_terminal and not quiet

    def __enter__(self) -> LiveDisplay:
        if self.tty:
            from rich.live import Live

            self._live = Live(console=console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def eta(self, p: Any) -> tuple[float, float | None] | None:
        """``(fraction done, real seconds left or None)`` of the campaign from the pre-flight estimate; the real
        time left scales the process time left by the process/real speed seen so far (simulated or real)."""
        if not self.total_s or self.total_s <= 0:
            return None
        now = time.monotonic()
        if self._start is None:
            self._start = (p.t_s, now)
        done_s = max(p.t_s - self._start[0], 0.0)
        frac = min(done_s / self.total_s, 1.0) if p.phase != "done" else 1.0
        real = now - self._start[1]
        if done_s <= 0 or real <= 0:
            return frac, None
        return frac, max(self.total_s - done_s, 0.0) * real / done_s

    @staticmethod
    def _clock(seconds: float | None) -> str:
        if seconds is None or not math.isfinite(seconds):
            return "–:––:––"
        s = round(seconds)
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"

    def __call__(self, p: Any) -> None:
        if self.quiet:
            return
        eta = self.eta(p)
        key = (p.condition_index, p.phase)
        last = p.last_analysis or {}
        if not self.tty:
            if key != self._last_phase:
                self._last_phase = key
                cond = "-" if p.condition_index is None else f"{p.condition_index + 1}/{p.n_conditions}"
                line = f"[t={p.t_s / 60:7.1f} min] condition {cond} {p.label}: {p.phase}"
                if eta is not None and p.phase not in ("done", "tripped"):
                    line += f" ({100 * eta[0]:.0f} % of the estimate, ETA {self._clock(eta[1])})"
                console.print(escape(line), highlight=False)
            if last.get("seq") is not None and last.get("seq") != self._last_seq:
                self._last_seq = last.get("seq")
                console.print("    spectrum " + self._analysis_text(last), highlight=False)
            return
        now = time.monotonic()
        if now - self._last < self.period and key == self._last_phase and p.phase not in ("tripped", "done"):
            return
        self._last, self._last_phase = now, key
        self._live.update(self._render(p))

    def _analysis_text(self, a: dict[str, Any]) -> str:
        if a.get("error"):
            text = f"#{a.get('seq')}: analysis failed: {a['error']}"
        else:
            text = (f"#{a.get('seq')}: peak {_fmt(a.get('peak_wavelength_nm'), '.1f')} nm, "
                    f"x13 {_fmt(a.get('x13_nm'), '.2f')} nm, RSD {_fmt(a.get('rsd'), '.3f')}")
        if a.get("pl_peak_wavelength_nm") is not None or a.get("plqy") is not None:
            plqy = a.get("plqy")
            text += (f"; PL {_fmt(a.get('pl_peak_wavelength_nm'), '.1f')} nm, "
                     f"FWHM {_fmt(a.get('pl_fwhm_nm'), '.1f')} nm, "
                     f"PLQY {_fmt(None if plqy is None else 100.0 * plqy, '.1f')} %")
            if a.get("pl_cie_x") is not None and a.get("pl_cie_y") is not None:
                text += f", CIE ({a['pl_cie_x']:.3f}, {a['pl_cie_y']:.3f})"
        elif a.get("pl_error"):
            text += f"; PL analysis failed: {a['pl_error']}"
        return text

    def _render(self, p: Any) -> Any:
        from rich.table import Table
        from rich.text import Text

        # every value is plain text (labels, messages and errors may hold square brackets); only styles are added
        t = Table(title=f"flowqd run {p.run_id} — t = {p.t_s / 60:.1f} min (simulated or real)", show_header=False)
        t.add_column("what", style="bold")
        t.add_column("value")
        cond = "–" if p.condition_index is None else f"{p.condition_index + 1}/{p.n_conditions}  {p.label}"
        t.add_row("condition", Text(cond))
        phase = p.phase + (f"  ({p.phase_remaining_s / 60:.1f} min left)" if p.phase_remaining_s else "")
        t.add_row("phase", Text(phase, style="red" if p.phase == "tripped" else ""))
        t.add_row("set points", Text(", ".join(f"{k} {v:g}" for k, v in p.setpoints.items()) or "–"))
        t.add_row("temperatures", Text(", ".join(f"{k} {v:.1f} °C" for k, v in p.temperatures_c.items()) or "–"))
        t.add_row("pressure", f"{_fmt(p.pressure_bar, '.3f')} bar")
        t.add_row("flows", Text(", ".join(f"{k} {v:.3f} mL/min" for k, v in p.flows_ml_min.items()) or "–"))
        eta = self.eta(p)
        if eta is not None:
            from rich.progress_bar import ProgressBar

            left_min = (1.0 - eta[0]) * (self.total_s or 0.0) / 60.0
            bar = Table.grid(padding=(0, 1))
            bar.add_row(ProgressBar(total=1.0, completed=eta[0], width=30),
                        Text(f"{100 * eta[0]:.0f} %  ETA {self._clock(eta[1])} (≈ {left_min:.0f} min of process "
                             "time left, pre-flight estimate)"))
            t.add_row("campaign", bar)
        t.add_row("spectra", str(p.spectra))
        if p.last_analysis:
            t.add_row("last spectrum", Text(self._analysis_text(p.last_analysis)))
        if p.message:
            t.add_row("message", Text(str(p.message), style="red"))
        return t


# ------------------------------------------------------------------------------------------------ helpers
def default_report_dir(db: str) -> Path:
    """Where reports go by default: ``report/`` beside a file SQLite database (``flowqd-data/report`` for the
    default ``sqlite:///flowqd-data/flowqd.sqlite``), else ``flowqd-data/report``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(db)
    except ArgumentError:
        return DEFAULT_REPORT_DIR
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:" \
            and not database.startswith("file:"):
        return Path(database).parent / "report"
    return DEFAULT_REPORT_DIR


def _packaged(name: str) -> tuple[str, str]:
    from importlib.resources import files

    res = files("flowqd.platform") / "data" / name
    return res.read_text(), f"<flowqd>/platform/data/{name}"


def _fmt(v: Any, spec: str, scale: float = 1.0) -> str:
    """``v * scale`` formatted with ``spec``; a dash for a missing or non-finite value."""
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v * scale, spec)


def _open_store(db: str) -> Any:
    from flowqd.store import Store

    return Store(db)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FlowqdError(f"{path}: not a UTF-8 text file (byte {exc.start}); TOML files are UTF-8") from None


def _check_speed(speed: float) -> None:
    """``--speed``: a finite number ≥ 0 (0 = as fast as possible)."""
    if not math.isfinite(speed) or speed < 0:
        raise FlowqdError(f"--speed {speed}: must be a finite number ≥ 0 (simulated seconds per real second; 0 = as "
                          "fast as possible)")


def _check_stop_file(stop_file: Path) -> None:
    if stop_file.exists():
        fail(f"emergency stop flag {stop_file} is set; clear it with `flowqd stop --clear` before running")


def _execute(campaign_text: str | None, campaign_source: str, platform_text: str, platform_source: str, *,
             speed: float, db: str, resume: str | None, stop_file: Path, quiet: bool,
             twin: str | None = None, pause_file: Path = DEFAULT_PAUSE_FILE) -> tuple[Any, int, str]:
    """Load, pre-flight and run; return ``(store, run_id, status)``."""
    from flowqd.devices import RealClock, SimClock, build_devices
    from flowqd.devices.registry import ROLES
    from flowqd.errors import ConfigError, InterlockTrip
    from flowqd.platform import RunEngine, campaign_from_text, platform_from_text

    _check_speed(speed)
    store = _open_store(db) if resume is not None else None
    run_id: int | None = None
    if store is not None:
        run_id = store.resolve_run(resume)
        stored = store.get_run(run_id)
        if campaign_text is not None and campaign_text != stored.campaign_toml:
            raise ConfigError(f"{campaign_source}: differs from the campaign stored with run {run_id}; resume "
                              "without a campaign file to use the stored one")
        campaign_text, campaign_source = stored.campaign_toml, f"<run {run_id} campaign>"
        platform_text, platform_source = stored.platform_toml, f"<run {run_id} platform>"
        if not campaign_text or not platform_text:
            raise ConfigError(f"run {run_id} has no stored campaign/platform text; cannot resume")
    assert campaign_text is not None
    platform = platform_from_text(platform_text, platform_source)
    if twin is not None:
        platform = platform.model_copy(update={"sim": platform.sim.model_copy(update={"twin": twin})})
        platform._source, platform._text = platform_source, platform_text
    campaign = campaign_from_text(campaign_text, campaign_source)
    if store is None:
        # a campaign the platform refuses writes nothing: no database file is created before pre-flight passes
        from flowqd.platform.preflight import preflight

        preflight(campaign, platform).raise_if_failed()
        store = _open_store(db)
    all_sim = all(getattr(platform.devices, r) is None or getattr(platform.devices, r).driver == "sim" for r in ROLES)
    if all_sim:
        clock: Any = SimClock(speedup=speed if speed > 0 else math.inf)
    else:
        if speed != 1:
            raise ConfigError(f"{platform_source}: real devices run in real time; --speed {speed:g} needs an "
                              "all-simulated platform")
        clock = RealClock()
    _check_stop_file(stop_file)
    stop = StopRequest(stop_file)
    devices = build_devices(platform, clock)
    from flowqd.platform.preflight import preflight

    done = set(store.completed_conditions(run_id)) if run_id is not None else set()
    estimate = preflight(campaign, platform).plans
    with LiveDisplay(quiet=quiet, total_s=60.0 * sum(c.duration_min for c in estimate if c.index not in done)) \
            as display:
        engine = RunEngine(platform, devices, clock, store, stop_flag=stop, on_progress=display,
                           pause_flag=pause_file.exists)
        old = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
        stop.install_signal_handlers()
        try:
            summary = engine.run(campaign, resume_run_id=run_id)
        except InterlockTrip as exc:
            err_console.print(f"[bold red]INTERLOCK TRIP:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            return store, int(engine.run_id or 0), "tripped"
        finally:
            signal.signal(signal.SIGINT, old[0])
            signal.signal(signal.SIGTERM, old[1])
    return store, summary.run_id, summary.status


def _print_results(store: Any, run_id: int) -> None:
    from flowqd.store.results import columns

    rows = store.results_table(run_id)
    # Columns from the one results-table definition (flowqd.store.results). The PL quantities get a second table
    # (only when some condition has PL results), so that each fits an 80-column terminal (a lab PC's default
    # console) without truncating values.
    ident = ("index", "label")
    _print_table(f"run {run_id}: results per condition", columns(
        *ident, "core_temperature_c", "core_flow_ml_min", "residence_time_min", "n_absorbance", "peak_nm", "x13_nm",
        "rsd", "status"), rows)
    yields = ("conversion", "production_rate_mg_h")
    if any(r.get(k) is not None for r in rows for k in ("pl_peak_nm", "plqy", "cie_x")):
        _print_table(f"run {run_id}: yield, production and photoluminescence", columns(
            *ident, *yields, "pl_peak_nm", "pl_fwhm_nm", "plqy", "cie_x", "cie_y"), rows)
    elif any(r.get("conversion") is not None or r.get("production_rate_mg_h") is not None for r in rows):
        _print_table(f"run {run_id}: yield and production (Hens method)", columns(*ident, *yields), rows)


def _print_table(title: str, cols: Sequence[ResultColumn], rows: Sequence[Mapping[str, Any]]) -> None:
    print_table(title, [c.stacked_header for c in cols], [[c.cell(r) for c in cols] for r in rows],
                right=[j for j, c in enumerate(cols) if c.fmt != "s"], fold=(1,), out=console)


def _set_flag(path: Path, text: str) -> None:
    """Write a flag file (emergency stop, pause) that running engines check once per control period."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def _clear_flag(path: Path, what: str, then: str) -> None:
    """Remove the flag file ``path`` and say so (``then`` follows the confirmation)."""
    if path.exists():
        path.unlink()
        console.print(escape(f"{what} {path} cleared{then}"))
    else:
        console.print(escape(f"no {what} at {path}"))


# ------------------------------------------------------------------------------------------------ commands
def run(
    campaign: Annotated[Path | None, typer.Argument(
        help="Campaign TOML (optional with --resume: the stored one is used).", dir_okay=False)] = None,
    platform: PlatformOption = None,
    speed: Annotated[float, typer.Option(
        "--speed", help="Simulated seconds per real second (simulated platform; 0 = as fast as possible).")] = 1000.0,
    db: RunDbOption = DEFAULT_DB_URL,
    resume: Annotated[str | None, typer.Option(
        "--resume", help="Resume run RUN_ID at its first incomplete condition.")] = None,
    stop_file: StopFileOption = DEFAULT_STOP_FILE,
    quiet: QuietOption = False,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print the results as JSON (no live display): run id, status, one object per condition.")]
    = False,
    pause_file: Annotated[Path, typer.Option(
        "--pause-file", help="Pause flag file: while it exists the platform holds its set points.")]
    = DEFAULT_PAUSE_FILE,
) -> None:
    """Run a campaign on the platform with live progress; interlocks latch, resume with --resume RUN_ID."""
    if campaign is None and resume is None:
        fail("give a CAMPAIGN file, or --resume RUN_ID")
    campaign_text = _read_text(campaign) if campaign is not None else None
    if platform is not None:
        platform_text, platform_source = _read_text(platform), str(platform)
    else:
        platform_text, platform_source = _packaged(PACKAGED_PLATFORM)
    store, run_id, status = _execute(campaign_text, str(campaign), platform_text, platform_source, speed=speed, db=db,
                                     resume=resume, stop_file=stop_file, quiet=quiet or json_out,
                                     pause_file=pause_file)
    with store:
        if json_out:
            print_json({"run_id": run_id, "status": status, "db": db, "conditions": store.results_table(run_id)})
        else:
            _print_results(store, run_id)
    if status == "tripped":
        if json_out:
            raise typer.Exit(3)
        console.print(f"run {run_id} [red]tripped[/]; fix the cause, then "
                      f"`flowqd run --resume {run_id} --db {escape(store.url)}`")
        raise typer.Exit(3)
    console.print(escape(f"run {run_id} {status}; database {store.url}"))


def stop(
    stop_file: StopFileOption = DEFAULT_STOP_FILE,
    reason: Annotated[str, typer.Option("--reason", help="Reason recorded with the trip.")] = "operator emergency stop",
    clear: Annotated[bool, typer.Option("--clear", help="Remove the flag (after the stop was handled).")] = False,
) -> None:
    """Emergency stop: set the flag every running `flowqd run` checks once per control period."""
    if clear:
        _clear_flag(stop_file, "emergency stop flag", "")
        return
    _set_flag(stop_file, reason)
    console.print(f"[bold red]emergency stop requested[/] ({stop_file}); running campaigns trip within one control "
                  "period. Clear with `flowqd stop --clear`.")


def pause(
    pause_file: Annotated[Path, typer.Option("--pause-file", help="Pause flag file.")] = DEFAULT_PAUSE_FILE,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the flag: the run continues.")] = False,
) -> None:
    """Pause: running campaigns hold their set points (interlocks stay on) until `flowqd pause --clear`."""
    if clear:
        _clear_flag(pause_file, "pause flag", "; running campaigns continue")
        return
    _set_flag(pause_file, "paused")
    console.print(escape(f"pause requested ({pause_file}); running campaigns hold their set points within one "
                         "control period. Continue with `flowqd pause --clear`."))


def demo(
    db: RunDbOption = DEFAULT_DB_URL,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Report folder (default: report/ next to a SQLite database, else flowqd-data/report).")] = None,
    speed: Annotated[float, typer.Option(
        "--speed", help="Simulated seconds per real second (0 = as fast as possible).")] = 0.0,
    twin: Annotated[str, typer.Option("--twin", help="Twin behind the simulated devices: default or surrogate.")]
    = "default",
    stop_file: StopFileOption = DEFAULT_STOP_FILE,
    quiet: QuietOption = False,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print the results as JSON (no live display): run id, status, report, conditions.")] = False,
) -> None:
    """The paper's temperature series (180-250 °C at 0.1 mL/min) on the simulated platform, then the report."""
    if twin not in ("default", "surrogate"):
        fail(f"--twin {twin!r}: choose default or surrogate")
    t0 = time.monotonic()
    campaign_text, campaign_source = _packaged(PACKAGED_DEMO_CAMPAIGN)
    platform_text, platform_source = _packaged(PACKAGED_PLATFORM)
    store, run_id, status = _execute(campaign_text, campaign_source, platform_text, platform_source, speed=speed,
                                     db=db, resume=None, stop_file=stop_file, quiet=quiet or json_out, twin=twin)
    from flowqd.report.html import write_report

    with store:
        path = write_report(store, run_id, out if out is not None else default_report_dir(db))
        if json_out:
            print_json({"run_id": run_id, "status": status, "db": db, "report": str(path),
                        "seconds": time.monotonic() - t0, "conditions": store.results_table(run_id)})
            if status != "completed":
                raise typer.Exit(3)
            return
        _print_results(store, run_id)
    console.print(escape(f"report: {path}"))
    console.print(escape(f"demo run {run_id} {status} in {time.monotonic() - t0:.1f} s; database {store.url}"))
    if status != "completed":
        raise typer.Exit(3)


def register(app: typer.Typer) -> None:
    """Add the ``run``, ``stop``, ``pause`` and ``demo`` commands to ``app``."""
    app.command("run")(run)
    app.command("stop")(stop)
    app.command("pause")(pause)
    app.command("demo")(demo)

