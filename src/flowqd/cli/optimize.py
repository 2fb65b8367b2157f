"""``flowqd optimize`` (closed loop on the platform) and ``flowqd suggest`` (ask/tell for manual labs)."""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from flowqd.cli._common import console, err_console, fail, print_json, print_table
from flowqd.cli.platform import (
    DEFAULT_DB_URL,
    DEFAULT_STOP_FILE,
    PlatformOption,
    QuietOption,
    RunDbOption,
    StopFileOption,
)

__all__ = ["register"]


def _need_botorch() -> None:
    try:
        import botorch  # noqa: F401
    except ImportError:
        fail("the optimiser needs the [optimize] extra: pip install 'flowqd[optimize]' (BoTorch, torch CPU)")


def _print_result(result: Any, campaign: Any) -> None:
    names = campaign.variable_names
    outs = [o for o in campaign.modelled_outcomes() if o != "stock_ml"]
    from flowqd.store.results import column, format_cell  # the one results-table definition: headers, formats

    def head(key: str) -> str:
        c = column(key)
        return key if c is None else c.stacked_header

    def cell(key: str, value: Any) -> str:
        c = column(key)
        return format_cell(value, ".3g") if c is None else format_cell(value, c.fmt, c.scale)

    heads = ["#", *[head(n) for n in names], *[head(o) for o in outs], "feasible", "target", "proposal"]
    rows = []
    for e in result.experiments:
        p = e.proposal or {}
        kind = p.get("kind", "")
        if kind == "model":
            kind = f"{p.get('acquisition', '')} ({p.get('phase', '')})"
        rows.append([str(e.index + 1), *[cell(n, e.conditions.get(n)) for n in names],
                     *[cell(o, e.objectives.get(o)) for o in outs],
                     "yes" if e.feasible else "no", "yes" if e.meets_targets else "", kind])
    print_table(f"optimisation run {result.run_id}: experiments", heads, rows,
                right=list(range(1, 1 + len(names) + len(outs))), out=console)
    hit = result.target_hit_at
    console.print(escape(f"target reached at experiment {hit}" if hit else "target not reached"), highlight=False)
    if result.best:
        b = result.best
        cond = ", ".join(f"{k} {v:g}" for k, v in b["conditions"].items())
        console.print(escape(f"best: experiment {b['index']} ({cond})"), highlight=False)
    console.print(escape(f"stock used {result.stock_used_ml:.1f} mL, platform time {result.platform_hours:.2f} h; "
                         f"{result.status}: {result.stop_reason}"), highlight=False)


def optimize(
    campaign: Annotated[Path | None, typer.Argument(
        help="Optimisation campaign TOML (not with --resume: the stored one is used).", dir_okay=False)] = None,
    platform: PlatformOption = None,
    speed: Annotated[float, typer.Option(
        "--speed", help="Simulated seconds per real second (simulated platform; 0 = as fast as possible).")] = 0.0,
    db: RunDbOption = DEFAULT_DB_URL,
    resume: Annotated[str | None, typer.Option(
        "--resume", help="Resume optimisation run RUN_ID (after a crash, kill or trip).")] = None,
    parameters: Annotated[Path | None, typer.Option(
        "--parameters", help="Twin parameter file for the optimiser's twin prior (default: the packaged one).",
        dir_okay=False)] = None,
    stop_file: StopFileOption = DEFAULT_STOP_FILE,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Write the optimisation figures and the recommendation to this folder.")] = None,
    quiet: QuietOption = False,
) -> None:
    """Close the loop: propose conditions (BoTorch), run them on the platform, learn, until the target is reached."""
    from flowqd.cli.platform import PACKAGED_PLATFORM, LiveDisplay, StopRequest, _check_stop_file, _packaged

    if (campaign is None) == (resume is None):
        fail("give a CAMPAIGN file, or --resume RUN_ID (not both)")
    _need_botorch()
    from flowqd.devices import RealClock, SimClock, build_devices
    from flowqd.devices.registry import ROLES
    from flowqd.errors import ConfigError
    from flowqd.optimize import load_optimize_campaign
    from flowqd.optimize.loop import OptimizeLoop
    from flowqd.platform import RunEngine, platform_from_text
    from flowqd.store import Store

    t0 = time.monotonic()
    store = Store(db)
    run_id: int | None = None  # the resumed run, or (below) the run loop.start makes
    if resume is not None:
        run_id = store.resolve_run(resume)
        stored = store.get_run(run_id)
        if platform is not None:
            raise ConfigError("--resume uses the platform stored with the run; leave out --platform")
        platform_text, platform_source = stored.platform_toml, f"<run {run_id} platform>"
    elif platform is not None:
        platform_text, platform_source = platform.read_text(), str(platform)
    else:
        platform_text, platform_source = _packaged(PACKAGED_PLATFORM)
    plat = platform_from_text(platform_text, platform_source)
    all_sim = all(getattr(plat.devices, r) is None or getattr(plat.devices, r).driver == "sim" for r in ROLES)
    if all_sim:
        clock: Any = SimClock(speedup=speed if speed > 0 else math.inf)
    else:
        if speed not in (0, 1):
            raise ConfigError(f"{platform_source}: real devices run in real time; --speed {speed:g} needs an "
                              "all-simulated platform")
        clock = RealClock()
    twin = None
    if parameters is not None:
        from flowqd.twin import Twin, TwinParameters

        twin = Twin(TwinParameters.load(parameters))
    _check_stop_file(stop_file)
    stop = StopRequest(stop_file)
    devices = build_devices(plat, clock)

    def on_proposal(p: Any) -> None:
        if quiet or json_out:
            return
        what = ", ".join(f"{k} {v:g}" for k, v in p.x.items())
        pred = "; ".join(f"{k} {d['mean']:.3g} ± {d['sd']:.2g}" for k, d in p.predicted.items())
        how = p.kind if p.kind == "sobol" else f"{p.acquisition} ({p.phase})"
        err_console.print(escape(f"experiment {p.index + 1}: {how}: {what}" + (f"; predicted {pred}" if pred else "")),
                          highlight=False)

    with LiveDisplay(quiet=quiet or json_out) as display:
        def make_engine(recorder: Any) -> Any:
            return RunEngine(plat, devices, clock, recorder, stop_flag=stop, on_progress=display)

        loop = OptimizeLoop(plat, store, make_engine, twin=twin, on_proposal=on_proposal)
        if run_id is None:
            assert campaign is not None
            camp = load_optimize_campaign(campaign)
            run_id = loop.start(camp)
        else:
            camp = loop.campaign_of(run_id)
        old = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
        stop.install_signal_handlers()
        try:
            result = loop.run(run_id)
        finally:
            signal.signal(signal.SIGINT, old[0])
            signal.signal(signal.SIGTERM, old[1])
    if report is not None:
        _write_report(result, camp, report, twin)
    if json_out:
        print_json({**result.to_dict(), "wall_s": time.monotonic() - t0})
    else:
        _print_result(result, camp)
        console.print(escape(f"run {run_id}; database {db}; {time.monotonic() - t0:.0f} s"), highlight=False)
    if result.status == "tripped":
        err_console.print(escape(f"run {run_id} tripped: {result.stop_reason}; fix the cause, then "
                                 f"`flowqd optimize --resume {run_id} --db {db}`"), highlight=False)
        raise typer.Exit(3)


def _write_report(result: Any, campaign: Any, out: Path, twin: Any) -> None:
    """Figures (progress, Pareto front, proposals over the twin's map) and the recommendation."""
    from flowqd.report.optimize_plots import write_optimize_report

    tmap = None
    if set(campaign.variable_names) == {"core_temperature_c", "core_flow_ml_min"}:
        from flowqd.optimize.inverse import twin_map

        t, q = campaign.variable("core_temperature_c"), campaign.variable("core_flow_ml_min")
        tmap = twin_map(twin, temperature_c=(t.min, t.max), flow_ml_min=(q.min, q.max), n_temperature=15,
                        n_flow=12, core_units=int(campaign.fixed.get("core_units", 1)))
    paths = write_optimize_report(result.to_dict(), [o.model_dump() for o in campaign.objectives], out,
                                  twin_map=tmap)
    err_console.print(escape(f"report: {', '.join(str(p) for p in paths.values())}"), highlight=False)


def suggest(
    campaign: Annotated[Path, typer.Argument(help="Optimisation campaign TOML.", dir_okay=False)],
    db: Annotated[str, typer.Option("--db", help="Database with the results so far (manual runs included).")]
    = DEFAULT_DB_URL,
    platform: Annotated[Path | None, typer.Option(
        "--platform", "-p", help="Platform TOML whose limits bound the proposal (default: the paper's).")] = None,
    parameters: Annotated[Path | None, typer.Option(
        "--parameters", help="Twin parameter file for the twin prior (default: the packaged one).",
        dir_okay=False)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the proposal as JSON.")] = False,
) -> None:
    """Ask/tell for labs without automation: the next conditions to run, from every result stored so far."""
    from flowqd.cli.platform import PACKAGED_PLATFORM, _packaged

    _need_botorch()
    from flowqd.optimize import load_optimize_campaign
    from flowqd.optimize.suggest import suggest_next
    from flowqd.platform import platform_from_text
    from flowqd.store import Store

    camp = load_optimize_campaign(campaign)
    if platform is not None:
        plat = platform_from_text(platform.read_text(), str(platform))
    else:
        plat = platform_from_text(*_packaged(PACKAGED_PLATFORM))
    twin = None
    if parameters is not None:
        from flowqd.twin import Twin, TwinParameters

        twin = Twin(TwinParameters.load(parameters))
    with Store(db) as store:
        proposal, observations = suggest_next(camp, plat, store, twin=twin)
    if json_out:
        print_json({"proposal": proposal.to_dict(), "observations_used": len(observations)})
        return
    what = ", ".join(f"{k} = {v:g}" for k, v in proposal.x.items())
    console.print(escape(f"next conditions ({proposal.kind}, from {len(observations)} stored results): {what}"),
                  highlight=False)
    for k, d in proposal.predicted.items():
        console.print(escape(f"  predicted {k}: {d['mean']:.4g} ± {d['sd']:.2g}"), highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``optimize`` and ``suggest`` commands to ``app``."""
    app.command("optimize")(optimize)
    app.command("suggest")(suggest)
