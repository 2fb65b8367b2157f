"""The :class:`Store`: runs, conditions, traces, events, spectra and analysis results in one SQL database.

Durability: every write method runs in its own transaction and commits before it returns, so an acquired
spectrum is on disk before the next acquisition starts; a ``kill -9`` loses at most the one in flight.
:meth:`Store.record_spectrum` writes a spectrum *and* its analysis in one transaction: both or neither.
Storage faults (disk full, read-only file or directory, a lost server) raise :class:`~flowqd.errors.StorageError`
with one line naming the database (password masked, :func:`~flowqd.store.database.mask_url`) and the cause.
A SQLite file opened for writing keeps a small ballast file beside it (``NAME-reserve``, 256 KiB): on a full disk
:meth:`Store.release_reserve` deletes it so the engine can still mark the run ``interrupted``; it is re-created
the next time the database is opened with room to spare.
Idempotency (for resume): ``(run_id, seq)`` identifies a spectrum, ``(run_id, index)`` a condition and
``(spectrum_id, method)`` an analysis result; adding one that exists is a no-op that returns the existing id.
Analyses are stored typed: :class:`~flowqd.analysis.outcome.SpectrumOutcome` gives the scalar columns and the JSON
payload; a payload given directly is read with one key per column (payload schema 1), never guessed.
The recorder adapter lives in :mod:`flowqd.store.recorder`, the results table in :mod:`flowqd.store.results`.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import time
import uuid as uuid_mod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from flowqd._json import jsonable
from flowqd.analysis.outcome import SpectrumOutcome, finite_or_none, scalars_from_payload
from flowqd.errors import FlowqdError
from flowqd.store import recorder
from flowqd.store.database import DEFAULT_URL, make_engine, mask_url, parse_url, sqlite_path, storage_error
from flowqd.store.models import (
    CONDITION_STATUSES,
    RUN_STATUSES,
    SCALAR_COLUMNS,
    SCHEMA_VERSION,
    SPECTRUM_KINDS,
    TRACE_ROLES,
    AnalysisResult,
    Base,
    Condition,
    Event,
    Run,
    SchemaVersion,
    Spectrum,
    Trace,
    pack_array,
    utcnow,
)
from flowqd.store.results import ResultRow, results_table

__all__ = ["RESERVE_BYTES", "Store", "sha256_text"]

#: Size of the ballast file kept beside a SQLite database (room to record an interruption on a full disk).
RESERVE_BYTES = 256 * 1024


def sha256_text(text: str) -> str:
    """Hex SHA-256 of ``text`` encoded as UTF-8 (empty text → empty string)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else ""


class Store:
    """The run database (SQLite by default, PostgreSQL by URL). Owns its engine; close it (or use ``with``).

    The recorder-style methods the platform engine calls are the functions of :mod:`flowqd.store.recorder`; the
    results table is :func:`flowqd.store.results.results_table`.

    Parameters
    ----------
    url : str
        SQLAlchemy URL: ``sqlite:///PATH`` (parent directories are created), ``sqlite://`` (in memory) or
        ``postgresql+psycopg://USER@HOST/DB``.
    create : bool
        If false, a missing SQLite file raises :class:`~flowqd.errors.FlowqdError` (read-only commands).
    synchronous : str
        SQLite ``synchronous`` PRAGMA (``"NORMAL"``: survives a process kill; ``"FULL"``: also power loss).

    Examples
    --------
    >>> with Store("sqlite://") as store:
    ...     run_id = store.create_run("demo")
    ...     c = store.add_condition(run_id, 0, core_temperature_c=200.0, core_flow_ml_min=0.1)
    ...     s = store.add_spectrum(run_id, 0, condition_id=c, kind="absorbance",
    ...                            wavelength_nm=[400, 500, 600], processed=[0.3, 0.2, 0.1])
    ...     store.add_spectrum(run_id, 0, condition_id=c, kind="absorbance",
    ...                        wavelength_nm=[400, 500, 600], processed=[0.3, 0.2, 0.1]) == s
    True
    """

    def __init__(self, url: str = DEFAULT_URL, *, create: bool = True, synchronous: str = "NORMAL") -> None:
        self._parsed = parse_url(url)
        #: The URL as given, password masked (safe to print; the engine keeps the real one).
        self.url = mask_url(self._parsed)
        try:
            self.engine = make_engine(self._parsed, synchronous=synchronous, create=create)
        except OSError as exc:  # the SQLite file's folder cannot be created (read-only, full)
            raise storage_error(exc, self.url) from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        try:
            self._init_schema(create=create)
        except (OperationalError, OSError) as exc:
            self.engine.dispose()
            raise storage_error(exc, self.url) from None
        path = sqlite_path(self._parsed)
        self._reserve = None if path is None or not create else path.with_name(path.name + "-reserve")
        if self._reserve is not None and not self._reserve.exists():
            try:
                self._reserve.write_bytes(b"\0" * RESERVE_BYTES)
            except OSError:  # no room (or read-only): nothing to release later
                with contextlib.suppress(OSError):
                    self._reserve.unlink(missing_ok=True)

    def release_reserve(self) -> bool:
        """Delete the ballast file (see the module docstring); True if there was one to free."""
        if self._reserve is None or not self._reserve.exists():
            return False
        try:
            self._reserve.unlink(missing_ok=True)
        except OSError:  # a read-only file system: nothing to gain
            return False
        return True

    # ------------------------------------------------------------------ plumbing
    def _init_schema(self, *, create: bool) -> None:
        has_tables = inspect(self.engine).has_table("schema_version")
        if not has_tables and not create:
            self.engine.dispose()
            raise FlowqdError(f"{self.url} is not a flowqd database (no schema_version table)")
        self._create_all_tolerating_peers()
        try:
            with self._session() as s:
                version = s.scalar(select(func.max(SchemaVersion.version)))
                if version is None:
                    s.add(SchemaVersion(version=SCHEMA_VERSION))
        except IntegrityError:  # another process recorded the version between our SELECT and INSERT
            pass
        with self._sessions() as s:
            version = s.scalar(select(func.max(SchemaVersion.version)))
            if version is not None and version > SCHEMA_VERSION:
                self.engine.dispose()
                raise FlowqdError(
                    f"{self.url} has schema version {version}, newer than this flowqd ({SCHEMA_VERSION}); "
                    "upgrade flowqd"
                )

    def _create_all_tolerating_peers(self, attempts: int = 20) -> None:
        """``create_all``, tolerating another process that creates the same tables at the same moment.

        ``create_all`` checks for each table and then creates it; a second process (a run starting while a
        report or monitor opens the same database) can create a table between the check and the CREATE, which
        fails with "already exists". Retrying re-checks, finds the peer's table and goes on.
        """
        for attempt in range(attempts):
            try:
                Base.metadata.create_all(self.engine)
                return
            except (OperationalError, ProgrammingError, IntegrityError) as exc:
                text = str(exc.orig if getattr(exc, "orig", None) is not None else exc).lower()
                peer_race = "already exists" in text or "duplicate" in text or "locked" in text
                if not peer_race or attempt == attempts - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A session whose transaction commits on leaving the block (rolls back on error); storage faults
        become one-line :class:`~flowqd.errors.StorageError`."""
        try:
            with self._sessions() as session, session.begin():
                yield session
        except (OperationalError, OSError) as exc:
            raise storage_error(exc, self.url) from None

    @property
    def schema_version(self) -> int:
        """Schema version recorded in the database."""
        with self._sessions() as s:
            return int(s.scalar(select(func.max(SchemaVersion.version))) or 0)

    @property
    def journal_mode(self) -> str:
        """SQLite journal mode (``"wal"`` for files); ``""`` on other back ends."""
        if self._parsed.get_backend_name() != "sqlite":
            return ""
        with self.engine.connect() as conn:
            return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower()

    def close(self) -> None:
        """Dispose of the engine's connections (a WAL checkpoint happens when the last one closes)."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def lease(self, run_id: int, **kwargs: Any) -> Any:
        """A :class:`~flowqd.store.lease.RunLease` handle on ``run_id`` (``acquire``/``renew``/``release``/
        ``holder``); keyword arguments: ``ttl_s``, ``renew_every_s``, ``me``."""
        from flowqd.store.lease import RunLease

        return RunLease(self, run_id, **kwargs)

    def _require_run(self, s: Session, run_id: int) -> Run:
        run = s.get(Run, run_id)
        if run is None:
            raise FlowqdError(f"no run with id {run_id} in {self.url}")
        return run

    def _insert_ignore(self, s: Session, model: type[Base], values: dict[str, Any], keys: Sequence[str]) -> int:
        """INSERT … ON CONFLICT (keys) DO NOTHING; return the id of the new or the existing row."""
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        stmt = insert(model).values(**values).on_conflict_do_nothing(index_elements=list(keys))
        s.execute(stmt)
        table = Base.metadata.tables[model.__tablename__]
        where = [table.c[k] == values[k] for k in keys]
        return int(s.execute(select(table.c.id).where(*where)).scalar_one())

    # ------------------------------------------------------------------ runs
    def create_run(
        self,
        name: str,
        *,
        platform_toml: str = "",
        campaign_toml: str = "",
        notes: str = "",
        status: str = "running",
        uuid: str | None = None,
        started_at: datetime | None = None,
        host: str | None = None,
        flowqd_version: str | None = None,
    ) -> int:
        """Create a run with its provenance (config texts and their SHA-256) and return its id."""
        from flowqd import __version__

        _check_choice("run status", status, RUN_STATUSES)
        run = Run(
            uuid=uuid or str(uuid_mod.uuid4()), name=name, status=status, started_at=started_at or utcnow(),
            flowqd_version=flowqd_version or __version__, platform_toml=platform_toml,
            platform_sha256=sha256_text(platform_toml), campaign_toml=campaign_toml,
            campaign_sha256=sha256_text(campaign_toml), host=socket.gethostname() if host is None else host,
            notes=notes,
        )
        try:
            with self._session() as s:
                s.add(run)
                s.flush()
                return run.id
        except IntegrityError as exc:
            raise FlowqdError(f"a run with uuid {run.uuid} already exists in {self.url}") from exc

    def set_run_status(self, run_id: int, status: str, *, ended: bool | None = None) -> None:
        """Set a run's status; ``ended`` (default: status is completed/failed/tripped) stamps ``ended_at``."""
        _check_choice("run status", status, RUN_STATUSES)
        if ended is None:
            ended = status in ("completed", "failed", "tripped")
        with self._session() as s:
            run = self._require_run(s, run_id)
            run.status = status
            run.ended_at = utcnow() if ended else None

    def finish_run(self, run_id: int, status: str = "completed") -> None:
        """Mark a run finished (``completed``, ``failed`` or ``tripped``) and stamp its end time."""
        self.set_run_status(run_id, status, ended=True)

    def get_run(self, run_id: int) -> Run:
        """The run with this id (detached ORM object); unknown id → FlowqdError."""
        with self._session() as s:
            return self._require_run(s, run_id)

    def list_runs(self) -> list[Run]:
        """All runs, newest first."""
        with self._session() as s:
            return list(s.scalars(select(Run).order_by(Run.started_at.desc(), Run.id.desc())))

    def resolve_run(self, ref: str | int) -> int:
        """A run id from an integer id, a UUID (or a unique prefix of ≥ 4 characters) or a unique name."""
        text = str(ref).strip()
        with self._session() as s:
            if text.isascii() and text.isdigit() and int(text) < 2**63 and s.get(Run, int(text)) is not None:
                return int(text)
            ids = list(s.scalars(select(Run.id).where(Run.uuid == text)))
            if not ids and len(text) >= 4:
                ids = list(s.scalars(select(Run.id).where(Run.uuid.startswith(text, autoescape=True))))
            if not ids:
                ids = list(s.scalars(select(Run.id).where(Run.name == text)))
        if len(ids) == 1:
            return ids[0]
        if len(ids) > 1:
            raise FlowqdError(f"run {text!r} is ambiguous ({len(ids)} runs match) in {self.url}")
        raise FlowqdError(f"no run {text!r} in {self.url} (see `flowqd runs`)")

    # ------------------------------------------------------------------ conditions
    def add_condition(
        self,
        run_id: int,
        index: int,
        *,
        core_temperature_c: float,
        core_flow_ml_min: float,
        core_units: int = 1,
        shell: bool = False,
        shell_temperature_c: float | None = None,
        ddt_flow_ml_min: float | None = None,
        residence_time_s: float | None = None,
        n_spectra: int = 1,
        label: str = "",
        status: str = "pending",
        extra: Mapping[str, Any] | None = None,
    ) -> int:
        """Add the condition ``index`` of a run and return its id (existing ``(run, index)`` → its id)."""
        _check_choice("condition status", status, CONDITION_STATUSES)
        values = {
            "run_id": run_id, "index": int(index), "label": label, "core_temperature_c": float(core_temperature_c),
            "core_flow_ml_min": float(core_flow_ml_min), "core_units": int(core_units), "shell": bool(shell),
            "shell_temperature_c": finite_or_none(shell_temperature_c),
            "ddt_flow_ml_min": finite_or_none(ddt_flow_ml_min), "residence_time_s": finite_or_none(residence_time_s),
            "n_spectra": int(n_spectra), "status": status,
            "extra": jsonable(dict(extra or {})),
        }
        with self._session() as s:
            self._require_run(s, run_id)
            return self._insert_ignore(s, Condition, values, ("run_id", "index"))

    def set_condition_status(self, condition_id: int, status: str) -> None:
        """Set a condition's status; ``acquiring``/``equilibrating`` stamp the start, final states the end."""
        _check_choice("condition status", status, CONDITION_STATUSES)
        with self._session() as s:
            cond = s.get(Condition, condition_id)
            if cond is None:
                raise FlowqdError(f"no condition with id {condition_id} in {self.url}")
            cond.status = status
            now = utcnow()
            if status in ("equilibrating", "acquiring") and cond.started_at is None:
                cond.started_at = now
            if status in ("completed", "skipped", "failed"):
                cond.ended_at = now
                if cond.started_at is None:
                    cond.started_at = now

    def conditions(self, run_id: int) -> list[Condition]:
        """The run's conditions in campaign order."""
        with self._session() as s:
            self._require_run(s, run_id)
            return list(s.scalars(select(Condition).where(Condition.run_id == run_id).order_by(Condition.index)))

    def condition_id(self, run_id: int, index: int) -> int | None:
        """Id of condition ``index`` of a run, or ``None``."""
        with self._session() as s:
            return s.scalar(select(Condition.id).where(Condition.run_id == run_id, Condition.index == index))

    # ------------------------------------------------------------------ traces and events
    def add_trace_points(
        self, run_id: int, rows: Iterable[tuple[float, str, float] | tuple[float, str, float, str] | Mapping[str, Any]]
    ) -> int:
        """Append time-series points and return how many were written.

        ``rows`` are ``(t_s, channel, value)`` or ``(t_s, channel, value, role)`` tuples or mappings with those
        keys; ``role`` is ``"reading"`` (default) or ``"setpoint"``.
        """
        records = []
        for row in rows:
            if isinstance(row, Mapping):
                t_s, channel, value, role = row["t_s"], row["channel"], row["value"], row.get("role", "reading")
            else:
                t_s, channel, value, *rest = row
                role = rest[0] if rest else "reading"
            _check_choice("trace role", role, TRACE_ROLES)
            records.append({"run_id": run_id, "t_s": float(t_s), "channel": str(channel),
                            "value": float(value), "role": role})
        if not records:
            return 0
        with self._session() as s:
            self._require_run(s, run_id)
            s.execute(Base.metadata.tables[Trace.__tablename__].insert(), records)
        return len(records)

    def traces(self, run_id: int, channel: str | None = None, role: str | None = None) -> list[Trace]:
        """Trace points of a run (optionally one channel and/or role), ordered by channel then time."""
        with self._session() as s:
            self._require_run(s, run_id)
            q = select(Trace).where(Trace.run_id == run_id,
                                    *_equal_if_given((Trace.channel, channel), (Trace.role, role)))
            return list(s.scalars(q.order_by(Trace.channel, Trace.t_s, Trace.id)))

    def channels(self, run_id: int) -> list[str]:
        """Names of the trace channels recorded for a run."""
        with self._session() as s:
            return list(s.scalars(select(Trace.channel).where(Trace.run_id == run_id).distinct()
                                  .order_by(Trace.channel)))

    def add_event(
        self,
        run_id: int,
        kind: str,
        message: str = "",
        *,
        level: str = "info",
        t_s: float | None = None,
        at: datetime | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Record an event (``kind`` such as ``"interlock.overpressure"``) and return its id."""
        with self._session() as s:
            self._require_run(s, run_id)
            ev = Event(run_id=run_id, kind=kind, message=message, level=level, t_s=finite_or_none(t_s),
                       at=at or utcnow(), details=jsonable(dict(details or {})))
            s.add(ev)
            s.flush()
            return ev.id

    def events(self, run_id: int, kind_prefix: str | None = None) -> list[Event]:
        """Events of a run in time order (optionally those whose kind starts with ``kind_prefix``)."""
        with self._session() as s:
            self._require_run(s, run_id)
            q = select(Event).where(Event.run_id == run_id)
            if kind_prefix:
                q = q.where(Event.kind.startswith(kind_prefix, autoescape=True))
            return list(s.scalars(q.order_by(Event.at, Event.id)))

    # ------------------------------------------------------------------ spectra
    def add_spectrum(
        self,
        run_id: int,
        seq: int,
        *,
        kind: str,
        wavelength_nm: Any,
        condition_id: int | None = None,
        counts: Any = None,
        dark: Any = None,
        reference: Any = None,
        processed: Any = None,
        processed_wavelength_nm: Any = None,
        acquired_at: datetime | None = None,
        t_s: float | None = None,
        integration_ms: float | None = None,
        averages: int = 1,
        saturated: bool = False,
        meta: Mapping[str, Any] | None = None,
        analysis: SpectrumOutcome | Mapping[str, Any] | None = None,
        method: str = "analysis",
    ) -> int:
        """Store one spectrum (and, given ``analysis``, its analysis as ``method``) and commit at once; return its id.

        ``seq`` numbers the spectra of a run (0, 1, 2, …). Adding a ``(run_id, seq)`` that exists is a no-op
        that returns the existing id, so a resumed run can re-send the spectrum that was in flight.
        ``counts``/``dark``/``reference`` are on ``wavelength_nm``; ``processed`` too unless
        ``processed_wavelength_nm`` is given. Spectrum and analysis are written in one transaction: both or
        neither (a crash between them cannot leave a spectrum unanalysed); an empty mapping stores no analysis.
        """
        values = self._spectrum_values(run_id, seq, kind=kind, wavelength_nm=wavelength_nm, condition_id=condition_id,
                                       counts=counts, dark=dark, reference=reference, processed=processed,
                                       processed_wavelength_nm=processed_wavelength_nm, acquired_at=acquired_at,
                                       t_s=t_s, integration_ms=integration_ms, averages=averages,
                                       saturated=saturated, meta=meta)
        with self._session() as s:
            sid = self._insert_spectrum(s, values)
            if analysis:  # a SpectrumOutcome is always true; an empty mapping stores no analysis
                self._insert_analysis(s, self._analysis_values(sid, method, analysis, {}))
            return sid

    def _insert_spectrum(self, s: Session, values: dict[str, Any]) -> int:
        run_id, condition_id = values["run_id"], values["condition_id"]
        self._require_run(s, run_id)
        if condition_id is not None:
            cond_run = s.scalar(select(Condition.run_id).where(Condition.id == condition_id))
            if cond_run != run_id:
                raise FlowqdError(f"condition {condition_id} does not belong to run {run_id}")
        return self._insert_ignore(s, Spectrum, values, ("run_id", "seq"))

    @staticmethod
    def _spectrum_values(run_id: int, seq: int, *, kind: str, wavelength_nm: Any, condition_id: int | None,
                         counts: Any, dark: Any, reference: Any, processed: Any, processed_wavelength_nm: Any,
                         acquired_at: datetime | None, t_s: float | None, integration_ms: float | None,
                         averages: int, saturated: bool, meta: Mapping[str, Any] | None) -> dict[str, Any]:
        _check_choice("spectrum kind", kind, SPECTRUM_KINDS)
        wl = np.asarray(wavelength_nm, dtype=float)
        if wl.ndim != 1 or wl.size == 0:
            raise FlowqdError(f"spectrum {seq}: wavelength must be a non-empty 1-D array (got shape {wl.shape})")
        values: dict[str, Any] = {
            "run_id": run_id, "condition_id": condition_id, "seq": int(seq), "kind": kind,
            "acquired_at": acquired_at or utcnow(), "t_s": finite_or_none(t_s),
            "integration_ms": finite_or_none(integration_ms), "averages": int(averages), "saturated": bool(saturated),
            "n_points": int(wl.size), "wavelength_npy": pack_array(wl, "<f8"), "meta": jsonable(dict(meta or {})),
            "processed_wavelength_npy": None,
        }
        axis_p = wl if processed_wavelength_nm is None else np.asarray(processed_wavelength_nm, dtype=float)
        if processed_wavelength_nm is not None:
            values["processed_wavelength_npy"] = pack_array(axis_p, "<f8")
        for name, arr, axis, dtype in (("counts", counts, wl, "<f4"), ("dark", dark, wl, "<f4"),
                                       ("reference", reference, wl, "<f4"), ("processed", processed, axis_p, "<f8")):
            if arr is None:
                values[f"{name}_npy"] = None
                continue
            a = np.asarray(arr, dtype=float)
            if a.shape != axis.shape:
                raise FlowqdError(f"spectrum {seq}: {name} has shape {a.shape}, its wavelength axis {axis.shape}")
            values[f"{name}_npy"] = pack_array(a, dtype)
        return values

    def spectra(
        self, run_id: int, condition_id: int | None = None, kind: str | None = None, seq: int | None = None
    ) -> list[Spectrum]:
        """Spectra of a run (optionally of one condition, kind and/or ``seq``) in ``seq`` order, arrays included."""
        with self._session() as s:
            self._require_run(s, run_id)
            q = select(Spectrum).where(Spectrum.run_id == run_id, *_equal_if_given(
                (Spectrum.condition_id, condition_id), (Spectrum.kind, kind), (Spectrum.seq, seq)))
            return list(s.scalars(q.order_by(Spectrum.seq)))

    def get_spectrum(self, spectrum_id: int) -> Spectrum:
        """One spectrum by id."""
        with self._session() as s:
            spec = s.get(Spectrum, spectrum_id)
            if spec is None:
                raise FlowqdError(f"no spectrum with id {spectrum_id} in {self.url}")
            return spec

    def run_counts(self) -> dict[int, tuple[int, int]]:
        """``{run id: (conditions, spectra)}`` for every run, in two grouped queries (run listings)."""
        with self._session() as s:
            conds = dict(s.execute(select(Condition.run_id, func.count()).group_by(Condition.run_id)).all())
            spectra = dict(s.execute(select(Spectrum.run_id, func.count()).group_by(Spectrum.run_id)).all())
            runs = s.scalars(select(Run.id))
            return {r: (int(conds.get(r, 0)), int(spectra.get(r, 0))) for r in runs}

    def spectrum_seqs(self, run_id: int) -> list[int]:
        """The ``seq`` numbers stored for a run, ascending."""
        with self._session() as s:
            return list(s.scalars(select(Spectrum.seq).where(Spectrum.run_id == run_id).order_by(Spectrum.seq)))

    def next_seq(self, run_id: int) -> int:
        """The ``seq`` the next spectrum of a run should get (1 + the highest stored, or 0)."""
        with self._session() as s:
            top = s.scalar(select(func.max(Spectrum.seq)).where(Spectrum.run_id == run_id))
        return 0 if top is None else int(top) + 1

    def completed_spectra_count(self, run_id: int, condition_index: int, kind: str | None = None) -> int:
        """How many spectra (optionally of one kind) are stored for condition ``condition_index`` (for resume)."""
        with self._session() as s:
            q = (select(func.count(Spectrum.id)).join(Condition, Spectrum.condition_id == Condition.id)
                 .where(Spectrum.run_id == run_id, Condition.index == condition_index,
                        *_equal_if_given((Spectrum.kind, kind))))
            return int(s.scalar(q) or 0)

    def supersede_spectra(self, run_id: int, condition_index: int, reason: str) -> int:
        """Mark the stored spectra of condition ``condition_index`` superseded (``meta["superseded"] = reason``):
        kept, shown as such, left out of the condition's means (:meth:`results_table`). Returns how many."""
        with self._session() as s:
            specs = list(s.scalars(select(Spectrum).join(Condition, Spectrum.condition_id == Condition.id)
                                   .where(Spectrum.run_id == run_id, Condition.index == condition_index)))
            for spec in specs:
                spec.meta = {**(spec.meta or {}), "superseded": reason}
            return len(specs)

    def completed_conditions(self, run_id: int) -> list[int]:
        """Indices of the run's conditions whose status is ``completed`` (for resume)."""
        with self._session() as s:
            return list(s.scalars(select(Condition.index).where(
                Condition.run_id == run_id, Condition.status == "completed").order_by(Condition.index)))

    # ------------------------------------------------------------------ analysis
    def add_analysis(
        self, spectrum_id: int, method: str, result: SpectrumOutcome | Mapping[str, Any] | Any,
        **scalars: float | None,
    ) -> int:
        """Store an analysis result of a spectrum; return its id (existing ``(spectrum, method)`` → its id).

        ``result`` is a :class:`~flowqd.analysis.outcome.SpectrumOutcome` (its typed scalars and its payload are
        stored) or a payload (a mapping or a dataclass) in the payload schema of :mod:`flowqd.analysis.outcome`,
        whose scalars are read from one key each (:data:`~flowqd.analysis.outcome.PAYLOAD_SCALAR_KEYS`). Keyword
        arguments named like the scalar columns override them.
        """
        values = self._analysis_values(spectrum_id, method, result, scalars)
        with self._session() as s:
            return self._insert_analysis(s, values)

    def _insert_analysis(self, s: Session, values: dict[str, Any]) -> int:
        if s.get(Spectrum, values["spectrum_id"]) is None:
            raise FlowqdError(f"no spectrum with id {values['spectrum_id']} in {self.url}")
        return self._insert_ignore(s, AnalysisResult, values, ("spectrum_id", "method"))

    @staticmethod
    def _analysis_values(spectrum_id: int, method: str, result: SpectrumOutcome | Mapping[str, Any] | Any,
                         scalars: Mapping[str, float | None]) -> dict[str, Any]:
        unknown = set(scalars) - set(SCALAR_COLUMNS)
        if unknown:
            raise FlowqdError(f"unknown analysis scalar(s) {sorted(unknown)}; known: {', '.join(SCALAR_COLUMNS)}")
        if isinstance(result, SpectrumOutcome):
            data: Any = jsonable(result.to_payload())
            found = result.scalars()
        else:
            data = jsonable(result)
            if not isinstance(data, dict):
                data = {"value": data}
            found = scalars_from_payload(data)
        values: dict[str, Any] = {"spectrum_id": spectrum_id, "method": method, "payload": data,
                                  "created_at": utcnow()}
        values.update(found)
        values.update({k: finite_or_none(v) for k, v in scalars.items()})
        return values

    def analyses(self, run_id: int, spectrum_id: int | None = None) -> list[AnalysisResult]:
        """Analysis results of a run's spectra (or of one spectrum), in spectrum order."""
        with self._session() as s:
            q = (select(AnalysisResult).join(Spectrum, AnalysisResult.spectrum_id == Spectrum.id)
                 .where(Spectrum.run_id == run_id, *_equal_if_given((AnalysisResult.spectrum_id, spectrum_id))))
            return list(s.scalars(q.order_by(Spectrum.seq, AnalysisResult.id)))

    def spectrum_index(self, run_id: int) -> list[tuple[int, int | None, str, dict[str, Any] | None]]:
        """``(spectrum id, condition id, kind, meta)`` of every spectrum of a run, arrays left out."""
        with self._session() as s:
            rows = s.execute(select(Spectrum.id, Spectrum.condition_id, Spectrum.kind, Spectrum.meta)
                             .where(Spectrum.run_id == run_id)).all()
        return [(int(r[0]), r[1], str(r[2]), r[3]) for r in rows]

    def analysis_scalars(self, run_id: int) -> list[tuple[int, dict[str, float | None]]]:
        """``(spectrum id, {scalar column: value})`` of every analysis of a run, in the order they were stored."""
        with self._session() as s:
            rows = s.execute(
                select(AnalysisResult.spectrum_id, *(getattr(AnalysisResult, c) for c in SCALAR_COLUMNS))
                .join(Spectrum, AnalysisResult.spectrum_id == Spectrum.id).where(Spectrum.run_id == run_id)
                .order_by(AnalysisResult.id)
            ).all()
        return [(int(r[0]), dict(zip(SCALAR_COLUMNS, r[1:], strict=True))) for r in rows]

    def results_table(self, run_id: int) -> list[ResultRow]:
        """One row per condition: set points, spectrum counts and per-condition means of the analysis scalars
        (:func:`flowqd.store.results.results_table`)."""
        return results_table(self, run_id)

    # ------------------------------------------------------------------ recorder-style API (platform engine)
    start_run = recorder.start_run
    start_condition = recorder.start_condition
    finish_condition = recorder.finish_condition
    record_sample = recorder.record_sample
    record_event = recorder.record_event
    record_spectrum = recorder.record_spectrum


def _equal_if_given(*pairs: tuple[Any, Any]) -> list[Any]:
    """``column == value`` for each ``(column, value)`` whose value is not ``None`` (optional query filters)."""
    return [col == value for col, value in pairs if value is not None]


def _check_choice(what: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise FlowqdError(f"unknown {what} {value!r} (expected one of: {', '.join(choices)})")

