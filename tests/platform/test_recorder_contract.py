"""The RunRecorder contract (flowqd.platform.recorder), one test class every implementation inherits.

pybaselines style: :class:`RecorderContract` holds the tests; each implementation's class only says how to make
one (``make_recorder``). The engine's resume guarantees rest on these behaviours: idempotent conditions and
spectra, ``next_seq``, completed conditions and per-condition spectrum counts, superseded spectra.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from flowqd.analysis.exciton import ExcitonResult
from flowqd.analysis.outcome import SpectrumOutcome
from flowqd.analysis.spectrum import Spectrum
from flowqd.devices.protocols import SpectrumReading
from flowqd.errors import FlowqdError
from flowqd.platform.recorder import MemoryRecorder, RunRecorder
from flowqd.store import Store

WL = np.linspace(400.0, 800.0, 41)
SETPOINTS = {"core_temperature_c": 200.0, "core_flow_ml_min": 0.1, "n_spectra": 3, "label": "c"}


def _reading(kind: str = "absorbance", peak_nm: float = 560.0) -> SpectrumReading:
    values = np.exp(-0.5 * ((WL - peak_nm) / 20.0) ** 2)
    spectrum = Spectrum(WL, values, kind="absorbance" if kind == "absorbance" else "intensity")
    return SpectrumReading(kind=kind, wavelength_nm=WL, counts=1000.0 * values, dark=None, reference=None,
                           spectrum=spectrum, integration_ms=10.0, averages=1, saturated=False, t_s=1.0)


def _outcome(peak_nm: float) -> SpectrumOutcome:
    return SpectrumOutcome("exciton", exciton=ExcitonResult(peak_nm, 1239.84 / peak_nm, "maximum", 1.0))


class RecorderContract:
    """Tests every :class:`~flowqd.platform.recorder.RunRecorder` must pass."""

    def make_recorder(self) -> Any:
        raise NotImplementedError  # each implementation's class says how

    @pytest.fixture
    def rec(self) -> Iterator[Any]:
        recorder = self.make_recorder()
        yield recorder
        close = getattr(recorder, "close", None)
        if close is not None:
            close()

    def _spectrum(self, rec: Any, run_id: int, seq: int, cid: int, kind: str = "absorbance",
                  peak_nm: float = 560.0) -> int:
        reading = _reading(kind, peak_nm)
        return rec.record_spectrum(run_id, seq, reading, reading.spectrum, _outcome(peak_nm), condition_id=cid,
                                   kind=kind, method="exciton")

    def test_is_a_run_recorder(self, rec):
        assert isinstance(rec, RunRecorder)

    def test_run_record_and_status(self, rec):
        run_id = rec.start_run("contract", platform_toml="p = 1\n", campaign_toml="c = 2\n", notes="n")
        run = rec.get_run(run_id)
        assert (run.id, run.name, run.status) == (run_id, "contract", "running")
        assert (run.platform_toml, run.campaign_toml) == ("p = 1\n", "c = 2\n")
        rec.set_run_status(run_id, "paused")
        assert rec.get_run(run_id).status == "paused"
        rec.finish_run(run_id, "tripped")
        assert rec.get_run(run_id).status == "tripped"
        assert rec.start_run("second") != run_id

    def test_unknown_run_is_an_error(self, rec):
        with pytest.raises(FlowqdError):
            rec.get_run(987)

    def test_conditions_are_idempotent_and_completed_ones_listed(self, rec):
        run_id = rec.start_run("r")
        c0 = rec.start_condition(run_id, 0, **SETPOINTS)
        c1 = rec.start_condition(run_id, 1, **{**SETPOINTS, "core_temperature_c": 220.0})
        assert c0 != c1 and rec.start_condition(run_id, 0, **SETPOINTS) == c0  # a resumed condition: its old id
        assert rec.completed_conditions(run_id) == []
        rec.finish_condition(c1, "completed")
        rec.finish_condition(c0, "failed")
        assert rec.completed_conditions(run_id) == [1]
        rec.finish_condition(c0, "completed")
        assert rec.completed_conditions(run_id) == [0, 1]

    def test_spectra_are_idempotent_on_seq_and_next_seq_follows_the_highest(self, rec):
        run_id = rec.start_run("r")
        cid = rec.start_condition(run_id, 0, **SETPOINTS)
        assert rec.next_seq(run_id) == 0
        first = self._spectrum(rec, run_id, 0, cid)
        assert isinstance(first, int) and rec.next_seq(run_id) == 1
        assert self._spectrum(rec, run_id, 0, cid, peak_nm=600.0) == first  # a re-sent spectrum: nothing new
        assert self._spectrum(rec, run_id, 5, cid) != first
        assert rec.next_seq(run_id) == 6
        other = rec.start_run("other")
        assert rec.next_seq(other) == 0  # per run

    def test_spectrum_counts_per_condition_and_kind(self, rec):
        run_id = rec.start_run("r")
        c0 = rec.start_condition(run_id, 0, **SETPOINTS)
        c1 = rec.start_condition(run_id, 1, **SETPOINTS)
        for seq, (cid, kind) in enumerate([(c0, "absorbance"), (c0, "pl"), (c0, "absorbance"), (c1, "absorbance")]):
            self._spectrum(rec, run_id, seq, cid, kind)
        assert rec.completed_spectra_count(run_id, 0) == 3
        assert rec.completed_spectra_count(run_id, 0, "absorbance") == 2
        assert rec.completed_spectra_count(run_id, 0, "pl") == 1
        assert rec.completed_spectra_count(run_id, 1) == 1 and rec.completed_spectra_count(run_id, 2) == 0

    def test_supersede_counts_the_conditions_spectra(self, rec):
        run_id = rec.start_run("r")
        c0 = rec.start_condition(run_id, 0, **SETPOINTS)
        c1 = rec.start_condition(run_id, 1, **SETPOINTS)
        for seq, cid in enumerate([c0, c0, c1]):
            self._spectrum(rec, run_id, seq, cid)
        assert rec.supersede_spectra(run_id, 0, "interrupted") == 2
        assert rec.supersede_spectra(run_id, 7, "nothing there") == 0
        assert rec.completed_spectra_count(run_id, 0) == 2  # kept (counted for resume), only not averaged

    def test_events_and_samples(self, rec):
        run_id = rec.start_run("r")
        a = rec.record_event(run_id, "run.started", "go", level="info", t_s=0.0, details={"n": 1})
        b = rec.record_event(run_id, "interlock.overpressure", "9 bar", level="error")
        assert isinstance(a, int) and isinstance(b, int) and a != b
        assert rec.record_sample(run_id, 1.0, {"hb1.temperature_c": 200.0, "line.pressure_bar": 2.0}) is None


class TestMemoryRecorder(RecorderContract):
    def make_recorder(self) -> MemoryRecorder:
        return MemoryRecorder()

    def test_keeps_the_typed_analysis(self):
        rec = self.make_recorder()
        run_id = rec.start_run("r")
        cid = rec.start_condition(run_id, 0, **SETPOINTS)
        self._spectrum(rec, run_id, 0, cid, peak_nm=571.0)
        assert rec.condition_peaks_nm(run_id, 0) == [571.0]


class TestStore(RecorderContract):
    def make_recorder(self) -> Store:
        return Store("sqlite://")

    def test_keeps_the_typed_analysis(self):
        with self.make_recorder() as rec:
            run_id = rec.start_run("r")
            cid = rec.start_condition(run_id, 0, **SETPOINTS)
            self._spectrum(rec, run_id, 0, cid, peak_nm=571.0)
            (a,) = rec.analyses(run_id)
            assert a.method == "exciton" and a.peak_wavelength_nm == 571.0
            assert a.payload["peak_method"] == "maximum"
