"""Export a stored run: CSV tables, Parquet tables, or one JCAMP-DX file per spectrum.

Files written by :func:`export_run_csv` / :func:`export_run_parquet` in ``out_dir``:

- ``run.json``: the run's metadata and provenance (platform/campaign TOML text and SHA-256);
- ``conditions``: :meth:`Store.results_table` (set points plus per-condition means of the analysis scalars);
- ``analysis``: one row per analysis result (scalars plus the JSON payload);
- ``spectra``: CSV in long format, one row per (spectrum, array, point) with columns
  ``seq, condition_index, kind, array, wavelength_nm, value`` (``array`` ∈ counts/dark/reference/processed);
  Parquet one row per spectrum with list<float64> columns;
- ``events`` and ``traces``: one row per event / trace point.

JCAMP-DX files are interchange only (the database is the primary store); they are written by
:func:`flowqd.analysis.io.write_jcamp` (JCAMP-DX 5.01, ``##TITLE`` first, ``##XYPOINTS=(XY..XY)``, which suits the
non-uniform wavelength axes of array spectrometers) and read back with the ``jcamp`` package in the tests.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from flowqd.errors import FlowqdError
from flowqd.store.models import SCALAR_COLUMNS, Run
from flowqd.store.store import Store

__all__ = ["export_run_csv", "export_run_parquet", "export_spectra_jcamp", "run_metadata"]

#: Stored spectrum kind -> :class:`flowqd.analysis.spectrum.Spectrum` kind of its processed values.
_ANALYSIS_KIND = {"absorbance": "absorbance", "transmittance": "transmittance", "pl": "intensity",
                  "intensity": "intensity"}


def run_metadata(run: Run) -> dict[str, Any]:
    """The run's columns as a JSON-ready dict."""
    return {
        "id": run.id, "uuid": run.uuid, "name": run.name, "status": run.status,
        "started_at": _iso(run.started_at), "ended_at": _iso(run.ended_at), "flowqd_version": run.flowqd_version,
        "host": run.host, "notes": run.notes, "platform_sha256": run.platform_sha256,
        "campaign_sha256": run.campaign_sha256, "platform_toml": run.platform_toml,
        "campaign_toml": run.campaign_toml,
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _run_rows(store: Store, run_id: int, out: Path) -> tuple[list[Path], list[Any], dict[int, int]]:
    """Write ``run.json`` (the run's metadata) into ``out``; return its path, the run's spectra and the condition
    index of each condition id — what both exporters need, loaded once."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "run.json"
    path.write_text(json.dumps(run_metadata(store.get_run(run_id)), indent=2) + "\n", encoding="utf-8")
    return [path], store.spectra(run_id), {c.id: c.index for c in store.conditions(run_id)}


def _tables(store: Store, run_id: int, spectra: Sequence[Any],
            index_of: Mapping[int, int]) -> dict[str, list[dict[str, Any]]]:
    """The run's row tables (without the spectra arrays)."""
    seq_of: dict[int, tuple[int, str, int | None]] = {}
    for sp in spectra:
        seq_of[sp.id] = (sp.seq, sp.kind, index_of.get(sp.condition_id) if sp.condition_id else None)
    analysis = []
    for r in store.analyses(run_id):
        seq, kind, cidx = seq_of[r.spectrum_id]
        row = {"seq": seq, "condition_index": cidx, "kind": kind, "method": r.method}
        row.update({c: getattr(r, c) for c in SCALAR_COLUMNS})
        row["payload_json"] = json.dumps(r.payload, sort_keys=True)
        analysis.append(row)
    events = [{"at": _iso(e.at), "t_s": e.t_s, "level": e.level, "kind": e.kind, "message": e.message,
               "details_json": json.dumps(e.details, sort_keys=True)} for e in store.events(run_id)]
    traces = [{"t_s": t.t_s, "channel": t.channel, "role": t.role, "value": t.value} for t in store.traces(run_id)]
    conditions: list[dict[str, Any]] = [dict(r) for r in store.results_table(run_id)]
    return {"conditions": conditions, "analysis": analysis, "events": events, "traces": traces}


def _write_csv(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    columns = list(columns if columns is not None else (rows[0].keys() if rows else []))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})


_EMPTY_COLUMNS = {
    "analysis": ["seq", "condition_index", "kind", "method", *SCALAR_COLUMNS, "payload_json"],
    "events": ["at", "t_s", "level", "kind", "message", "details_json"],
    "traces": ["t_s", "channel", "role", "value"],
    "conditions": ["index", "condition_id"],
}


def export_run_csv(store: Store, run_id: int, out_dir: str | Path) -> list[Path]:
    """Write ``run.json`` and ``conditions/analysis/spectra/events/traces.csv`` into ``out_dir``; return the paths."""
    out = Path(out_dir)
    paths, spectra, index_of = _run_rows(store, run_id, out)
    for name, rows in _tables(store, run_id, spectra, index_of).items():
        path = out / f"{name}.csv"
        _write_csv(path, rows, None if rows else _EMPTY_COLUMNS[name])
        paths.append(path)
    path = out / "spectra.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["seq", "condition_index", "kind", "acquired_at", "array", "wavelength_nm", "value"])
        for sp in spectra:
            cidx = index_of.get(sp.condition_id, "") if sp.condition_id else ""
            head = [sp.seq, cidx, sp.kind, _iso(sp.acquired_at)]
            for array in ("counts", "dark", "reference", "processed"):
                values = getattr(sp, array)
                if values is None:
                    continue
                axis = sp.processed_wavelength_nm if array == "processed" else sp.wavelength_nm
                writer.writerows([*head, array, repr(float(x)), repr(float(y))] for x, y in zip(axis, values,
                                                                                            strict=True))
    paths.append(path)
    return paths


def _require_pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise FlowqdError("Parquet export needs pyarrow: pip install 'flowqd[parquet]'") from exc
    return pa, pq


def export_run_parquet(store: Store, run_id: int, out_dir: str | Path) -> list[Path]:
    """Write ``run.json`` and ``conditions/analysis/spectra/events/traces.parquet``; return the paths.

    ``spectra.parquet`` has one row per spectrum; its arrays are ``list<double>`` columns (null when absent).
    """
    pa, pq = _require_pyarrow()
    out = Path(out_dir)
    paths, spectra, index_of = _run_rows(store, run_id, out)
    for name, rows in _tables(store, run_id, spectra, index_of).items():
        table = pa.Table.from_pylist(rows) if rows else pa.table({c: pa.array([], pa.null())
                                                                   for c in _EMPTY_COLUMNS[name]})
        path = out / f"{name}.parquet"
        pq.write_table(table, path)
        paths.append(path)
    cols: dict[str, list[Any]] = {k: [] for k in (
        "seq", "condition_index", "kind", "acquired_at", "t_s", "integration_ms", "averages", "saturated",
        "wavelength_nm", "counts", "dark", "reference", "processed_wavelength_nm", "processed")}
    for sp in spectra:
        cols["seq"].append(sp.seq)
        cols["condition_index"].append(index_of.get(sp.condition_id) if sp.condition_id else None)
        for k in ("kind", "acquired_at", "t_s", "integration_ms", "averages", "saturated"):
            cols[k].append(getattr(sp, k))
        for k in ("wavelength_nm", "counts", "dark", "reference", "processed_wavelength_nm", "processed"):
            arr = getattr(sp, k)
            cols[k].append(None if arr is None else arr.tolist())
    schema = pa.schema([
        ("seq", pa.int64()), ("condition_index", pa.int64()), ("kind", pa.string()),
        ("acquired_at", pa.timestamp("us", tz="UTC")), ("t_s", pa.float64()), ("integration_ms", pa.float64()),
        ("averages", pa.int64()), ("saturated", pa.bool_()),
        *((k, pa.list_(pa.float64())) for k in ("wavelength_nm", "counts", "dark", "reference",
                                                 "processed_wavelength_nm", "processed")),
    ])
    path = out / "spectra.parquet"
    pq.write_table(pa.table(cols, schema=schema), path)
    paths.append(path)
    return paths


def export_spectra_jcamp(
    store: Store, run_id: int, out_dir: str | Path, *, array: str = "auto"
) -> list[Path]:
    """Write one JCAMP-DX file per spectrum of a run into ``out_dir``; return the paths.

    ``array="auto"`` writes the processed values when stored, else the raw counts; ``"processed"``,
    ``"counts"``... force one (spectra without it are skipped). Files are named
    ``run<ID>_seq<SEQ>_<kind>.jdx``.
    """
    if array not in ("auto", "processed", "counts", "dark", "reference"):
        raise FlowqdError(f"unknown array {array!r} (expected auto, processed, counts, dark or reference)")
    from flowqd.analysis.io import write_jcamp
    from flowqd.analysis.spectrum import Spectrum as AnalysisSpectrum

    run = store.get_run(run_id)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    index_of = {c.id: c.index for c in store.conditions(run_id)}
    paths = []
    for sp in store.spectra(run_id):
        name = array if array != "auto" else ("processed" if sp.processed_npy is not None else "counts")
        values = getattr(sp, name)
        if values is None:
            continue
        axis = sp.processed_wavelength_nm if name == "processed" else sp.wavelength_nm
        kind = _ANALYSIS_KIND[sp.kind] if name == "processed" else "intensity"
        cidx = index_of.get(sp.condition_id) if sp.condition_id else None
        title = (f"{run.name} | run {run.uuid} | seq {sp.seq} | {sp.kind} {name}"
                 + (f" | condition {cidx}" if cidx is not None else ""))
        path = out / f"run{run.id}_seq{sp.seq:05d}_{sp.kind}.jdx"
        spectrum = AnalysisSpectrum(axis, values, kind=kind, source=str(path))  # type: ignore[arg-type]
        write_jcamp(spectrum, path, title=" ".join(title.split()), owner=run.host)
        paths.append(path)
    return paths
