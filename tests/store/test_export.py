"""CSV, Parquet and JCAMP-DX exports of a stored run."""

from __future__ import annotations

import csv
import json

import jcamp
import numpy as np
import pytest
from tests.store_fixtures import populate_demo_run

from flowqd.errors import FlowqdError
from flowqd.store import Store
from flowqd.store.export import export_run_csv, export_run_parquet, export_spectra_jcamp


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "demo.sqlite"
    with Store(f"sqlite:///{path}") as store:
        run_id = populate_demo_run(store, temperatures_c=(180.0, 250.0), n_spectra=1)
        yield store, run_id


def _read_csv(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv(demo, tmp_path):
    store, run_id = demo
    paths = export_run_csv(store, run_id, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["analysis.csv", "conditions.csv", "events.csv", "run.json", "spectra.csv", "traces.csv"]
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["name"] == store.get_run(run_id).name and meta["platform_toml"].startswith("[platform]")
    conds = _read_csv(tmp_path / "conditions.csv")
    assert [float(r["peak_nm"]) for r in conds[:2]] == pytest.approx([518.0, 590.0])
    assert conds[2]["plqy"] == "0.309" and conds[0]["plqy"] == ""
    spectra = _read_csv(tmp_path / "spectra.csv")
    first = store.spectra(run_id)[0]
    proc = [r for r in spectra if r["seq"] == "0" and r["array"] == "processed"]
    np.testing.assert_array_equal([float(r["wavelength_nm"]) for r in proc], first.processed_wavelength_nm)
    np.testing.assert_array_equal([float(r["value"]) for r in proc], first.processed)  # repr(): exact
    assert {r["array"] for r in spectra} == {"counts", "dark", "reference", "processed"}
    events = _read_csv(tmp_path / "events.csv")
    assert events[-1]["kind"] == "interlock.overpressure" and json.loads(events[-1]["details_json"])["limit_bar"] == 8
    assert len(_read_csv(tmp_path / "traces.csv")) == len(store.traces(run_id))
    assert len(_read_csv(tmp_path / "analysis.csv")) == len(store.analyses(run_id))


def test_parquet(demo, tmp_path):
    import pyarrow.parquet as pq

    store, run_id = demo
    export_run_parquet(store, run_id, tmp_path)
    spectra = pq.read_table(tmp_path / "spectra.parquet").to_pylist()
    stored = store.spectra(run_id)
    assert [r["seq"] for r in spectra] == [s.seq for s in stored]
    np.testing.assert_array_equal(spectra[0]["processed"], stored[0].processed)
    np.testing.assert_array_equal(spectra[0]["counts"], stored[0].counts)
    assert spectra[0]["dark"] is not None and spectra[0]["acquired_at"].tzinfo is not None
    conds = pq.read_table(tmp_path / "conditions.parquet").to_pylist()
    assert conds[1]["x13_nm"] == pytest.approx(3.4)
    assert pq.read_table(tmp_path / "traces.parquet").num_rows == len(store.traces(run_id))
    assert pq.read_table(tmp_path / "events.parquet").num_rows == len(store.events(run_id))


def test_parquet_without_pyarrow(demo, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(FlowqdError, match=r"pip install 'flowqd\[parquet\]'"):
        export_run_parquet(*demo, tmp_path)


def test_jcamp_roundtrip(demo, tmp_path):
    store, run_id = demo
    paths = export_spectra_jcamp(store, run_id, tmp_path)
    stored = store.spectra(run_id)
    assert len(paths) == len(stored)
    for path, sp in zip(paths, stored, strict=True):
        text = path.read_text()
        assert text.startswith("##TITLE=") and "##JCAMP-DX=5.01" in text and text.rstrip().endswith("##END=")
        d = jcamp.readfile(str(path))
        np.testing.assert_allclose(d["x"], sp.processed_wavelength_nm, rtol=1e-9)
        np.testing.assert_allclose(d["y"], sp.processed, rtol=1e-8, atol=1e-12)
        assert d["xunits"] == "NANOMETERS" and d["npoints"] == sp.n_points
    raw = export_spectra_jcamp(store, run_id, tmp_path / "raw", array="counts")
    d = jcamp.readfile(str(raw[0]))
    np.testing.assert_allclose(d["y"], stored[0].counts, rtol=1e-9)
    with pytest.raises(FlowqdError, match="unknown array"):
        export_spectra_jcamp(store, run_id, tmp_path, array="nope")


def test_export_unknown_run(demo, tmp_path):
    with pytest.raises(FlowqdError, match="no run with id 999"):
        export_run_csv(demo[0], 999, tmp_path)
