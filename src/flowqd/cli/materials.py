"""``flowqd materials``: list the built-in materials and their sizing curves."""

from __future__ import annotations

import typer

from flowqd.cli._common import print_json, print_table

__all__ = ["register"]


def materials(
    name: str = typer.Argument(None, help="Show one material (InP, CdSe or a .toml path)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show material constants and the fitted sizing curve E(d) = E_bulk + 1/(a d² + b d + c)."""

    from flowqd.materials import available_materials, get_material

    mats = [get_material(name)] if name else [get_material(n) for n in available_materials()]
    rows = []
    for m in mats:
        a, b, c = m.sizing.coefficients
        rows.append({
            "name": m.name, "bulk_gap_ev": m.bulk_gap_ev, "density_g_cm3": m.density_g_cm3,
            "molar_mass_g_mol": m.molar_mass_g_mol, "sizing_a": a, "sizing_b": b, "sizing_c": c,
            "sizing_rms_ev": m.sizing.rms_residual_ev, "valid_diameter_nm": list(m.sizing.valid_diameter_nm),
            "optical_constants": list(m.optical.citations) if m.optical else [],
            "size_convention": m.size_convention,
        })
    if json_out:
        print_json(rows)
        return
    print_table("flowqd materials", ["material", "E_bulk\n(eV)", "ρ\n(g/cm³)", "M\n(g/mol)",
                                     "E(d): a, b, c\n(d in nm)", "valid d\n(nm)"],
                [[r["name"], f"{r['bulk_gap_ev']:.3f}", f"{r['density_g_cm3']:.2f}", f"{r['molar_mass_g_mol']:.2f}",
                  f"{r['sizing_a']:.4g}, {r['sizing_b']:.4g}, {r['sizing_c']:.4g}",
                  "{:g}-{:g}".format(*r["valid_diameter_nm"])] for r in rows], right=(1, 2, 3))


def register(app: typer.Typer) -> None:
    """Add the ``materials`` command to ``app``."""
    app.command("materials")(materials)
