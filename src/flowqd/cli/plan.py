"""``flowqd plan``: residence times, hydraulics, RTD, consumption and safety margins of one operating point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from flowqd.cli._common import console, print_json

__all__ = ["plan_operating_point", "register"]


def plan_operating_point(*, temperature_c: float, flow_ml_min: float, units: int = 1, shell: bool = False,
                         ddt_flow_ml_min: float = 0.03, shell_temperature_c: float = 200.0, shell_units: int = 1,
                         duration_min: float = 60.0, train_path: Path | None = None,
                         recipe_path: Path | None = None, viscosity_multiplier: float = 1.0,
                         back_pressure_bar: float = 0.0, hnet2_mole_fraction: float = 0.05,
                         particle_diameter_nm: float = 7.0) -> dict[str, Any]:
    """Everything ``flowqd plan`` prints, as a JSON-ready dict with stable keys."""
    import numpy as np

    from flowqd.errors import ConfigError, RangeError
    from flowqd.reactor import (
        STOCK,
        BoxStage,
        MixingPoint,
        bubble_point_margin_bar,
        heating_power_w,
        hnet2_vapour_pressure_bar,
        in_feed_mmol_h,
        load_recipe,
        load_train,
        max_inp_production_mg_h,
        paper_recipe,
        paper_train,
        shell_stream_concentrations,
        stock_consumed_ml,
        syringe_duration_min,
        syringe_schedule,
        train_hydraulics,
        train_rtd,
    )
    from flowqd.reactor.properties import HNET2_CRITICAL_TEMPERATURE_C

    if not duration_min > 0:
        raise RangeError(f"--duration-min must be > 0, got {duration_min!r}")
    recipe = load_recipe(recipe_path) if recipe_path else paper_recipe()
    train = load_train(train_path) if train_path else paper_train()
    boxes = train.boxes
    if not boxes:
        raise ConfigError(f"reactor train {train.name}: has no heating box")
    core = boxes[0].name
    train = train.with_units(core, units)
    mixers = [s for s in train.sections if isinstance(s, MixingPoint)]
    temps = {core: temperature_c}
    sides: dict[str, float] = {}
    if shell:
        names = train.section_names
        after = [s for s in train.sections[names.index(core) + 1:] if isinstance(s, BoxStage)]
        if not mixers or not after:
            raise ConfigError(f"reactor train {train.name}: --shell needs a mixer and a second heating box")
        shell_box = after[0].name
        train = train.with_units(shell_box, shell_units).until(shell_box)
        temps[shell_box] = shell_temperature_c
        sides[mixers[0].stream] = ddt_flow_ml_min
    else:
        train = train.until(core)
    fluids = {"stock": STOCK.with_viscosity_multiplier(viscosity_multiplier)}
    hyd = train_hydraulics(train, flow_ml_min, temps, sides, fluids=fluids, back_pressure_bar=back_pressure_bar,
                           limit_bar=recipe.syringe.pressure_limit_bar)
    rtd_p = train_rtd(train, flow_ml_min, temps, sides, species="particle", fluids=fluids,
                      hydrodynamic_diameter_nm=particle_diameter_nm)
    rtd_m = train_rtd(train, flow_ml_min, temps, sides, species="molecule", fluids=fluids)
    tubed = [s for s in hyd.sections if s.kind != "mixer"]
    # Bubble point: the worst heated section (outlet pressure, section temperature).
    worst = min(tubed, key=lambda s: float(bubble_point_margin_bar(s.temperature_c, s.outlet_pressure_abs_bar,
                                                                   hnet2_mole_fraction)))
    margin_bp = float(bubble_point_margin_bar(worst.temperature_c, worst.outlet_pressure_abs_bar,
                                              hnet2_mole_fraction))
    p_sat = float(hnet2_vapour_pressure_bar(worst.temperature_c, allow_supercritical=True))
    stock = recipe.stock
    schedule = syringe_schedule(flow_ml_min, duration_min, recipe.syringe.volume_ml, recipe.syringe.refill_ml_min)
    out: dict[str, Any] = {
        "train": train.name,
        "sections": list(train.section_names),
        "flow_ml_min": flow_ml_min,
        "temperature_c": {k: float(v) for k, v in temps.items()},
        "residence_time_min": {**{s.name: s.residence_time_min for s in tubed}, "total": hyd.residence_time_min},
        "reynolds": {s.name: s.reynolds for s in tubed},
        "dean": {s.name: s.dean for s in tubed},
        "pressure_drop_bar": {**{s.name: s.pressure_drop_bar for s in tubed}, "total": hyd.pressure_drop_bar},
        "back_pressure_bar": back_pressure_bar,
        "pressure_limit_bar": hyd.limit_bar,
        "pressure_margin_bar": hyd.pressure_margin_bar,
        "washout_min": rtd_m.washout_time_min(0.99),
        "washout_particle_min": rtd_p.washout_time_min(0.99),
        "rtd_particle": {"regime": rtd_p.regime, "bodenstein": rtd_p.bodenstein, "theta": rtd_p.theta,
                         "sigma_theta": float(np.sqrt(rtd_p.variance_min2)) / rtd_p.tau_min},
        "stock_ml": stock_consumed_ml(flow_ml_min, duration_min),
        "syringe_ml": recipe.syringe.volume_ml,
        "syringe_duration_min": syringe_duration_min(flow_ml_min, recipe.syringe.volume_ml),
        "syringe_swaps": sum(1 for s in schedule if s.action == "dispense") - 1,
        "in_feed_mmol_h": in_feed_mmol_h(stock, flow_ml_min),
        "max_inp_mg_h": max_inp_production_mg_h(stock, flow_ml_min),
        "heating_power_w": float(heating_power_w(flow_ml_min, temperature_c - 25.0)),
        "hnet2_mole_fraction": hnet2_mole_fraction,
        "hnet2_partial_pressure_bar": hnet2_mole_fraction * p_sat,
        "hnet2_supercritical": bool(worst.temperature_c > HNET2_CRITICAL_TEMPERATURE_C),
        "bubble_point_section": worst.name,
        "bubble_point_margin_bar": margin_bp,
        "duration_min": duration_min,
    }
    out["stock_batch_ml"] = stock.volume_ml
    out["syringe_refill_min"] = recipe.syringe.volume_ml / recipe.syringe.refill_ml_min
    if shell:
        c = shell_stream_concentrations(stock, flow_ml_min, ddt_flow_ml_min, feed=recipe.shell_feed)
        out["ddt_ml"] = stock_consumed_ml(ddt_flow_ml_min, duration_min)
        out["ddt_syringe_swaps"] = sum(1 for s in syringe_schedule(
            ddt_flow_ml_min, duration_min, recipe.syringe.volume_ml, recipe.syringe.refill_ml_min)
            if s.action == "dispense") - 1
        out["shell_zinc_m"] = c.zinc_m
        out["shell_thiol_m"] = c.thiol_m
    out["limits"] = limit_statuses(out)
    out["status"] = _worst(entry["status"] for entry in out["limits"])
    return out


#: Status of a limit, from harmless to refused (the run engine's pre-flight or interlocks would stop it).
STATUSES = ("ok", "warning", "refused")
#: Thresholds of the warnings (documented in docs/design.md, "plan: limit statuses").
PRESSURE_WARNING_FRACTION = 0.25  # margin below 25 % of the syringe rating
BUBBLE_POINT_WARNING_BAR = 1.0  # less than 1 bar above the HNEt2 bubble point
SYRINGE_WARNING_MIN = 10.0  # a syringe emptied in under 10 min: more than 6 swaps an hour, each a flow disturbance


def _worst(statuses: Any) -> str:
    return max(statuses, key=STATUSES.index, default="ok")


def limit_statuses(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each safety or supply limit of a plan (:func:`plan_operating_point` output) with a status and one line
    saying why: pressure vs the syringe rating, the HNEt2 bubble point, syringe duration vs refill time, stock vs
    one batch of the recipe, particle washout vs the run length.

    ``refused``: the platform cannot run it (pressure above the syringe rating, a syringe that empties before its
    partner refills); ``warning``: it runs, but a chemist should look (gas may come out of solution, an
    extrapolated vapour pressure, frequent syringe swaps, more than one stock batch, no steady product); ``ok``."""
    out: list[dict[str, Any]] = []

    def add(key: str, value: float, limit: float, unit: str, status: str, note: str) -> None:
        out.append({"key": key, "value": value, "limit": limit, "unit": unit, "status": status, "note": note})

    margin, limit = r["pressure_margin_bar"], r["pressure_limit_bar"]
    if margin < 0:
        add("pressure_margin_bar", margin, 0.0, "bar", "refused", f"pressure above the {limit:g} bar syringe rating")
    elif margin < PRESSURE_WARNING_FRACTION * limit:
        add("pressure_margin_bar", margin, PRESSURE_WARNING_FRACTION * limit, "bar", "warning",
            f"less than {100 * PRESSURE_WARNING_FRACTION:.0f} % of the {limit:g} bar rating left (clogging, viscosity)")
    else:
        add("pressure_margin_bar", margin, 0.0, "bar", "ok", f"well below the {limit:g} bar syringe rating")
    bp = r["bubble_point_margin_bar"]
    extrapolated = " (supercritical HNEt2: vapour pressure extrapolated)" if r["hnet2_supercritical"] else ""
    if bp < 0:  # a warning, not refused: the platform runs it (the paper did), but gas may come out of solution
        add("bubble_point_margin_bar", bp, 0.0, "bar", "warning",
            f"dissolved HNEt2 can boil in {r['bubble_point_section']} (gas slugs shorten τ); add ≥ {-bp:.1f} bar "
            f"back pressure or lower the temperature{extrapolated}")
    elif bp < BUBBLE_POINT_WARNING_BAR or extrapolated:
        add("bubble_point_margin_bar", bp, BUBBLE_POINT_WARNING_BAR, "bar", "warning",
            f"close to the HNEt2 bubble point{extrapolated}")
    else:
        add("bubble_point_margin_bar", bp, 0.0, "bar", "ok", "liquid: above the HNEt2 bubble point")
    lasts, refill = r["syringe_duration_min"], r["syringe_refill_min"]
    if lasts <= refill:
        add("syringe_duration_min", lasts, refill, "min", "refused",
            f"the syringe empties faster than its partner refills ({refill:.1f} min): the flow stops")
    elif lasts < SYRINGE_WARNING_MIN:
        add("syringe_duration_min", lasts, SYRINGE_WARNING_MIN, "min", "warning",
            f"{r['syringe_swaps']} syringe swaps in {r['duration_min']:g} min, each a flow disturbance")
    else:
        add("syringe_duration_min", lasts, SYRINGE_WARNING_MIN, "min", "ok", f"{r['syringe_swaps']} swaps")
    stock, batch = r["stock_ml"], r["stock_batch_ml"]
    add("stock_ml", stock, batch, "mL", "warning" if stock > batch else "ok",
        f"needs {stock / batch:.1f} batches of the stock ({batch:.1f} mL each)" if stock > batch
        else f"{100 * stock / batch:.0f} % of one {batch:.1f} mL batch")
    wash, run = r["washout_particle_min"], r["duration_min"]
    add("washout_particle_min", wash, run, "min", "warning" if wash >= run else "ok",
        "the run is shorter than the flush: no steady-state product" if wash >= run
        else f"steady product after {wash:.0f} of {run:g} min")
    return out


def plan(
    temperature_c: float = typer.Option(200.0, "--temperature-c", help="Core heating-box set point, °C."),
    flow_ml_min: float = typer.Option(0.1, "--flow-ml-min", help="Stock flow, mL/min (pump range 0.03-1.5)."),
    units: int = typer.Option(1, "--units", help="Units of the core box switched in (the paper used 1)."),
    shell: bool = typer.Option(False, "--shell", help="Include the DDT T-mixer and the shell box."),
    ddt_flow_ml_min: float = typer.Option(0.03, "--ddt-flow-ml-min", help="DDT flow, mL/min."),
    shell_temperature_c: float = typer.Option(200.0, "--shell-temperature-c", help="Shell box set point, °C."),
    shell_units: int = typer.Option(1, "--shell-units", help="Units of the shell box switched in."),
    duration_min: float = typer.Option(60.0, "--duration-min", help="Run length for consumption, min."),
    train_path: str | None = typer.Option(None, "--train", help="Reactor-train TOML (default: the paper's train)."),
    recipe_path: str | None = typer.Option(None, "--recipe", help="Recipe TOML (default: the paper's stock)."),
    viscosity_multiplier: float = typer.Option(1.0, "--viscosity-multiplier",
                                               help="Stock viscosity / oleylamine viscosity (unknown; 1)."),
    back_pressure_bar: float = typer.Option(0.0, "--back-pressure-bar", help="Back-pressure regulator, bar."),
    hnet2_mole_fraction: float = typer.Option(0.05, "--hnet2-mole-fraction",
                                              help="Dissolved HNEt2 mole fraction (≤ 0.26 worst case)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    parameters: str | None = typer.Option(None, "--parameters",
                                          help="Twin parameter file (JSON, e.g. from `flowqd twin calibrate "
                                               "--out`): add the twin's prediction with 90 % intervals."),
    target_peak_nm: float | None = typer.Option(
        None, "--target-peak-nm", help="Inverse query: the conditions whose twin first exciton is at this peak "
        "at the lowest RSD (the map with --map)."),
    target_tolerance_nm: float = typer.Option(2.0, "--target-tolerance-nm", help="Tolerance of --target-peak-nm."),
    map_path: str | None = typer.Option(None, "--map", help="With --target-peak-nm: write the twin's map (PNG)."),
) -> None:
    """Plan one operating point: τ, Re, De, ΔP vs the 20 bar syringe, washout, consumption, margins."""
    from rich.table import Table

    if target_peak_nm is not None:
        _inverse(target_peak_nm, target_tolerance_nm, units, Path(map_path) if map_path else None, json_out)
        return

    r = plan_operating_point(temperature_c=temperature_c, flow_ml_min=flow_ml_min, units=units, shell=shell,
                             ddt_flow_ml_min=ddt_flow_ml_min, shell_temperature_c=shell_temperature_c,
                             shell_units=shell_units, duration_min=duration_min,
                             train_path=Path(train_path) if train_path else None,
                             recipe_path=Path(recipe_path) if recipe_path else None,
                             viscosity_multiplier=viscosity_multiplier,
                             back_pressure_bar=back_pressure_bar, hnet2_mole_fraction=hnet2_mole_fraction)
    if parameters is not None:
        from flowqd.cli.simulate import twin_from_file
        from flowqd.twin import Conditions

        cond = Conditions(temperature_c, flow_ml_min, core_units=units, shell=shell,
                          shell_temperature_c=shell_temperature_c, ddt_flow_ml_min=ddt_flow_ml_min,
                          shell_units=shell_units)
        r["twin_prediction"] = twin_from_file(parameters).predict(cond).to_dict()
    if json_out:
        print_json(r)
        return
    from rich.text import Text

    status_of = {e["key"]: e for e in r["limits"]}
    colour = {"ok": "green", "warning": "yellow", "refused": "bold red"}

    def status(key: str) -> Text:
        e = status_of.get(key)
        return Text("") if e is None else Text(e["status"], style=colour[e["status"]])

    table = Table(title=f"flowqd plan: {r['train']} at {flow_ml_min:g} mL/min")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("status")
    for name, tau in r["residence_time_min"].items():
        table.add_row(f"residence time {name} (min)", f"{tau:.2f}")
    for name in r["reynolds"]:
        table.add_row(f"Re / De {name}", f"{r['reynolds'][name]:.3g} / {r['dean'][name]:.3g}")
    for name, dp in r["pressure_drop_bar"].items():
        table.add_row(f"ΔP {name} (bar)", f"{dp:.3g}")
    table.add_row("syringe limit / margin (bar)", f"{r['pressure_limit_bar']:g} / {r['pressure_margin_bar']:.3g}",
                  status("pressure_margin_bar"))
    table.add_row("washout 99 %, fluid / particles (min)",
                  f"{r['washout_min']:.1f} / {r['washout_particle_min']:.1f}", status("washout_particle_min"))
    rp = r["rtd_particle"]
    table.add_row("particle RTD regime (θ)", f"{rp['regime']} ({rp['theta']:.2f})")
    table.add_row(f"stock consumed in {r['duration_min']:g} min (mL)", f"{r['stock_ml']:.3g}", status("stock_ml"))
    table.add_row(f"{r['syringe_ml']:g} mL syringe lasts (min) / swaps",
                  f"{r['syringe_duration_min']:.1f} / {r['syringe_swaps']}", status("syringe_duration_min"))
    if "ddt_ml" in r:
        table.add_row("DDT consumed (mL) / swaps", f"{r['ddt_ml']:.3g} / {r['ddt_syringe_swaps']}")
    table.add_row("In fed (mmol/h)", f"{r['in_feed_mmol_h']:.3g}")
    table.add_row("max InP production (mg/h, full conversion)", f"{r['max_inp_mg_h']:.3g}")
    table.add_row("heating power core (W)", f"{r['heating_power_w']:.2g}")
    sc = " (supercritical, extrapolated)" if r["hnet2_supercritical"] else ""
    table.add_row(f"HNEt2 bubble-point margin at x={r['hnet2_mole_fraction']:g} (bar)",
                  f"{r['bubble_point_margin_bar']:.3g}{sc}", status("bubble_point_margin_bar"))
    tp = r.get("twin_prediction")
    if tp is not None:
        for key, label, scale, unit in (("peak_wavelength_nm", "twin: first-exciton peak", 1, "nm"),
                                        ("x13_nm", "twin: x1,3", 1, "nm"), ("rsd", "twin: RSD", 100, "%"),
                                        ("conversion", "twin: conversion", 100, "%"),
                                        ("production_mg_h", "twin: production", 1, "mg/h")):
            lo, hi = tp.get(f"{key}_interval") or (None, None)
            iv = "" if lo is None or hi is None else f"  [90 %: {scale * lo:.3g}-{scale * hi:.3g}]"
            table.add_row(f"{label} ({unit})", f"{scale * tp[key]:.3g}{iv}")
    console.print(table)
    for e in r["limits"]:
        if e["status"] != "ok":
            style = colour[e["status"]]
            console.print(Text(f"{e['status']}: {e['key']} = {e['value']:.3g} {e['unit']}: {e['note']}", style=style))


def _inverse(target_nm: float, tolerance_nm: float, units: int, map_path: Path | None, json_out: bool) -> None:
    """``plan --target-peak-nm``: the twin's best conditions for a target first exciton (lowest RSD)."""
    from flowqd.cli._common import check_output, print_table
    from flowqd.optimize.inverse import inverse_query

    check_output(map_path, "--map")
    answer = inverse_query(target_nm, tolerance_nm=tolerance_nm, core_units=units)
    if map_path is not None:
        from flowqd.report.optimize_plots import plot_inverse_map

        plot_inverse_map(answer, map_path)
    if json_out:
        print_json({**answer.to_dict(), "map": str(map_path) if map_path else None})
        return
    rows = [[f"{c['core_temperature_c']:.1f}", f"{c['core_flow_ml_min']:.3g}", f"{c['peak_nm']:.1f}",
             f"{100 * c['rsd']:.1f}"] for c in answer.candidates]
    print_table(f"twin: first exciton {target_nm:g} ± {tolerance_nm:g} nm, lowest RSD first",
                ["T core\n(°C)", "flow\n(mL/min)", "peak\n(nm)", "RSD\n(%)"], rows, right=[0, 1, 2, 3], out=console)
    if map_path is not None:
        console.print(f"map: {map_path}")


def register(app: typer.Typer) -> None:
    """Add the ``plan`` command to ``app``."""
    app.command("plan")(plan)
