"""The results table of a run — one row per condition — and the one definition of its columns.

:func:`results_table` builds the rows (:class:`ResultRow`: set points, spectrum counts and per-condition means of
the stored analysis scalars); :data:`RESULT_COLUMNS` says, for every column, its name, unit, number format and
where its value comes from (:class:`ResultColumn`). The HTML report (:mod:`flowqd.report.html`), the server's
overview page (:mod:`flowqd.server.pages`) and the CLI's end-of-run tables (:mod:`flowqd.cli.platform`) all
render from these definitions with :meth:`ResultColumn.cell`; each picks which columns it shows, none spells a
header or a format of its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

if TYPE_CHECKING:
    from flowqd.store.store import Store

__all__ = ["RESULT_COLUMNS", "ResultColumn", "ResultRow", "column", "columns", "format_cell", "results_table"]


class ResultRow(TypedDict):
    """One condition of a run in :func:`results_table` (JSON-ready; ``None`` where nothing was measured)."""

    index: int
    condition_id: int
    label: str
    status: str
    core_temperature_c: float
    core_flow_ml_min: float
    core_units: int
    shell: bool
    shell_temperature_c: float | None
    ddt_flow_ml_min: float | None
    residence_time_s: float | None
    residence_time_min: float | None
    n_spectra_planned: int
    n_absorbance: int
    n_pl: int
    n_superseded: int
    peak_nm: float | None
    x13_nm: float | None
    sigma_nm: float | None
    rsd: float | None
    conversion: float | None
    production_rate_mg_h: float | None
    pl_peak_nm: float | None
    pl_fwhm_nm: float | None
    plqy: float | None
    cie_x: float | None
    cie_y: float | None


@dataclass(frozen=True)
class ResultColumn:
    """One column of the results table.

    Attributes
    ----------
    key : str
        Key of :class:`ResultRow`.
    name : str
        Header without the unit (``"T core"``).
    unit : str
        Unit shown in the header (``"°C"``; ``""`` for a plain number).
    fmt : str
        Format spec of :func:`format` (``".1f"``, ``"g"``; ``"d"`` for counts, ``"s"`` for text).
    scale : float
        Factor applied before formatting (100 for fractions shown in %).
    source : str
        Where the value comes from: ``"condition.<field>"`` (the stored condition) or ``"<kind>.<scalar>"`` (mean of
        the analysis scalar over the condition's spectra of that kind, superseded spectra left out).
    """

    key: str
    name: str
    unit: str
    fmt: str
    scale: float = 1.0
    source: str = ""

    @property
    def header(self) -> str:
        """``"name (unit)"`` (or the name alone)."""
        return f"{self.name} ({self.unit})" if self.unit else self.name

    @property
    def stacked_header(self) -> str:
        """The header on two lines, name over unit (narrow terminal tables)."""
        return f"{self.name}\n({self.unit})" if self.unit else self.name

    def cell(self, row: Mapping[str, Any]) -> str:
        """The formatted value of this column in ``row``."""
        return format_cell(row.get(self.key), self.fmt, self.scale)


def format_cell(value: Any, fmt: str, scale: float = 1.0) -> str:
    """Format a table value: ``None`` or a non-finite number → an en dash, booleans → yes/no.

    Examples
    --------
    >>> format_cell(0.0812, ".1f", 100.0), format_cell(None, ".1f"), format_cell(3.0, "d"), format_cell(True, "s")
    ('8.1', '–', '3', 'yes')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if fmt == "d":
        return str(int(value))
    if fmt == "s":
        return str(value)
    return format(value * scale, fmt)


#: Every column of the results table, in display order.
RESULT_COLUMNS: tuple[ResultColumn, ...] = (
    ResultColumn("index", "#", "", "d", source="condition.index"),
    ResultColumn("label", "Label", "", "s", source="condition.label"),
    ResultColumn("core_temperature_c", "T core", "°C", "g", source="condition.core_temperature_c"),
    ResultColumn("core_flow_ml_min", "Flow", "mL/min", "g", source="condition.core_flow_ml_min"),
    ResultColumn("core_units", "Core units", "", "d", source="condition.core_units"),
    ResultColumn("residence_time_min", "τ", "min", ".1f", source="condition.residence_time_s"),
    ResultColumn("shell_temperature_c", "T shell", "°C", "g", source="condition.shell_temperature_c"),
    ResultColumn("ddt_flow_ml_min", "DDT flow", "mL/min", "g", source="condition.ddt_flow_ml_min"),
    ResultColumn("n_absorbance", "Spectra", "", "d", source="absorbance.count"),
    ResultColumn("n_pl", "PL spectra", "", "d", source="pl.count"),
    ResultColumn("n_superseded", "Superseded", "", "d", source="superseded.count"),
    ResultColumn("peak_nm", "Peak", "nm", ".1f", source="absorbance.peak_wavelength_nm"),
    ResultColumn("x13_nm", "x1,3", "nm", ".2f", source="absorbance.x13_nm"),
    ResultColumn("sigma_nm", "σ", "nm", ".2f", source="absorbance.sigma_nm"),
    ResultColumn("rsd", "RSD", "%", ".1f", 100.0, source="absorbance.rsd"),
    ResultColumn("conversion", "Yield", "%", ".1f", 100.0, source="absorbance.conversion"),
    ResultColumn("production_rate_mg_h", "Production", "mg/h", ".1f", source="absorbance.production_rate_mg_h"),
    ResultColumn("pl_peak_nm", "PL peak", "nm", ".1f", source="pl.peak_wavelength_nm"),
    ResultColumn("pl_fwhm_nm", "PL FWHM", "nm", ".1f", source="pl.fwhm_nm"),
    ResultColumn("plqy", "PLQY", "%", ".1f", 100.0, source="pl.plqy"),
    ResultColumn("cie_x", "CIE x", "", ".3f", source="pl.cie_x"),
    ResultColumn("cie_y", "CIE y", "", ".3f", source="pl.cie_y"),
    ResultColumn("status", "Status", "", "s", source="condition.status"),
)
_BY_KEY = {c.key: c for c in RESULT_COLUMNS}


def column(key: str) -> ResultColumn | None:
    """The column of ``key`` (a :class:`ResultRow` key); None when no column has that key."""
    return _BY_KEY.get(key)


def columns(*keys: str) -> list[ResultColumn]:
    """The columns of ``keys``, in the order given."""
    return [_BY_KEY[k] for k in keys]


#: The per-condition means: (row key, spectrum kind, analysis scalar), read off the columns' sources.
_MEANS: tuple[tuple[str, str, str], ...] = tuple(
    (c.key, kind, scalar) for c in RESULT_COLUMNS
    for kind, _, scalar in [c.source.partition(".")] if kind in ("absorbance", "pl") and scalar != "count"
)


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def results_table(store: Store, run_id: int) -> list[ResultRow]:
    """One row per condition: set points, spectrum counts and per-condition means of the analysis scalars.

    ``residence_time_min`` is ``residence_time_s / 60``. Absorbance analyses give ``peak_nm``, ``x13_nm``,
    ``sigma_nm``, ``rsd`` (fraction), ``conversion``, ``production_rate_mg_h``; PL analyses give ``pl_peak_nm``,
    ``pl_fwhm_nm``, ``plqy``, ``cie_x``, ``cie_y`` (the sources in :data:`RESULT_COLUMNS`). Per spectrum, each
    scalar is the first non-null value over its analyses. Missing values are ``None``. Spectra marked superseded
    (taken before an interruption, :meth:`Store.supersede_spectra`) are counted in ``n_superseded`` and left out of
    everything else.
    """
    conds = store.conditions(run_id)
    spec_rows, scalar_rows = store.spectrum_index(run_id), store.analysis_scalars(run_id)
    per_spec: dict[int, dict[str, float | None]] = {}
    for sid, scalars in scalar_rows:
        merged = per_spec.setdefault(sid, {})
        for name, value in scalars.items():
            if merged.get(name) is None and value is not None:
                merged[name] = value
    by_cond: dict[int | None, dict[str, list[int]]] = {}
    superseded: dict[int | None, int] = {}
    for sid, cid, kind, meta in spec_rows:
        if isinstance(meta, Mapping) and meta.get("superseded"):  # before an interruption: kept, not averaged
            superseded[cid] = superseded.get(cid, 0) + 1
            continue
        by_cond.setdefault(cid, {}).setdefault(kind, []).append(sid)
    table: list[ResultRow] = []
    for c in conds:
        kinds = by_cond.get(c.id, {})
        analysed: dict[str, Sequence[dict[str, float | None]]] = {
            kind: [per_spec.get(i, {}) for i in kinds.get(kind, [])] for kind in ("absorbance", "pl")}
        means = {key: _mean(r.get(scalar) for r in analysed[kind]) for key, kind, scalar in _MEANS}
        table.append(ResultRow(
            index=c.index, condition_id=c.id, label=c.label, status=c.status,
            core_temperature_c=c.core_temperature_c, core_flow_ml_min=c.core_flow_ml_min, core_units=c.core_units,
            shell=c.shell, shell_temperature_c=c.shell_temperature_c, ddt_flow_ml_min=c.ddt_flow_ml_min,
            residence_time_s=c.residence_time_s,
            residence_time_min=None if c.residence_time_s is None else c.residence_time_s / 60.0,
            n_spectra_planned=c.n_spectra, n_absorbance=len(kinds.get("absorbance", [])),
            n_pl=len(kinds.get("pl", [])), n_superseded=superseded.get(c.id, 0),
            peak_nm=means["peak_nm"], x13_nm=means["x13_nm"], sigma_nm=means["sigma_nm"], rsd=means["rsd"],
            conversion=means["conversion"], production_rate_mg_h=means["production_rate_mg_h"],
            pl_peak_nm=means["pl_peak_nm"], pl_fwhm_nm=means["pl_fwhm_nm"], plqy=means["plqy"],
            cie_x=means["cie_x"], cie_y=means["cie_y"],
        ))
    return table
