"""The platform's recorder protocol (:class:`flowqd.platform.recorder.RunRecorder`) on the :class:`Store`.

The functions here are the methods the run engine calls, in the engine's words (``start_run``, ``start_condition``,
``record_sample``, ``record_spectrum`` …), each a thin layer over the store's own methods; :class:`Store` binds them
as its methods (``Store.record_spectrum`` is :func:`record_spectrum`). :func:`record_spectrum` writes a raw
acquisition, its processed spectrum and its typed analysis (:class:`~flowqd.analysis.outcome.SpectrumOutcome`) in
one transaction (:meth:`Store.add_spectrum`). The rest of the protocol
(``get_run``, ``set_run_status``, ``finish_run``, ``next_seq``, ``completed_conditions``,
``completed_spectra_count``, ``supersede_spectra``) are the store's own methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from flowqd.errors import FlowqdError

if TYPE_CHECKING:
    from flowqd.analysis.outcome import SpectrumOutcome
    from flowqd.store.store import Store

__all__ = [
    "finish_condition", "record_event", "record_sample", "record_spectrum", "start_condition", "start_run",
]


def start_run(self: Store, name: str, **kwargs: Any) -> int:
    """Alias of :meth:`create_run` (status ``running``), for the platform's recorder."""
    return self.create_run(name, **kwargs)


def start_condition(self: Store, run_id: int, index: int, **setpoints: Any) -> int:
    """Add (or find) condition ``index`` and mark it ``acquiring``; return its id."""
    cid = self.add_condition(run_id, index, **setpoints)
    self.set_condition_status(cid, "acquiring")
    return cid


def finish_condition(self: Store, condition_id: int, status: str = "completed") -> None:
    """Mark a condition ``completed`` (or ``skipped``/``failed``) and stamp its end time."""
    self.set_condition_status(condition_id, status)


def record_sample(self: Store, run_id: int, t_s: float, readings: Mapping[str, float], role: str = "reading") -> None:
    """Append one point per channel of ``readings`` at time ``t_s``."""
    self.add_trace_points(run_id, [(t_s, ch, v, role) for ch, v in readings.items()])


def record_event(self: Store, run_id: int, kind: str, message: str = "", **kwargs: Any) -> int:
    """Alias of :meth:`add_event`."""
    return self.add_event(run_id, kind, message, **kwargs)


def record_spectrum(
    self: Store,
    run_id: int,
    seq: int,
    raw: Any,
    processed: Any = None,
    analysis: SpectrumOutcome | Mapping[str, Any] | None = None,
    *,
    condition_id: int | None = None,
    kind: str | None = None,
    method: str = "analysis",
    **fields: Any,
) -> int:
    """Store a raw acquisition, its processed spectrum and its analysis in one transaction; return the
    spectrum id.

    ``raw`` is a mapping or an object with ``wavelength_nm`` and ``counts`` (also read when present:
    ``dark``, ``reference``, ``integration_ms``, ``averages``, ``saturated``, ``acquired_at``, ``t_s``,
    ``kind``); ``processed`` an array on the raw axis or an object with ``wavelength_nm`` and ``values``
    (a :class:`flowqd.analysis.spectrum.Spectrum`); ``analysis`` a :class:`~flowqd.analysis.outcome.SpectrumOutcome`
    (or a payload, see :meth:`Store.add_analysis`). Re-recording a stored ``seq`` stores nothing new.
    """

    def get(obj: Any, name: str, default: Any = None) -> Any:
        if isinstance(obj, Mapping):
            return obj.get(name, default)
        return getattr(obj, name, default)

    args: dict[str, Any] = {"wavelength_nm": get(raw, "wavelength_nm")}
    for name in ("counts", "dark", "reference", "integration_ms", "acquired_at", "t_s", "averages",
                 "saturated"):
        value = get(raw, name)
        if value is not None:
            args[name] = value
    if args["wavelength_nm"] is None:
        raise FlowqdError(f"spectrum {seq}: the raw acquisition has no wavelength_nm")
    proc_kind = None
    if processed is not None:
        if get(processed, "values") is not None:
            args["processed"] = get(processed, "values")
            axis = np.asarray(get(processed, "wavelength_nm"), dtype=float)
            raw_axis = np.asarray(args["wavelength_nm"], dtype=float)
            if axis.shape != raw_axis.shape or not np.array_equal(axis, raw_axis):
                args["processed_wavelength_nm"] = axis
            proc_kind = get(processed, "kind")
        else:
            args["processed"] = processed
    spectrum_kind: str = kind or get(raw, "kind") or ("pl" if proc_kind == "intensity" else proc_kind) or "absorbance"
    args.update(fields)
    return self.add_spectrum(run_id, seq, kind=spectrum_kind, condition_id=condition_id, analysis=analysis,
                             method=method, **args)
