"""``flowqd materials``: list the built-in materials and their sizing curves."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flowqd.cli._common import check_output, print_json, print_table

if TYPE_CHECKING:
    from flowqd.materials import Material

__all__ = ["register"]


def materials(
    name: str = typer.Argument(None, help="Show one material (InP, CdSe or a .toml path)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    plot: Annotated[Path | None, typer.Option("--plot", help="Plot every sizing curve (first exciton against "
                                              "diameter) of the material(s) to this PNG.")] = None,
) -> None:
    """Show material constants and their sizing curves (first exciton against diameter), each with its source."""

    from flowqd.materials import available_materials, get_material

    mats = [get_material(name)] if name else [get_material(n) for n in available_materials()]
    rows = []
    for m in mats:
        # the default curve's form and coefficients as the material file gives them (Wang & Segets' hyperbola
        # E = E_bulk + 1/(a d² + b d + c) for InP, Yu's polynomial d(λ) for CdSe, ...)
        rows.append({
            "name": m.name, "bulk_gap_ev": m.bulk_gap_ev, "density_g_cm3": m.density_g_cm3,
            "molar_mass_g_mol": m.molar_mass_g_mol, "sizing_curve": m.sizing.name, "sizing_form": m.sizing.form,
            "sizing_coefficients": list(m.sizing.coefficients),
            "sizing_rms_ev": m.sizing.rms_residual_ev, "valid_diameter_nm": list(m.sizing.valid_diameter_nm),
            "optical_constants": list(m.optical.citations) if m.optical else [],
            "size_convention": m.size_convention,
        })
    curves = [
        {"material": m.name, "curve": c.name, "default": c.name == m.sizing.name, "form": c.form,
         "coefficients": list(c.coefficients), "valid_diameter_nm": list(c.valid_diameter_nm),
         "uncertainty_ev": c.uncertainty_ev, "citation": c.citation,
         "peak_nm_at_2_5_3_5_nm": [round(1239.841984 / float(c.gap_ev(d)), 1) if c.valid_diameter_nm[0] <= d <=
                                   c.valid_diameter_nm[1] else None for d in (2.5, 3.5)]}
        for m in mats for c in m.sizing_curves.values()
    ]
    if plot is not None:
        check_output(plot, "--plot")
        _plot_curves(mats, plot)
    if json_out:
        print_json({"materials": rows, "sizing_curves": curves})
        return
    print_table("sizing curves (first exciton vs equivalent-sphere diameter)",
                ["material", "curve", "form", "λ at 2.5 / 3.5 nm\n(nm)", "valid d\n(nm)"],
                [[c["material"], c["curve"] + (" (default)" if c["default"] else ""), c["form"],
                  " / ".join("—" if v is None else f"{v:.0f}" for v in c["peak_nm_at_2_5_3_5_nm"]),
                  "{:g}-{:g}".format(*c["valid_diameter_nm"])] for c in curves])
    from flowqd.cli._common import console

    for c in curves:
        console.print(f"{c['material']} {c['curve']}: {c['citation']}", highlight=False, soft_wrap=True)
    print_table("flowqd materials", ["material", "E_bulk\n(eV)", "ρ\n(g/cm³)", "M\n(g/mol)",
                                     "default sizing curve: form, coefficients", "valid d\n(nm)"],
                [[r["name"], f"{r['bulk_gap_ev']:.3f}", f"{r['density_g_cm3']:.2f}", f"{r['molar_mass_g_mol']:.2f}",
                  f"{r['sizing_curve']} ({r['sizing_form']}): "
                  + ", ".join(f"{v:.4g}" for v in r["sizing_coefficients"]),
                  "{:g}-{:g}".format(*r["valid_diameter_nm"])] for r in rows], right=(1, 2, 3), fold=(4,))


def _plot_curves(mats: list[Material], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # inside the command only: no module switches the backend on import
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 4))
    for m in mats:
        for c in m.sizing_curves.values():
            lo, hi = c.valid_diameter_nm
            d = np.linspace(lo, hi, 200)
            ax.plot(d, 1239.841984 / c.gap_ev(d), label=f"{m.name}: {c.name}" + (" (default)" if c is m.sizing else ""))
    ax.set_xlabel("equivalent-sphere diameter (nm)")
    ax.set_ylabel("first exciton (nm)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def register(app: typer.Typer) -> None:
    """Add the ``materials`` command to ``app``."""
    app.command("materials")(materials)
