"""flowqd.store: the run database (SQLAlchemy 2; SQLite with WAL by default, PostgreSQL by URL) and its exports.

- :class:`Store` — create runs, conditions, traces, events, spectra (committed one by one) and analysis results;
  query them back; idempotent on ``(run, seq)`` for resume.
- :mod:`flowqd.store.models` — the schema (``.npy`` bytes for arrays, UTC times, units in column names).
- :mod:`flowqd.store.export` — CSV, Parquet and JCAMP-DX export of a run.
"""

from flowqd.store.database import DEFAULT_URL
from flowqd.store.models import SCHEMA_VERSION
from flowqd.store.store import Store

__all__ = ["DEFAULT_URL", "SCHEMA_VERSION", "Store"]
