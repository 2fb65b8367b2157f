"""Incremental reads for live displays: what a run gained since the last look (rows after an id cursor).

A live page keeps, per run, the largest trace, event and analysis ids it has seen and asks for the rows after
them: each poll reads only the new rows (primary-key range scans), however long the run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from flowqd.store.models import AnalysisResult, Condition, Event, Run, Spectrum, Trace

__all__ = ["analyses_after", "events_after", "latest_spectrum", "newest_run_id", "traces_after"]


def traces_after(store: Any, run_id: int, after_id: int, limit: int = 5000) -> list[Trace]:
    """Trace points of ``run_id`` with id > ``after_id``, oldest first (at most ``limit``)."""
    with store._session() as s:
        q = select(Trace).where(Trace.run_id == run_id, Trace.id > after_id).order_by(Trace.id).limit(limit)
        return list(s.scalars(q))


def events_after(store: Any, run_id: int, after_id: int, limit: int = 500) -> list[Event]:
    """Events of ``run_id`` with id > ``after_id``, oldest first (at most ``limit``)."""
    with store._session() as s:
        q = select(Event).where(Event.run_id == run_id, Event.id > after_id).order_by(Event.id).limit(limit)
        return list(s.scalars(q))


def analyses_after(store: Any, run_id: int, after_id: int, limit: int = 1000) -> list[dict[str, Any]]:
    """Analysis results of ``run_id``'s spectra with id > ``after_id``: the scalar columns with the spectrum's
    seq, kind, time and condition index."""
    with store._session() as s:
        q = (select(AnalysisResult, Spectrum.seq, Spectrum.kind, Spectrum.t_s, Condition.index)
             .join(Spectrum, AnalysisResult.spectrum_id == Spectrum.id)
             .join(Condition, Spectrum.condition_id == Condition.id, isouter=True)
             .where(Spectrum.run_id == run_id, AnalysisResult.id > after_id)
             .order_by(AnalysisResult.id).limit(limit))
        return [{"id": a.id, "seq": seq, "kind": kind, "t_s": t_s, "condition_index": index,
                 "peak_wavelength_nm": a.peak_wavelength_nm, "x13_nm": a.x13_nm, "rsd": a.rsd,
                 "fwhm_nm": a.fwhm_nm, "plqy": a.plqy}
                for a, seq, kind, t_s, index in s.execute(q)]


def latest_spectrum(store: Any, run_id: int, kind: str) -> Spectrum | None:
    """The spectrum of ``kind`` with the largest seq in ``run_id`` (``None`` if there is none)."""
    with store._session() as s:
        q = select(Spectrum).where(Spectrum.run_id == run_id, Spectrum.kind == kind)
        return s.scalar(q.order_by(Spectrum.seq.desc()).limit(1))


def newest_run_id(store: Any) -> int | None:
    """The largest run id (``None`` for an empty database)."""
    with store._session() as s:
        return s.scalar(select(func.max(Run.id)))
