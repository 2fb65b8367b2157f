"""``flowqd simulate`` (one condition or a grid) and ``flowqd twin calibrate``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import typer

from flowqd.cli._common import console, print_json, print_table

if TYPE_CHECKING:
    from flowqd.twin import Twin

__all__ = ["register"]

twin_app = typer.Typer(name="twin", help="Digital twin: calibration.", no_args_is_help=True)


def _floats(text: str, what: str) -> list[float]:
    from flowqd.errors import RangeError

    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise RangeError(f"{what}: expected comma-separated numbers, got {text!r}") from None


def twin_from_file(parameters: str | None) -> Twin:
    """The twin with the packaged parameters, or with a parameter file (``--parameters``; JSON, v1-v3)."""
    from flowqd.twin import Twin, TwinParameters

    if parameters is None:
        return Twin.default()
    return Twin(TwinParameters.load(Path(parameters)))


def simulate(
    temperature_c: float = typer.Option(None, "--temperature-c", help="HB1 set point, °C."),
    flow_ml_min: float = typer.Option(None, "--flow-ml-min", help="Stock flow, mL/min."),
    units: int = typer.Option(1, "--units", help="HB1 units in series (1-3)."),
    shell: bool = typer.Option(False, "--shell", help="Add DDT injection and the HB2 ZnS shell stage."),
    ddt_flow_ml_min: float = typer.Option(0.03, "--ddt-flow-ml-min", help="DDT flow, mL/min."),
    shell_temperature_c: float = typer.Option(200.0, "--shell-temperature-c", help="HB2 set point, °C."),
    shell_units: int = typer.Option(1, "--shell-units", help="HB2 units in series (1-3)."),
    grid: bool = typer.Option(False, "--grid", help="Simulate a temperature × flow grid."),
    temperatures: str = typer.Option("180,200,220,250", "--temperatures", help="Grid temperatures, °C."),
    flows: str = typer.Option("0.05,0.1,0.2,0.3", "--flows", help="Grid flows, mL/min."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (stable keys)."),
    spectrum: str = typer.Option(None, "--spectrum", help="Write the absorbance (and PL) spectrum as CSV."),
    plot: str = typer.Option(None, "--plot", help="Write a PNG of spectrum and PSD."),
    plot_dir: str = typer.Option(None, "--plot-dir", help="Grid: write Fig. 3-style plots here."),
    no_bands: bool = typer.Option(False, "--no-bands",
                                  help="Skip the uncertainty bands and 90 % intervals (faster)."),
    parameters: str = typer.Option(None, "--parameters",
                                   help="Twin parameter file (JSON, e.g. from `flowqd twin calibrate --out`)."),
) -> None:
    """Predict the outlet (size, RSD, spectra, conversion, production; shell optics) with the calibrated twin.

    Single conditions report 90 % posterior predictive intervals (``*_interval`` in ``--json``).
    """
    from flowqd.errors import RangeError
    from flowqd.twin import Conditions

    if grid:
        _grid(lambda: twin_from_file(parameters), _floats(temperatures, "--temperatures"), _floats(flows, "--flows"),
              units, json_out, Path(plot_dir) if plot_dir else None)
        return
    twin = twin_from_file(parameters)
    if temperature_c is None or flow_ml_min is None:
        raise RangeError("give --temperature-c and --flow-ml-min (or --grid)")
    cond = Conditions(temperature_c, flow_ml_min, core_units=units, shell=shell,
                      shell_temperature_c=shell_temperature_c, ddt_flow_ml_min=ddt_flow_ml_min,
                      shell_units=shell_units)
    pred = twin.predict(cond, bands=not no_bands)
    if spectrum is not None:
        _write_spectrum(pred, Path(spectrum), twin.dilution)
    if plot is not None:
        from flowqd.report.twin_plots import plot_prediction

        plot_prediction(pred, Path(plot))
    if json_out:
        print_json(pred.to_dict())
        return
    _print_prediction(pred)


def _write_spectrum(pred: object, path: Path, dilution: float) -> None:
    import numpy as np

    wl = pred.absorbance_wavelength_nm  # type: ignore[attr-defined]
    cols = [wl, pred.absorbance]  # type: ignore[attr-defined]
    header = "wavelength_nm,absorbance"
    if pred.conditions.shell:  # type: ignore[attr-defined]
        cols.append(np.interp(wl, pred.pl_wavelength_nm, pred.pl_intensity, left=0.0, right=0.0))  # type: ignore
        header += ",pl_intensity"
    c = pred.conditions  # type: ignore[attr-defined]
    # The absorbance is that of the outlet diluted like a cuvette sample: say so, or a reader takes it for the
    # outlet and gets a concentration `dilution` times too low.
    notes = [
        f"flowqd twin prediction (not a measurement): HB1 {c.core_temperature_c:g} C, {c.core_flow_ml_min:g} mL/min, "
        f"{c.core_units} unit(s)" + (f"; shell HB2 {c.shell_temperature_c:g} C, DDT {c.ddt_flow_ml_min:g} mL/min"
                                     if c.shell else ""),
        f"absorbance for a 1 mm path after diluting the outlet {dilution:g}x: "
        f"flowqd analyze absorbance FILE --path-mm 1 --dilution {dilution:g}",
    ]
    np.savetxt(path, np.column_stack(cols), delimiter=",", header="\n".join([*(f"# {n}" for n in notes), header]),
               comments="", fmt="%.6g")


def _print_prediction(pred: object) -> None:
    from rich.table import Table

    d = pred.to_dict()  # type: ignore[attr-defined]
    table = Table(title="flowqd twin prediction")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("±1σ band", justify="right")
    table.add_column("90 % interval", justify="right")
    for key, value in d.items():
        if key == "conditions" or key.endswith(("_band", "_interval")) or value is None:
            continue
        band = d.get(f"{key}_band")
        band_txt = "" if not band or band[0] is None else f"{band[0]:.4g} – {band[1]:.4g}"
        iv = d.get(f"{key}_interval")
        iv_txt = "" if not iv or iv[0] is None else f"{iv[0]:.4g} – {iv[1]:.4g}"
        table.add_row(key, f"{value:.4g}", band_txt, iv_txt)
    console.print(table)
    console.print("90 % interval: posterior predictive (parameter posterior + measurement noise of the calibration).")


def _grid(make_twin: Callable[[], Any], temps: list[float], flows: list[float], units: int, json_out: bool,
          plot_dir: Path | None) -> None:
    """The grid: a progress bar with ETA on stderr from the first second (loading the twin, each temperature's
    batched solve, the plots), then the table or JSON on stdout."""
    from flowqd.cli._common import progress_bar
    from flowqd.twin import Conditions

    conds = [Conditions(t, q, core_units=units) for t in temps for q in flows]
    with progress_bar() as progress:
        task = progress.add_task("loading the twin", total=len(temps) + 1 + (plot_dir is not None))
        twin = make_twin()
        progress.advance(task)
        parts = []
        for t in temps:  # one batched solve per set point keeps the bar honest; flows share the trajectory
            progress.update(task, description=f"simulating {t:g} °C × {len(flows)} flows")
            parts.append(twin.predict_batch([c for c in conds if c.core_temperature_c == t]))
            progress.advance(task)
        if plot_dir is not None:
            from flowqd.report.twin_plots import plot_grid

            progress.update(task, description="plotting")
            plot_dir.mkdir(parents=True, exist_ok=True)
            plot_grid(parts, plot_dir)
            progress.advance(task)
    records = [r for p in parts for r in p.to_records()]
    if json_out:
        print_json(records)
        return
    print_table("flowqd twin grid", ["T\n(°C)", "Q\n(mL/min)", "τ\n(min)", "peak\n(nm)", "x13\n(nm)", "RSD\n(%)",
                                     "X\n(%)", "P\n(mg/h)"],
                [[f"{r['conditions']['core_temperature_c']:g}", f"{r['conditions']['core_flow_ml_min']:g}",
                  f"{r['residence_time_min']:.1f}", f"{r['peak_wavelength_nm']:.1f}", f"{r['x13_nm']:.3f}",
                  f"{100 * r['rsd']:.1f}", f"{100 * r['conversion']:.1f}", f"{r['production_mg_h']:.1f}"]
                 for r in records], right=range(8))


def calibrate_cmd(
    out: str = typer.Option(None, "--out", help="Write the parameter file here (JSON: FILE.json)."),
    from_run: str = typer.Option(None, "--from-run",
                                 help="Fit to a stored run's analysed results (run id, UUID prefix or name)."),
    db: str = typer.Option(None, "--db", envvar="FLOWQD_DB",
                           help="Run database URL for --from-run (sqlite:///PATH or postgresql+psycopg://...)."),
    parameters: str = typer.Option(None, "--parameters",
                                   help="Start and prior for --from-run (default: the packaged parameters)."),
    free: str = typer.Option(None, "--free", help="Comma-separated parameters to fit (default: all)."),
    json_out: bool = typer.Option(False, "--json", help="Print the fit and posterior summary as JSON."),
    max_nfev: int = typer.Option(30, "--max-nfev", help="Model-evaluation budget of the MAP fit."),
    steps: int = typer.Option(40, "--steps", help="Posterior sampler steps (0: Laplace approximation only)."),
) -> None:
    """Fit the twin's kinetics to the paper (default) or to a lab's own run, with a posterior.

    Prints targets vs fit (units stated) and, per parameter, MAP, posterior mean, sd and 90 % interval.
    """
    from flowqd.cli._common import check_output

    out_path = Path(out) if out else None
    if out_path is not None:
        check_output(out_path, "--out")
        if out_path.suffix.lower() != ".json":
            from flowqd.errors import RangeError

            raise RangeError(f"--out writes JSON: give a FILE.json path, not {out_path.name!r}")
    free_list = [x.strip() for x in free.split(",") if x.strip()] if free else None
    with _Progress(json_out) as bar:
        if from_run is None:
            result, shell, achieved, numerics = _calibrate_paper(max_nfev, steps, bar)
        else:
            result, shell, achieved, numerics = _calibrate_run(from_run, db, parameters, free_list, max_nfev,
                                                               steps, bar)
    if out_path is not None:
        from flowqd.twin.calibration import write_parameters

        write_parameters(result, out_path, numerics=numerics, shell=shell, shell_achieved=achieved)
    summary = {"objective": result.objective, "cost": result.cost, "success": result.success,
               "n_evaluations": result.n_evaluations, "residuals": result.residuals, "targets": result.predictions,
               "posterior": result.summary(), "sampler": result.sampler, "shell": achieved,
               "out": str(out_path) if out_path else None}
    if json_out:
        print_json(summary)
        return
    _print_calibration(result)
    if out_path is not None:
        console.print(f"wrote {out_path} (use it with `flowqd simulate --parameters {out_path}` or "
                      f"`twin_parameters = \"{out_path}\"` in the platform TOML)")


_UNITS = {"x13_nm": ("x1,3", "nm", 1.0, ".3f"), "peak_wavelength_nm": ("first-exciton peak", "nm", 1.0, ".1f"),
          "rsd": ("RSD", "%", 100.0, ".1f"), "conversion": ("conversion", "%", 100.0, ".1f"),
          "production_mg_h": ("production", "mg/h", 1.0, ".1f")}


def _print_calibration(result: object) -> None:
    rows = []
    for r in result.predictions:  # type: ignore[attr-defined]
        label, unit, scale, fmt = _UNITS[r["quantity"]]
        tgt = r.get("target")
        rows.append([f"{r['temperature_c']:g}", f"{r['flow_ml_min']:g}", f"{label} ({unit})",
                     "" if tgt is None else format(scale * tgt, fmt), format(scale * r["fit"], fmt),
                     "" if tgt is None or "sd" not in r else f"{(r['fit'] - tgt) / r['sd']:+.1f}"])
    print_table(f"targets vs fit — {result.objective}",  # type: ignore[attr-defined]
                ["T\n(°C)", "Q\n(mL/min)", "quantity", "target", "fit", "(fit−target)\n/sd"], rows,
                right=[0, 1, 3, 4, 5])
    bad = {k: v for k, v in result.residuals.items() if abs(v) > 1.0}  # type: ignore[attr-defined]
    if bad:
        console.print("residuals beyond 1 sd (statements: 0 = met): "
                      + ", ".join(f"{k} {v:+.2f}" for k, v in bad.items()))
    print_table("posterior of the kinetic parameters (log10 of SI values, kJ/mol, or SI)",
                ["parameter", "scale", "MAP", "mean", "sd", "5 %", "95 %"],
                [[p["parameter"], p["scale"], f"{p['map']:.4g}", f"{p['mean']:.4g}", f"{p['sd']:.3g}",
                  f"{p['q05']:.4g}", f"{p['q95']:.4g}"] for p in result.summary()],  # type: ignore[attr-defined]
                right=range(2, 7))
    s = result.sampler  # type: ignore[attr-defined]
    if s:
        console.print(f"posterior: {s['n_walkers']} walkers × {s['n_steps']} steps ({s['discarded']} discarded), "
                      f"acceptance {s['acceptance']:.2f}; fit cost {result.cost:.3g} "  # type: ignore[attr-defined]
                      "(½ Σ residual², priors included)")
    else:
        console.print("posterior: Laplace approximation at the MAP (no sampler steps)")


class _Progress:
    """A rich progress bar (with ETA) fed by the calibration's ``progress(stage, done, total)`` callback."""

    def __init__(self, quiet: bool) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                             TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                             transient=True, disable=quiet)
        self._tasks: dict[str, object] = {}

    def __enter__(self) -> _Progress:
        self._bar.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._bar.__exit__(exc_type, exc, tb)

    def __call__(self, stage: str, done: int, total: int) -> None:
        label = {"fit": "MAP fit (model calls)", "posterior": "posterior sampling (ensemble steps)"}.get(stage, stage)
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(label, total=total)
        self._bar.update(self._tasks[stage], completed=done, total=total)  # type: ignore[arg-type]


def _calibrate_paper(max_nfev: int, steps: int, bar: _Progress) -> tuple:
    from flowqd.twin import TwinParameters
    from flowqd.twin.calibration import calibrate_all

    numerics = TwinParameters.load().numerics
    result, shell, achieved = calibrate_all(max_nfev=max_nfev, numerics=numerics, n_steps=steps, progress=bar)
    return result, shell, achieved, numerics


def _calibrate_run(run: str, db: str | None, parameters: str | None, free: list[str] | None, max_nfev: int,
                   steps: int, bar: _Progress) -> tuple:
    from flowqd.cli.platform import DEFAULT_DB_URL
    from flowqd.store import Store
    from flowqd.twin import TwinParameters
    from flowqd.twin.calibration import calibrate_observations

    with Store(db or DEFAULT_DB_URL, create=False) as store:
        run_id = store.resolve_run(run)
        rows = store.results_table(run_id)
        name = store.get_run(run_id).name
    base = TwinParameters.load(Path(parameters) if parameters else None)
    result = calibrate_observations(observations_from_results(rows), base, free=free, max_nfev=max_nfev,
                                    n_steps=steps, progress=bar, name=f"run {run_id} ({name})")
    return result, base.shell, None, base.numerics


def observations_from_results(rows: Sequence[Mapping[str, Any]]) -> list:
    """:class:`~flowqd.twin.calibration.Observation` per analysed core condition of ``Store.results_table``."""
    from flowqd.twin import Conditions
    from flowqd.twin.calibration import Observation

    out = []
    for r in rows:
        if r.get("shell") or r.get("n_absorbance", 0) == 0:
            continue
        cond = Conditions(float(r["core_temperature_c"]), float(r["core_flow_ml_min"]),
                          core_units=int(r.get("core_units") or 1))
        out.append(Observation(cond, x13_nm=r.get("x13_nm"), peak_wavelength_nm=r.get("peak_nm"), rsd=r.get("rsd"),
                               conversion=r.get("conversion"), label=str(r.get("label") or r.get("index"))))
    return out


def register(app: typer.Typer) -> None:
    """Add ``simulate`` and the ``twin`` group to ``app``."""
    app.command("simulate")(simulate)
    twin_app.command("calibrate")(calibrate_cmd)
    app.add_typer(twin_app, name="twin")
