"""``flowqd simulate`` (one condition or a grid) and ``flowqd twin calibrate``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from flowqd.cli._common import console, print_json, print_table

__all__ = ["register"]

twin_app = typer.Typer(name="twin", help="Digital twin: calibration.", no_args_is_help=True)


def _floats(text: str, what: str) -> list[float]:
    from flowqd.errors import RangeError

    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise RangeError(f"{what}: expected comma-separated numbers, got {text!r}") from None


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
    no_bands: bool = typer.Option(False, "--no-bands", help="Skip the uncertainty bands (faster)."),
) -> None:
    """Predict the outlet (size, RSD, spectra, conversion, production; shell optics) with the calibrated twin."""
    from flowqd.errors import RangeError
    from flowqd.twin import Conditions, Twin

    if grid:
        _grid(Twin.default, _floats(temperatures, "--temperatures"), _floats(flows, "--flows"), units, json_out,
              Path(plot_dir) if plot_dir else None)
        return
    twin = Twin.default()
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
    for key, value in d.items():
        if key == "conditions" or key.endswith("_band") or value is None:
            continue
        band = d.get(f"{key}_band")
        band_txt = "" if not band or band[0] is None else f"{band[0]:.4g} – {band[1]:.4g}"
        table.add_row(key, f"{value:.4g}", band_txt)
    console.print(table)


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
    out: str = typer.Option(None, "--out", help="Write the parameter file here (default: print only)."),
    json_out: bool = typer.Option(False, "--json", help="Print the fit quality as JSON."),
    max_nfev: int = typer.Option(40, "--max-nfev", help="Function-evaluation budget of least_squares."),
) -> None:
    """Fit the kinetic and shell parameters to the paper's data (deterministic) and print the fit quality."""
    from flowqd.twin.calibration import calibrate_all, write_parameters

    result, shell, achieved = calibrate_all(max_nfev=max_nfev)
    if out is not None:
        write_parameters(result, Path(out), shell=shell, shell_achieved=achieved)
    summary = {"cost": result.cost, "success": result.success, "n_evaluations": result.n_evaluations,
               "residuals": result.residuals, "predictions": result.predictions, "shell": achieved,
               "out": str(out) if out else None}
    if json_out:
        print_json(summary)
        return
    print_table(f"twin calibration (cost {result.cost:.3g}, {result.n_evaluations} evaluations)",
                ["T\n(°C)", "Q\n(mL/min)", "x13\n(nm)", "peak\n(nm)", "RSD\n(%)", "X\n(%)", "P\n(mg/h)"],
                [[f"{p['temperature_c']:g}", f"{p['flow_ml_min']:g}", f"{p['x13_nm']:.3f}",
                  f"{p['peak_wavelength_nm']:.1f}", f"{100 * p['rsd']:.1f}", f"{100 * p['conversion']:.1f}",
                  f"{p['production_mg_h']:.1f}"] for p in result.predictions], right=range(7))
    console.print({k: round(v, 3) for k, v in result.residuals.items()})
    console.print({k: round(v, 4) for k, v in achieved.items()})


def register(app: typer.Typer) -> None:
    """Add ``simulate`` and the ``twin`` group to ``app``."""
    app.command("simulate")(simulate)
    twin_app.command("calibrate")(calibrate_cmd)
    app.add_typer(twin_app, name="twin")
