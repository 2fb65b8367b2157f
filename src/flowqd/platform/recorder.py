"""The run engine's narrow interface to persistence: :class:`RunRecorder`.

The engine never talks to a database directly; it calls these methods, in this order per run::

    start_run                      (or get_run + set_run_status("running") on --resume)
    record_event("run.started" …)
    for each condition not in completed_conditions(run_id):
        start_condition(run_id, index, **setpoints) -> condition_id
        record_sample(...)         every trace period (temperatures, pressure, flows, volumes)
        record_event(...)          phase changes, warnings, interlock trips
        record_spectrum(run_id, next_seq(run_id), raw, processed, analysis, condition_id=…) per acquisition
        finish_condition(condition_id, "completed" | "failed")
    finish_run(run_id, "completed" | "tripped" | "failed")

Contract an implementation must keep (the engine's resume guarantees rest on it):

* every method **commits before it returns** — a spectrum is durable before the next acquisition starts;
* ``record_spectrum`` is **idempotent** on ``(run_id, seq)``: recording a stored ``seq`` again stores nothing new
  and returns the existing id; ``next_seq`` is 1 + the highest stored ``seq`` of the run (0 for none);
* ``start_condition`` is idempotent on ``(run_id, index)`` (a resumed condition gets its old id back);
* ``completed_conditions`` lists the indices finished with status ``"completed"``;
* ``completed_spectra_count(run_id, index, kind)`` counts the stored spectra of condition ``index``.

:class:`flowqd.store.Store` implements this protocol; :class:`MemoryRecorder` is the in-memory reference
implementation used by the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from flowqd.analysis.outcome import SpectrumOutcome
from flowqd.errors import FlowqdError

__all__ = ["MemoryRecorder", "RunRecord", "RunRecorder"]


@runtime_checkable
class RunRecord(Protocol):
    """What :meth:`RunRecorder.get_run` returns (attributes)."""

    id: int
    name: str
    status: str
    platform_toml: str
    campaign_toml: str


@runtime_checkable
class RunRecorder(Protocol):
    """Persistence of one platform run (see the module docstring for the contract)."""

    def start_run(self, name: str, **kwargs: Any) -> int:
        """Create a run and return its id.

        Keyword arguments used by the engine: ``platform_toml``, ``campaign_toml`` (the config texts, for
        provenance and resume) and ``notes``.
        """
        ...

    def get_run(self, run_id: int) -> RunRecord:
        """The run's record (status and config texts); unknown id → :class:`~flowqd.errors.FlowqdError`."""
        ...

    def set_run_status(self, run_id: int, status: str) -> None:
        """Set the status: ``running``, ``paused``, ``tripped``, ``completed``, ``failed`` or ``interrupted``."""
        ...

    def start_condition(self, run_id: int, index: int, **setpoints: Any) -> int:
        """Add (or find) condition ``index`` and mark it in progress; return its id.

        ``setpoints``: ``core_temperature_c``, ``core_flow_ml_min``, ``core_units``, ``shell``,
        ``shell_temperature_c``, ``ddt_flow_ml_min``, ``n_spectra``, ``label``, ``residence_time_s``.
        """
        ...

    def finish_condition(self, condition_id: int, status: str = "completed") -> None:
        """Mark a condition ``completed`` or ``failed``."""
        ...

    def record_sample(self, run_id: int, t_s: float, readings: Mapping[str, float], role: str = "reading") -> None:
        """Append one time-series point per channel (``role``: ``reading`` or ``setpoint``)."""
        ...

    def record_event(self, run_id: int, kind: str, message: str = "", **kwargs: Any) -> int:
        """Append a structured event; keyword arguments: ``level``, ``t_s``, ``details`` (a mapping)."""
        ...

    def record_spectrum(self, run_id: int, seq: int, raw: Any, processed: Any = None,
                        analysis: SpectrumOutcome | None = None, *, condition_id: int | None = None,
                        kind: str | None = None, method: str = "analysis") -> int:
        """Store one acquisition (raw counts, processed spectrum, typed analysis) durably; return the spectrum id.

        ``raw`` is a :class:`~flowqd.devices.protocols.SpectrumReading` (``wavelength_nm``, ``counts``, ``dark``,
        ``reference``, ``integration_ms``, ``averages``, ``saturated``, ``t_s``); ``processed`` its
        :class:`~flowqd.analysis.spectrum.Spectrum`; ``analysis`` its
        :class:`~flowqd.analysis.outcome.SpectrumOutcome` (stored with its scalars and payload); idempotent on
        ``(run_id, seq)``.
        """
        ...

    def next_seq(self, run_id: int) -> int:
        """The ``seq`` of the run's next spectrum."""
        ...

    def completed_conditions(self, run_id: int) -> list[int]:
        """Indices of the run's completed conditions."""
        ...

    def completed_spectra_count(self, run_id: int, condition_index: int, kind: str | None = None) -> int:
        """Spectra stored for condition ``condition_index`` (optionally of one kind)."""
        ...

    def finish_run(self, run_id: int, status: str = "completed") -> None:
        """Mark the run finished (``completed``, ``tripped`` or ``failed``)."""
        ...

    def supersede_spectra(self, run_id: int, condition_index: int, reason: str) -> int:
        """Mark the stored spectra of condition ``condition_index`` superseded (kept, not averaged); return how many."""
        ...


@dataclass
class _Run:
    id: int
    name: str
    status: str
    platform_toml: str
    campaign_toml: str
    notes: str = ""


@dataclass
class MemoryRecorder:
    """In-memory :class:`RunRecorder` (tests, dry runs). Keeps everything in plain lists and dicts."""

    runs: dict[int, _Run] = field(default_factory=dict)
    conditions: dict[int, dict[str, Any]] = field(default_factory=dict)
    samples: list[tuple[int, float, str, float, str]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    spectra: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)

    def start_run(self, name: str, **kwargs: Any) -> int:
        """Create a run."""
        run_id = len(self.runs) + 1
        self.runs[run_id] = _Run(run_id, name, "running", kwargs.get("platform_toml", ""),
                                 kwargs.get("campaign_toml", ""), kwargs.get("notes", ""))
        return run_id

    def get_run(self, run_id: int) -> _Run:
        """The run."""
        if run_id not in self.runs:
            raise FlowqdError(f"no run with id {run_id}")
        return self.runs[run_id]

    def set_run_status(self, run_id: int, status: str) -> None:
        """Set the status."""
        self.get_run(run_id).status = status

    def start_condition(self, run_id: int, index: int, **setpoints: Any) -> int:
        """Add or find a condition."""
        self.get_run(run_id)
        for cid, c in self.conditions.items():
            if c["run_id"] == run_id and c["index"] == index:
                c["status"] = "acquiring"
                return cid
        cid = len(self.conditions) + 1
        self.conditions[cid] = {"run_id": run_id, "index": index, "status": "acquiring", **setpoints}
        return cid

    def finish_condition(self, condition_id: int, status: str = "completed") -> None:
        """Finish a condition."""
        self.conditions[condition_id]["status"] = status

    def record_sample(self, run_id: int, t_s: float, readings: Mapping[str, float], role: str = "reading") -> None:
        """Append samples."""
        for ch, v in readings.items():
            self.samples.append((run_id, float(t_s), ch, float(v), role))

    def record_event(self, run_id: int, kind: str, message: str = "", **kwargs: Any) -> int:
        """Append an event."""
        self.events.append({"run_id": run_id, "kind": kind, "message": message, **kwargs})
        return len(self.events)

    def record_spectrum(self, run_id: int, seq: int, raw: Any, processed: Any = None,
                        analysis: SpectrumOutcome | None = None, *, condition_id: int | None = None,
                        kind: str | None = None, method: str = "analysis") -> int:
        """Store a spectrum (idempotent on ``(run_id, seq)``)."""
        key = (run_id, int(seq))
        if key not in self.spectra:
            self.spectra[key] = {"id": len(self.spectra) + 1, "condition_id": condition_id,
                                 "kind": kind or getattr(raw, "kind", "absorbance"), "raw": raw,
                                 "processed": processed, "analysis": analysis, "method": method}
        return int(self.spectra[key]["id"])

    def next_seq(self, run_id: int) -> int:
        """1 + the highest stored seq."""
        seqs = [s for (r, s) in self.spectra if r == run_id]
        return max(seqs) + 1 if seqs else 0

    def completed_conditions(self, run_id: int) -> list[int]:
        """Indices of completed conditions."""
        return sorted(c["index"] for c in self.conditions.values()
                      if c["run_id"] == run_id and c["status"] == "completed")

    def completed_spectra_count(self, run_id: int, condition_index: int, kind: str | None = None) -> int:
        """Spectra of one condition."""
        cids = {cid for cid, c in self.conditions.items() if c["run_id"] == run_id and c["index"] == condition_index}
        return sum(1 for (r, _), s in self.spectra.items()
                   if r == run_id and s["condition_id"] in cids and (kind is None or s["kind"] == kind))

    def finish_run(self, run_id: int, status: str = "completed") -> None:
        """Finish the run."""
        self.get_run(run_id).status = status

    def supersede_spectra(self, run_id: int, condition_index: int, reason: str) -> int:
        """Mark a condition's stored spectra superseded."""
        cids = {cid for cid, c in self.conditions.items() if c["run_id"] == run_id and c["index"] == condition_index}
        marked = [s for (r, _), s in self.spectra.items() if r == run_id and s["condition_id"] in cids]
        for s in marked:
            s["superseded"] = reason
        return len(marked)

    # -- helpers for tests -----------------------------------------------------------------------------------
    def condition_peaks_nm(self, run_id: int, condition_index: int) -> list[float]:
        """Peak wavelengths of a condition's absorbance spectra, in seq order."""
        cids = {cid for cid, c in self.conditions.items() if c["run_id"] == run_id and c["index"] == condition_index}
        out = []
        for (r, _), s in sorted(self.spectra.items()):
            if r == run_id and s["condition_id"] in cids and s["kind"] == "absorbance":
                v = None if s["analysis"] is None else s["analysis"].peak_wavelength_nm
                if v is not None:
                    out.append(float(v))
        return out
