"""Round trips of every table, idempotent inserts, pragmas and URL handling of flowqd.store."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from tests.store_fixtures import open_concurrently, populate_demo_run

from flowqd.errors import ConfigError, FlowqdError
from flowqd.store import SCHEMA_VERSION, Store
from flowqd.store.database import engine_options, parse_url, sqlite_path
from flowqd.store.models import pack_array, unpack_array
from flowqd.store.store import sha256_text

WL = np.linspace(400.0, 700.0, 31)


@pytest.fixture
def store(tmp_path):
    with Store(f"sqlite:///{tmp_path}/sub/dir/flowqd.sqlite") as s:
        yield s


def _run_with_condition(store: Store) -> tuple[int, int]:
    run_id = store.create_run("r", platform_toml="a = 1\n", campaign_toml="b = 2\n", notes="n", host="h")
    cid = store.add_condition(run_id, 0, core_temperature_c=200.0, core_flow_ml_min=0.1, n_spectra=3,
                              residence_time_s=600.0, extra={"note": "x"})
    return run_id, cid


class TestPragmasAndSchema:
    def test_creates_parent_dirs_and_wal(self, store, tmp_path):
        assert (tmp_path / "sub" / "dir" / "flowqd.sqlite").exists()
        assert store.journal_mode == "wal"
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
        assert store.schema_version == SCHEMA_VERSION

    def test_reopen_keeps_data_and_version(self, tmp_path):
        url = f"sqlite:///{tmp_path}/a.sqlite"
        with Store(url) as s:
            run_id = s.create_run("keep")
        with Store(url, create=False) as s:
            assert s.get_run(run_id).name == "keep"
            assert s.schema_version == SCHEMA_VERSION

    def test_missing_file_when_not_creating(self, tmp_path):
        with pytest.raises(FlowqdError, match="no flowqd database"):
            Store(f"sqlite:///{tmp_path}/nope.sqlite", create=False)
        assert not (tmp_path / "nope.sqlite").exists()

    def test_newer_schema_refused(self, tmp_path):
        url = f"sqlite:///{tmp_path}/v.sqlite"
        with Store(url) as s, s.engine.begin() as conn:
            conn.execute(text("INSERT INTO schema_version (version, created_at) VALUES (999, '2026-01-01')"))
        with pytest.raises(FlowqdError, match="newer than this flowqd"):
            Store(url)

    def test_memory_store(self):
        with Store("sqlite://") as s:
            run_id = s.create_run("m")
            assert s.get_run(run_id).name == "m"
            assert s.journal_mode == "memory"


class TestUrls:
    def test_postgres_branch(self):
        url = parse_url("postgresql+psycopg://lab:pw@db.example:5432/flowqd")
        assert url.get_backend_name() == "postgresql" and url.database == "flowqd"
        assert sqlite_path(url) is None
        opts = engine_options(url)
        assert opts["pool_pre_ping"] is True and "connect_args" not in opts

    def test_sqlite_branches(self):
        assert sqlite_path(parse_url("sqlite:///x/y.sqlite")).as_posix() == "x/y.sqlite"
        assert engine_options(parse_url("sqlite:///x.sqlite"))["connect_args"]["timeout"] == 10.0
        assert "poolclass" not in engine_options(parse_url("sqlite:///x.sqlite"))
        assert sqlite_path(parse_url("sqlite:///:memory:")) is None

    @pytest.mark.parametrize("bad", ["mysql://u@h/db", "not a url"])
    def test_bad_urls(self, bad):
        with pytest.raises(ConfigError):
            parse_url(bad)

    def test_missing_driver_is_one_line_error(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the driver were not installed
        missing = r"driver for 'postgresql\+psycopg' is not installed .*flowqd\[postgres\]"
        with pytest.raises(ConfigError, match=missing):
            Store("postgresql+psycopg://lab@localhost/flowqd")


class TestRoundTrip:
    def test_run(self, store):
        t0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
        run_id = store.create_run("paper", platform_toml="p = 1\n", campaign_toml="", started_at=t0, host="lab")
        run = store.get_run(run_id)
        assert run.name == "paper" and run.status == "running" and run.started_at == t0
        assert run.platform_sha256 == sha256_text("p = 1\n") and run.campaign_sha256 == ""
        assert run.host == "lab" and len(run.uuid) == 36 and run.flowqd_version
        store.finish_run(run_id, "tripped")
        run = store.get_run(run_id)
        assert run.status == "tripped" and run.ended_at is not None and run.ended_at.tzinfo is UTC
        assert [r.id for r in store.list_runs()] == [run_id]
        assert store.resolve_run(str(run_id)) == run_id
        assert store.resolve_run(run.uuid[:6]) == run_id
        assert store.resolve_run("paper") == run_id

    def test_bad_values(self, store):
        with pytest.raises(FlowqdError, match="unknown run status"):
            store.create_run("x", status="exploded")
        with pytest.raises(FlowqdError, match="no run with id 42"):
            store.get_run(42)
        with pytest.raises(FlowqdError, match="no run 'zzz'"):
            store.resolve_run("zzz")

    def test_condition(self, store):
        run_id, cid = _run_with_condition(store)
        assert store.add_condition(run_id, 0, core_temperature_c=1.0, core_flow_ml_min=1.0) == cid
        store.set_condition_status(cid, "acquiring")
        store.set_condition_status(cid, "completed")
        (c,) = store.conditions(run_id)
        assert (c.index, c.core_temperature_c, c.core_flow_ml_min, c.n_spectra, c.residence_time_s) == (
            0, 200.0, 0.1, 3, 600.0)
        assert c.status == "completed" and c.started_at <= c.ended_at and c.extra == {"note": "x"}
        assert store.completed_conditions(run_id) == [0]
        assert store.condition_id(run_id, 0) == cid

    def test_traces(self, store):
        run_id, _ = _run_with_condition(store)
        n = store.add_trace_points(run_id, [(0.0, "hb1.temperature_c", 200.0, "setpoint"),
                                            (1.0, "hb1.temperature_c", 190.5),
                                            {"t_s": 2.0, "channel": "p.pressure_bar", "value": 2.5}])
        assert n == 3
        store.record_sample(run_id, 3.0, {"hb1.temperature_c": 195.0, "p.pressure_bar": 2.6})
        temps = store.traces(run_id, "hb1.temperature_c")
        assert [(t.t_s, t.value, t.role) for t in temps] == [
            (0.0, 200.0, "setpoint"), (1.0, 190.5, "reading"), (3.0, 195.0, "reading")]
        assert len(store.traces(run_id, role="setpoint")) == 1
        assert store.channels(run_id) == ["hb1.temperature_c", "p.pressure_bar"]
        with pytest.raises(FlowqdError, match="trace role"):
            store.add_trace_points(run_id, [(0.0, "x", 1.0, "guess")])

    def test_events(self, store):
        run_id, _ = _run_with_condition(store)
        store.add_event(run_id, "state.started", "go", t_s=0.0)
        eid = store.record_event(run_id, "interlock.overpressure", "9 bar", level="error",
                                 details={"bar": np.float64(9.0), "nan": float("nan")})
        evs = store.events(run_id)
        assert [e.kind for e in evs] == ["state.started", "interlock.overpressure"]
        assert evs[1].id == eid and evs[1].details == {"bar": 9.0, "nan": None} and evs[1].level == "error"
        assert [e.kind for e in store.events(run_id, "interlock.")] == ["interlock.overpressure"]

    def test_spectrum_arrays(self, store):
        run_id, cid = _run_with_condition(store)
        counts = np.arange(31.0) * 1000.0 + 0.5
        sid = store.add_spectrum(run_id, 0, condition_id=cid, kind="absorbance", wavelength_nm=WL,
                                 counts=counts, dark=np.full(31, 100.0), reference=counts + 7,
                                 processed=np.linspace(1, 0, 31), integration_ms=12.5, averages=4,
                                 saturated=True, t_s=3.0, meta={"device": "sim"})
        (sp,) = store.spectra(run_id)
        assert sp.id == sid and sp.seq == 0 and sp.kind == "absorbance" and sp.n_points == 31
        np.testing.assert_array_equal(sp.wavelength_nm, WL)
        np.testing.assert_array_equal(sp.counts, counts)  # float32 holds these exactly
        np.testing.assert_array_equal(sp.dark, 100.0)
        np.testing.assert_array_equal(sp.processed, np.linspace(1, 0, 31))
        np.testing.assert_array_equal(sp.processed_wavelength_nm, WL)
        assert (sp.integration_ms, sp.averages, sp.saturated, sp.t_s, sp.meta) == (12.5, 4, True, 3.0,
                                                                                   {"device": "sim"})
        assert store.get_spectrum(sid).seq == 0

    def test_processed_on_own_axis(self, store):
        run_id, cid = _run_with_condition(store)
        store.add_spectrum(run_id, 0, condition_id=cid, kind="pl", wavelength_nm=WL, counts=np.ones(31),
                           processed=[1.0, 2.0, 3.0], processed_wavelength_nm=[500.0, 510.0, 520.0])
        (sp,) = store.spectra(run_id, kind="pl")
        np.testing.assert_array_equal(sp.processed_wavelength_nm, [500.0, 510.0, 520.0])
        assert sp.dark is None and sp.reference is None

    def test_spectrum_validation(self, store):
        run_id, cid = _run_with_condition(store)
        with pytest.raises(FlowqdError, match="counts has shape"):
            store.add_spectrum(run_id, 0, kind="absorbance", wavelength_nm=WL, counts=np.ones(5))
        with pytest.raises(FlowqdError, match="unknown spectrum kind"):
            store.add_spectrum(run_id, 0, kind="raman", wavelength_nm=WL)
        other = store.create_run("other")
        with pytest.raises(FlowqdError, match="does not belong"):
            store.add_spectrum(other, 0, condition_id=cid, kind="absorbance", wavelength_nm=WL)

    def test_analysis(self, store):
        run_id, cid = _run_with_condition(store)
        sid = store.add_spectrum(run_id, 0, condition_id=cid, kind="absorbance", wavelength_nm=WL)
        payload = {"peak_wavelength_nm": 560.0, "x13_nm": 3.0, "sigma_nm": 0.3, "rsd": 0.1, "arr": np.arange(3)}
        aid = store.add_analysis(sid, "psd", payload, production_rate_mg_h=107.0)
        assert store.add_analysis(sid, "psd", {"x13_nm": 99.0}) == aid  # idempotent
        (a,) = store.analyses(run_id)
        assert a.id == aid and a.payload["arr"] == [0, 1, 2]
        assert (a.peak_wavelength_nm, a.x13_nm, a.sigma_nm, a.rsd, a.production_rate_mg_h) == (
            560.0, 3.0, 0.3, 0.1, 107.0)
        with pytest.raises(FlowqdError, match="unknown analysis scalar"):
            store.add_analysis(sid, "x", {}, bogus=1.0)
        with pytest.raises(FlowqdError, match="no spectrum"):
            store.add_analysis(9999, "x", {})

    def test_payload_scalars_come_from_one_key_each_never_guessed(self, store):
        """A payload is read with the payload schema's one key per column: other spellings, percentages and
        nested levels are not searched (they once were, by up to eight aliases per column)."""
        run_id, cid = _run_with_condition(store)
        sid = store.add_spectrum(run_id, 0, condition_id=cid, kind="pl", wavelength_nm=WL)
        store.add_analysis(sid, "pl", {"plqy_percent": 30.9, "chromaticity_xy": [0.5, 0.4], "peak_nm": 600.0,
                                       "psd": {"x13_nm": 3.0}, "fwhm_nm": float("nan"), "yield": 0.7,
                                       "production_mg_h": 12.0, "cie_x": 0.55})
        (a,) = store.analyses(run_id)
        assert (a.plqy, a.cie_y, a.peak_wavelength_nm, a.x13_nm, a.fwhm_nm) == (None, None, None, None, None)
        assert (a.conversion, a.production_rate_mg_h, a.cie_x) == (0.7, 12.0, 0.55)

    def test_typed_outcome_gives_scalars_and_payload(self, store):
        from flowqd.analysis.exciton import ExcitonResult
        from flowqd.analysis.outcome import SpectrumOutcome

        run_id, cid = _run_with_condition(store)
        sid = store.add_spectrum(run_id, 0, condition_id=cid, kind="absorbance", wavelength_nm=WL)
        outcome = SpectrumOutcome("exciton", exciton=ExcitonResult(561.5, 2.208, "maximum", 0.3)).flagged_saturated()
        store.add_analysis(sid, outcome.method, outcome)
        (a,) = store.analyses(run_id)
        assert a.method == "exciton" and a.peak_wavelength_nm == 561.5 and a.x13_nm is None
        assert a.payload == {"peak_wavelength_nm": 561.5, "peak_energy_ev": 2.208, "peak_absorbance": 0.3,
                             "peak_method": "maximum", "saturated": True}

    def test_results_table(self, store):
        run_id = populate_demo_run(store, temperatures_c=(180.0, 250.0), n_spectra=2)
        rows = store.results_table(run_id)
        assert [r["core_temperature_c"] for r in rows] == [180.0, 250.0, 200.0]
        assert rows[0]["peak_nm"] == pytest.approx(518.0) and rows[1]["peak_nm"] == pytest.approx(590.0)
        assert rows[0]["x13_nm"] == pytest.approx(2.7) and rows[1]["x13_nm"] == pytest.approx(3.4)
        assert rows[0]["rsd"] == pytest.approx(0.077) and rows[0]["n_absorbance"] == 2
        assert rows[0]["plqy"] is None and rows[2]["shell"] is True
        assert rows[2]["pl_peak_nm"] == 607.0 and rows[2]["plqy"] == pytest.approx(0.309)
        assert (rows[2]["cie_x"], rows[2]["cie_y"]) == (0.553, 0.441) and rows[2]["n_pl"] == 2


class TestIdempotentResume:
    def test_same_seq_is_noop(self, store):
        run_id, cid = _run_with_condition(store)
        a = store.add_spectrum(run_id, 5, condition_id=cid, kind="absorbance", wavelength_nm=WL,
                               processed=np.zeros(31))
        b = store.add_spectrum(run_id, 5, condition_id=cid, kind="absorbance", wavelength_nm=WL,
                               processed=np.ones(31))
        assert a == b
        (sp,) = store.spectra(run_id)
        np.testing.assert_array_equal(sp.processed, 0.0)  # the first write wins
        assert store.next_seq(run_id) == 6 and store.spectrum_seqs(run_id) == [5]

    def test_counts_for_resume(self, store):
        run_id, cid = _run_with_condition(store)
        c1 = store.start_condition(run_id, 1, core_temperature_c=220.0, core_flow_ml_min=0.1)
        for seq, c in enumerate([cid, cid, c1]):
            store.add_spectrum(run_id, seq, condition_id=c, kind="absorbance", wavelength_nm=WL)
        assert store.completed_spectra_count(run_id, 0) == 2
        assert store.completed_spectra_count(run_id, 1) == 1
        assert store.completed_spectra_count(run_id, 1, kind="pl") == 0
        assert store.completed_spectra_count(run_id, 7) == 0
        assert store.next_seq(run_id) == 3

    def test_record_spectrum_objects(self, store):
        from flowqd.analysis.spectrum import Spectrum as ASpectrum

        run_id, cid = _run_with_condition(store)
        raw = {"wavelength_nm": WL, "counts": np.ones(31) * 5, "integration_ms": 8.0}
        processed = ASpectrum(WL[5:25], np.linspace(0, 1, 20))
        sid = store.record_spectrum(run_id, 0, raw, processed, {"peak_wavelength_nm": 550.0}, condition_id=cid)
        assert store.record_spectrum(run_id, 0, raw, processed, {"peak_wavelength_nm": 1.0},
                                     condition_id=cid) == sid
        (sp,) = store.spectra(run_id)
        assert sp.kind == "absorbance" and sp.integration_ms == 8.0
        np.testing.assert_array_equal(sp.processed_wavelength_nm, WL[5:25])
        assert store.analyses(run_id)[0].peak_wavelength_nm == 550.0


def test_pack_roundtrip():
    a = np.array([1.5, -2.25, 1e300])
    np.testing.assert_array_equal(unpack_array(pack_array(a)), a)
    assert unpack_array(pack_array([1, 2], "<f4")).dtype == np.float64
    assert unpack_array(None) is None


def test_analysis_dataclass_payloads(store):
    """Payloads may hold flowqd.analysis result dataclasses (numpy arrays inside become lists)."""
    from flowqd.analysis.exciton import ExcitonResult

    run_id, cid = _run_with_condition(store)
    sid = store.add_spectrum(run_id, 0, condition_id=cid, kind="absorbance", wavelength_nm=WL)
    exc = ExcitonResult(wavelength_nm=561.5, energy_ev=2.208, method="maximum", absorbance=0.3)
    store.add_analysis(sid, "inline", {"exciton": exc, "psd": {"x13_nm": 3.1, "rsd": 0.12,
                                                                "diameter_nm": np.linspace(2, 4, 5)}},
                       peak_wavelength_nm=exc.wavelength_nm, x13_nm=3.1, rsd=0.12)
    (a,) = store.analyses(run_id)
    assert (a.peak_wavelength_nm, a.x13_nm, a.rsd) == (561.5, 3.1, 0.12)
    assert a.payload["exciton"]["method"] == "maximum" and len(a.payload["psd"]["diameter_nm"]) == 5


def test_many_processes_creating_the_schema_at_once_all_succeed(tmp_path):
    # A run starting while a monitor opens the same new file: both create the schema. Each round is a fresh
    # file opened by 6 stores at the same instant; without peer tolerance "table ... already exists" escapes.
    for i in range(15):
        url = f"sqlite:///{tmp_path}/race{i}.sqlite"
        errors = open_concurrently(url, 6)
        assert errors == [], errors[0]
        with Store(url) as s:
            assert s.schema_version == SCHEMA_VERSION
            assert s.engine.connect().exec_driver_sql("SELECT count(*) FROM schema_version").scalar() == 1


def test_database_written_before_issue_7_reads_the_same(tmp_path):
    """tests/data/store-pre-issue7.sqlite was written by flowqd before issue 7, whose store guessed scalar columns
    from payload aliases (``rsd_percent``, ``chromaticity_xy``, nested ``exciton.wavelength_nm`` …). The columns
    hold what was stored then; reading needs no guessing, so the results and the report's typed reading are the
    values written (tests/data/make_store_pre_issue7.py says how the file was made)."""
    import shutil

    from flowqd.analysis.outcome import StoredOutcome

    path = tmp_path / "old.sqlite"
    shutil.copy(Path(__file__).parents[1] / "data" / "store-pre-issue7.sqlite", path)
    with Store(f"sqlite:///{path}", create=False) as store:
        (row,) = store.results_table(1)
        assert (row["peak_nm"], row["x13_nm"], row["rsd"], row["conversion"]) == (561.5, 3.1, 0.09, 0.7)
        assert (row["pl_peak_nm"], row["pl_fwhm_nm"], row["plqy"], row["cie_x"], row["cie_y"]) == (
            607.0, 90.0, 0.309, 0.553, 0.441)
        absorbance, pl = (StoredOutcome.from_payload(a.method, a.payload) for a in store.analyses(1))
        assert absorbance.psd is not None and absorbance.psd[0].tolist() == [2.0, 3.0, 4.0]
        assert pl.emission_band_nm == (450.0, 850.0) and pl.emission_detected
