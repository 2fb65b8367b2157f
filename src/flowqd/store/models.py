"""SQLAlchemy 2 models of the flowqd run database.

One *run* (a campaign executed on the platform) owns its *conditions* (steady-state set points), time-series
*traces* (sensor readings and set points), *events* (interlock trips, state changes), *spectra* (raw counts, dark,
reference and processed values) and, per spectrum, *analysis results*.

Conventions
-----------
- Times are UTC; :class:`UTCDateTime` stores naive UTC and returns timezone-aware datetimes on every backend.
- Units are in column names (``core_temperature_c``, ``core_flow_ml_min``, ``integration_ms``).
- Arrays are stored as ``.npy`` bytes (:func:`pack_array` / :func:`unpack_array`): self-describing dtype and shape,
  little-endian; raw/dark/reference counts as float32 (exact for detectors up to 24 bit), the wavelength axis
  and processed values as float64.
- ``(run_id, seq)`` is unique for spectra and ``(run_id, index)`` for conditions: re-inserting after a resume is a
  no-op (see :class:`flowqd.store.Store`).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flowqd.analysis.outcome import SCALAR_FIELDS

__all__ = [
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "AnalysisResult",
    "Base",
    "Condition",
    "Event",
    "Run",
    "RunLease",
    "SchemaVersion",
    "Spectrum",
    "Trace",
    "UTCDateTime",
    "pack_array",
    "unpack_array",
    "utcnow",
]

#: Version of the schema below; stored in the ``schema_version`` table and checked on open.
SCHEMA_VERSION = 1

RUN_STATUSES: tuple[str, ...] = ("running", "paused", "tripped", "completed", "failed", "interrupted")
CONDITION_STATUSES: tuple[str, ...] = ("pending", "equilibrating", "acquiring", "completed", "skipped", "failed")
SPECTRUM_KINDS: tuple[str, ...] = ("absorbance", "pl", "intensity", "transmittance")
TRACE_ROLES: tuple[str, ...] = ("reading", "setpoint")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as naive UTC and returned timezone-aware (naive input is taken as UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def pack_array(values: Any, dtype: str = "<f8") -> bytes:
    """Encode a 1-D array as ``.npy`` bytes of ``dtype`` (little-endian float64 by default)."""
    arr = np.ascontiguousarray(np.asarray(values, dtype=dtype).ravel())
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def unpack_array(data: bytes | None) -> np.ndarray | None:
    """Decode ``.npy`` bytes written by :func:`pack_array` into a float64 array (``None`` stays ``None``)."""
    if data is None:
        return None
    return np.load(io.BytesIO(data), allow_pickle=False).astype(float)


class Base(DeclarativeBase):
    """Declarative base of the flowqd schema."""


class SchemaVersion(Base):
    """One row: the schema version the database was created with."""

    __tablename__ = "schema_version"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Run(Base):
    """One execution of a campaign on a platform, with its provenance."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    flowqd_version: Mapped[str] = mapped_column(String(40))
    platform_toml: Mapped[str] = mapped_column(Text, default="")
    platform_sha256: Mapped[str] = mapped_column(String(64), default="")
    campaign_toml: Mapped[str] = mapped_column(Text, default="")
    campaign_sha256: Mapped[str] = mapped_column(String(64), default="")
    host: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")


class RunLease(Base):
    """Which process drives a run: one row per leased run, renewed by a heartbeat (see :mod:`flowqd.store.lease`)."""

    __tablename__ = "run_leases"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    holder: Mapped[str] = mapped_column(String(300))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Condition(Base):
    """One steady-state set of set points within a run (one row of the campaign)."""

    __tablename__ = "conditions"
    __table_args__ = (UniqueConstraint("run_id", "index", name="uq_condition_run_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200), default="")
    core_temperature_c: Mapped[float] = mapped_column(Float)
    core_flow_ml_min: Mapped[float] = mapped_column(Float)
    core_units: Mapped[int] = mapped_column(Integer, default=1)
    shell: Mapped[bool] = mapped_column(Boolean, default=False)
    shell_temperature_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    ddt_flow_ml_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    residence_time_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    n_spectra: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Trace(Base):
    """One time-series point: a sensor reading or a set point on a named channel (``"hb1.temperature_c"``)."""

    __tablename__ = "traces"
    __table_args__ = (Index("ix_traces_run_channel_t", "run_id", "channel", "t_s"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    t_s: Mapped[float] = mapped_column(Float)
    channel: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float)
    role: Mapped[str] = mapped_column(String(10), default="reading")


class Event(Base):
    """Something that happened during a run: a state change, a warning, an interlock trip."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    t_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    level: Mapped[str] = mapped_column(String(10), default="info")
    kind: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Spectrum(Base):
    """One acquired spectrum: raw counts, dark, reference and processed values as ``.npy`` bytes."""

    __tablename__ = "spectra"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_spectrum_run_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    condition_id: Mapped[int | None] = mapped_column(
        ForeignKey("conditions.id", ondelete="CASCADE"), nullable=True, index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    t_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    integration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    averages: Mapped[int] = mapped_column(Integer, default=1)
    saturated: Mapped[bool] = mapped_column(Boolean, default=False)
    n_points: Mapped[int] = mapped_column(Integer)
    wavelength_npy: Mapped[bytes] = mapped_column(LargeBinary)
    counts_npy: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    dark_npy: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    reference_npy: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    processed_npy: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: Axis of ``processed`` when it differs from the raw axis (cropped/resampled); NULL = same axis.
    processed_wavelength_npy: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    @property
    def wavelength_nm(self) -> np.ndarray:
        """Wavelength axis of the raw arrays, nm."""
        return unpack_array(self.wavelength_npy)  # type: ignore[return-value]

    @property
    def counts(self) -> np.ndarray | None:
        """Raw detector counts (``None`` if not stored)."""
        return unpack_array(self.counts_npy)

    @property
    def dark(self) -> np.ndarray | None:
        """Dark counts (``None`` if not stored)."""
        return unpack_array(self.dark_npy)

    @property
    def reference(self) -> np.ndarray | None:
        """Reference (blank) counts (``None`` if not stored)."""
        return unpack_array(self.reference_npy)

    @property
    def processed(self) -> np.ndarray | None:
        """Processed values (absorbance, corrected PL), on :attr:`processed_wavelength_nm`."""
        return unpack_array(self.processed_npy)

    @property
    def processed_wavelength_nm(self) -> np.ndarray:
        """Axis of :attr:`processed`: its own axis if stored, else the raw axis."""
        own = unpack_array(self.processed_wavelength_npy)
        return self.wavelength_nm if own is None else own


class AnalysisResult(Base):
    """The result of one analysis method on one spectrum: the full JSON payload plus key scalars as columns.

    For PL spectra ``peak_wavelength_nm``/``fwhm_nm`` are the emission peak and width; for absorbance spectra
    ``peak_wavelength_nm`` is the first excitonic peak. ``rsd`` is a fraction (σ / x1,3), not a percentage.
    """

    __tablename__ = "analysis_results"
    __table_args__ = (UniqueConstraint("spectrum_id", "method", name="uq_analysis_spectrum_method"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spectrum_id: Mapped[int] = mapped_column(ForeignKey("spectra.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    peak_wavelength_nm: Mapped[float | None] = mapped_column(Float, nullable=True)
    fwhm_nm: Mapped[float | None] = mapped_column(Float, nullable=True)
    x13_nm: Mapped[float | None] = mapped_column(Float, nullable=True)
    sigma_nm: Mapped[float | None] = mapped_column(Float, nullable=True)
    rsd: Mapped[float | None] = mapped_column(Float, nullable=True)
    conversion: Mapped[float | None] = mapped_column(Float, nullable=True)
    production_rate_mg_h: Mapped[float | None] = mapped_column(Float, nullable=True)
    plqy: Mapped[float | None] = mapped_column(Float, nullable=True)
    cie_x: Mapped[float | None] = mapped_column(Float, nullable=True)
    cie_y: Mapped[float | None] = mapped_column(Float, nullable=True)


#: Scalar columns of :class:`AnalysisResult`: the key scalars of an analysis
#: (:data:`flowqd.analysis.outcome.SCALAR_FIELDS`, filled from :meth:`SpectrumOutcome.scalars`).
SCALAR_COLUMNS: tuple[str, ...] = SCALAR_FIELDS

