"""The :class:`Material` record and its loader.

A material is data: a TOML file (constants with sources, the sizing-curve table, optical-constant tables and any
analysis-kernel parameters) beside its CSV tables. Built-in materials live in ``flowqd/materials/data``; a third
material is added by writing the same files, either there or in any folder passed to :func:`load_material`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from flowqd import _toml
from flowqd.errors import ConfigError, FlowqdError
from flowqd.materials._file import CurveTable, MaterialFile
from flowqd.materials.absorption import intrinsic_absorption_coefficient_cm
from flowqd.materials.bandgap import BANDGAP_FORMS, SizingCurve, fit_bandgap
from flowqd.materials.optical_constants import OpticalConstants, read_nk_csv
from flowqd.units import AVOGADRO, HC_EV_NM

__all__ = ["Material", "available_materials", "get_material", "load_material"]

_DATA = resources.files("flowqd.materials") / "data"


@dataclass(frozen=True)
class Material:
    """A semiconductor with everything the analysis and the twin need to know about it.

    Attributes
    ----------
    name : str
        Short name (``"InP"``).
    bulk_gap_ev : float
        Bulk band gap, eV.
    density_g_cm3, molar_mass_g_mol : float
        Bulk density and molar mass of the formula unit.
    size_convention : str
        What "diameter" means for this material's sizing curve.
    sizing : SizingCurve
        First excitonic transition energy against diameter.
    optical : OpticalConstants or None
        Bulk n, k; ``None`` if no table ships (concentration and the continuum kernel are then unavailable).
    kernel : Mapping
        Parameters of the PSD kernel (the ``[psd_kernel]`` TOML section, as given), owned by
        :mod:`flowqd.analysis.psd`.
    """

    name: str
    formula: str
    bulk_gap_ev: float
    density_g_cm3: float
    molar_mass_g_mol: float
    size_convention: str
    sizing: SizingCurve
    optical: OpticalConstants | None
    kernel: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    #: every sizing curve the material file offers, by name (the default one included)
    sizing_curves: Mapping[str, SizingCurve] = field(default_factory=dict)
    #: material-specific analysis defaults (the ``[analysis]`` TOML table: λ*, exciton search window…)
    analysis: Mapping[str, Any] = field(default_factory=dict)
    _variants: dict[str, Material] = field(default_factory=dict, repr=False, compare=False)

    # --- sizing curves -------------------------------------------------------------------------------------
    def with_sizing_curve(self, name: str | None) -> Material:
        """The same material with another of its sizing curves (``None``: this one). Cached, so the PSD problem
        cache (keyed on the Material) is reused.

        >>> inp = get_material("InP")
        >>> inp.sizing.name, inp.with_sizing_curve("almeida-2023").sizing.name
        ('wang-segets-2023', 'almeida-2023')
        >>> round(float(inp.with_sizing_curve("almeida-2023").diameter_from_wavelength_nm(590.0)), 2)
        2.28
        """
        if name is None or name == self.sizing.name:
            return self
        if name not in self.sizing_curves:
            raise FlowqdError(
                f"material {self.name} has no sizing curve {name!r}; known: {', '.join(self.sizing_curves)}")
        if name not in self._variants:
            self._variants[name] = replace(self, sizing=self.sizing_curves[name], _variants={})
        return self._variants[name]

    def default(self, key: str, fallback: Any) -> Any:
        """A material-specific analysis default from the ``[analysis]`` table, else ``fallback``."""
        return self.analysis.get(key, fallback)

    # --- size <-> energy -------------------------------------------------------------------------------
    def gap_ev(self, diameter_nm: npt.ArrayLike) -> np.ndarray:
        """First excitonic transition energy (eV) of dots of the given diameters (nm)."""
        return self.sizing.gap_ev(diameter_nm)

    def diameter_nm(self, gap_ev: npt.ArrayLike) -> np.ndarray:
        """Diameter (nm) of dots whose first excitonic transition is at ``gap_ev``."""
        return self.sizing.diameter_nm(gap_ev)

    def diameter_from_wavelength_nm(self, wavelength_nm: npt.ArrayLike) -> np.ndarray:
        """Diameter (nm) of dots whose first exciton peak is at ``wavelength_nm``.

        >>> round(float(get_material("InP").diameter_from_wavelength_nm(590.0)), 3)
        3.4
        """
        return self.sizing.diameter_nm(HC_EV_NM / np.asarray(wavelength_nm, dtype=float))

    # --- optics ---------------------------------------------------------------------------------------------
    def _need_optical(self) -> OpticalConstants:
        if self.optical is None:
            raise FlowqdError(f"material {self.name} ships no bulk optical constants (n, k)")
        return self.optical

    def bulk_absorption_cm(self, energy_ev: npt.ArrayLike) -> np.ndarray:
        """Bulk absorption coefficient (1/cm), exactly zero below the bulk gap.

        The Adachi model keeps a small Lorentzian tail below the gap; the PSD kernel needs a sharp onset, so
        energies below ``bulk_gap_ev`` give 0.
        """
        opt = self._need_optical()
        e = np.asarray(energy_ev, dtype=float)
        out = np.zeros_like(e)
        above = e >= self.bulk_gap_ev
        if np.any(above):
            out[above] = opt.absorption_coefficient_cm(e[above])
        return out

    def intrinsic_absorption_cm(self, wavelength_nm: npt.ArrayLike, solvent: str | float = "hexane") -> np.ndarray:
        """Intrinsic absorption coefficient μ_i (1/cm) of dots in ``solvent``; see :mod:`.absorption`."""
        return intrinsic_absorption_coefficient_cm(self._need_optical(), wavelength_nm, solvent)

    # --- bulk quantities ---------------------------------------------------------------------------------
    @property
    def molar_volume_cm3_mol(self) -> float:
        """Molar volume of the formula unit, cm³/mol (M/ρ)."""
        return self.molar_mass_g_mol / self.density_g_cm3

    def formula_units_per_dot(self, diameter_nm: npt.ArrayLike) -> np.ndarray:
        """Number of formula units in a sphere of the given diameter.

        >>> round(float(get_material("InP").formula_units_per_dot(3.0)))
        281
        """
        d_cm = np.asarray(diameter_nm, dtype=float) * 1e-7
        volume_cm3 = np.pi / 6.0 * d_cm**3
        return volume_cm3 / self.molar_volume_cm3_mol * AVOGADRO


def _read_points(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import csv

    diam, energy = [], []
    with open(path, newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.lstrip().startswith("#"))
        for row in rows:
            diam.append(float(row["diameter_nm"]))
            if row.get("energy_ev"):
                energy.append(float(row["energy_ev"]))
            else:
                energy.append(HC_EV_NM / float(row["wavelength_nm"]))
    return np.asarray(diam), np.asarray(energy)


def _load_curve(table: CurveTable, base: Path, bulk: float, default_name: str) -> SizingCurve:
    """One sizing curve from its TOML table: fitted to a points table, or published coefficients."""
    form = table.form
    valid = (float(table.valid_diameter_nm[0]), float(table.valid_diameter_nm[1]))
    if table.points is not None:
        d, e = _read_points(base / table.points)
        curve = fit_bandgap(d, e, bulk, form=form, fit_c=table.fit_c, valid_diameter_nm=valid)
    else:
        if form not in BANDGAP_FORMS:
            raise ConfigError(f"unknown sizing-curve form {form!r}; known: {', '.join(BANDGAP_FORMS)}")
        assert table.coefficients is not None  # CurveTable: points or coefficients
        curve = SizingCurve(form, bulk, tuple(float(c) for c in table.coefficients), valid)
    grid = table.diameter_grid_nm
    curve = replace(curve, name=table.name or default_name, citation=table.citation,
                    diameter_grid_nm=(float(grid[0]), float(grid[1]), float(grid[2])) if grid else None,
                    uncertainty_ev=float(table.uncertainty_ev))
    lo, hi = curve.valid_diameter_nm
    dd = np.linspace(lo, hi, 400)
    ee = curve.gap_ev(dd)
    if not np.all(np.isfinite(ee)) or np.any(np.diff(ee) >= 0):
        raise ConfigError(f"sizing curve {curve.name!r} is not strictly decreasing over {lo:g}-{hi:g} nm")
    return curve


def load_material(path: str | Path) -> Material:
    """Load a material from its TOML file (tables are resolved relative to it); unknown keys are errors."""
    path = Path(path)
    spec = _toml.validate(MaterialFile, _toml.read_toml(path), source=str(path))
    base = path.parent
    try:
        bulk = float(spec.bulk_gap_ev)
        sizing = _load_curve(spec.bandgap, base, bulk, "default")
        curves = {sizing.name: sizing}
        for cname, table in spec.sizing_curves.items():
            curves[cname] = _load_curve(table, base, bulk, cname)
        optical = None
        if spec.optical_constants:
            tables = []
            for t in spec.optical_constants:
                wl, n, k = read_nk_csv(str(base / t.file))
                tables.append((wl, n, k, float(t.min_energy_ev),
                               float(t.max_energy_ev) if t.max_energy_ev is not None else float(np.inf),
                               t.citation if t.citation is not None else t.file))
            optical = OpticalConstants.stitch(tables)
    except (FlowqdError, OSError, ValueError, KeyError) as exc:
        raise ConfigError(" ".join(str(exc).split()), source=str(path)) from None
    return Material(
        name=spec.name,
        formula=spec.formula if spec.formula is not None else spec.name,
        bulk_gap_ev=bulk,
        density_g_cm3=float(spec.density_g_cm3),
        molar_mass_g_mol=float(spec.molar_mass_g_mol),
        size_convention=spec.size_convention,
        sizing=sizing,
        optical=optical,
        kernel=MappingProxyType(spec.psd_kernel.model_dump(exclude_none=True) if spec.psd_kernel else {}),
        source=str(path),
        sizing_curves=MappingProxyType(curves),
        analysis=MappingProxyType(spec.analysis.model_dump(exclude_none=True)),
    )


def available_materials() -> list[str]:
    """Names of the built-in materials.

    >>> available_materials()
    ['CdSe', 'InP']
    """
    return list(_builtin_names())


@lru_cache(maxsize=1)
def _builtin_names() -> tuple[str, ...]:
    return tuple(sorted(p.name[:-5] for p in _DATA.iterdir() if p.name.endswith(".toml")))


@lru_cache(maxsize=32)
def _builtin(name: str) -> Material:
    return load_material(Path(str(_DATA / f"{name}.toml")))


@lru_cache(maxsize=32)
def _from_file(path: str, resolved: str, mtime_ns: int, size: int) -> Material:
    """A material file, loaded once per (path as given, file, version); errors keep naming ``path``."""
    return load_material(Path(path))


def get_material(material: str | Material | Path = "InP") -> Material:
    """Return a :class:`Material` by built-in name (case-insensitive), TOML path, or pass one through."""
    if isinstance(material, Material):
        return material
    if isinstance(material, Path) or str(material).endswith(".toml"):
        path = Path(material)
        try:
            stat = path.stat()
        except OSError:
            return load_material(material)  # its own one-line error for a missing file
        # one Material per file version: the PSD problem cache is keyed on the Material, so reloading the same file
        # for every spectrum rebuilt the whole regularised problem each time (~80x slower)
        return _from_file(str(path), str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    names = {n.lower(): n for n in available_materials()}
    key = str(material).strip().lower()
    if key not in names:
        raise FlowqdError(f"unknown material {material!r}; known: {', '.join(names.values())} (or a .toml path)")
    return _builtin(names[key])
