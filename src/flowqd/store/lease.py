"""Run leases: one engine per run.

A run is driven by the process that holds its **lease**: a row of ``run_leases`` (run id, holder, heartbeat).
Each step is one atomic SQL statement, so the protocol is the same on SQLite and PostgreSQL:

1. *acquire* — ``INSERT … ON CONFLICT DO NOTHING``; if a row exists, ``UPDATE … WHERE holder = me OR the lease
   is stale`` takes it over. Exactly one of two racing processes changes the row (the database serialises
   the statements); the other is refused with :class:`LeaseHeld`, a one-line message naming the holder.
2. *renew* — the holder moves ``heartbeat_at`` forward (``UPDATE … WHERE holder = me``); no row updated means
   another process took the lease over (:class:`LeaseLost`): the engine must stop driving.
3. *release* — the holder deletes its row when the run ends (completed, tripped, failed, interrupted).

A lease is **stale** when its heartbeat is older than ``ttl_s`` (default 60 s of wall time; the engine renews every
``ttl_s / 6``), or at once when the holder ran on this host and its process no longer exists (``kill -9``: a
resume right after the crash needs no wait). Holders on other hosts are judged by the heartbeat only, so hosts
sharing one PostgreSQL server need clocks within a few seconds of each other (NTP).

The functions take a :class:`~flowqd.store.Store`; :meth:`Store.lease` wraps them in a :class:`RunLease` handle
(``acquire``/``renew``/``release``/``holder``) that a supervisor (the lab server) can use as well.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import CursorResult, Result, delete, or_, update

from flowqd.errors import LeaseHeld, LeaseLost
from flowqd.store.models import RunLease as LeaseRow
from flowqd.store.models import utcnow

if TYPE_CHECKING:
    from flowqd.store.store import Store

__all__ = ["DEFAULT_TTL_S", "LeaseHeld", "LeaseInfo", "LeaseLost", "RunLease", "make_holder"]

#: Wall-clock seconds without a heartbeat after which a lease may be taken over.
DEFAULT_TTL_S = 60.0


@dataclass(frozen=True)
class LeaseInfo:
    """The current lease of a run."""

    run_id: int
    holder: str
    acquired_at: datetime
    heartbeat_at: datetime

    @property
    def age_s(self) -> float:
        """Seconds since the last heartbeat."""
        return (utcnow() - self.heartbeat_at).total_seconds()

    @property
    def host(self) -> str:
        """Host name part of the holder."""
        return self.holder.split(":", 1)[0]

    @property
    def pid(self) -> int | None:
        """Process id part of the holder (``None`` if not of the form HOST:PID:TOKEN)."""
        parts = self.holder.split(":")
        return int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else None

    def holder_dead(self) -> bool:
        """True when the holder ran on this host and its process no longer exists."""
        pid = self.pid
        if pid is None or self.host != socket.gethostname():
            return False
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # exists, another user's
            return False
        return False



def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched (an ORM bulk UPDATE without RETURNING gives a :class:`CursorResult`)."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"an UPDATE returned {type(result).__name__}, not a CursorResult")
    return result.rowcount

def make_holder() -> str:
    """A holder name unique to this process and call: ``HOST:PID:TOKEN``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _insert_if_absent(store: Store, run_id: int, holder: str, now: datetime) -> None:
    dialect = store.engine.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    stmt = insert(LeaseRow).values(run_id=run_id, holder=holder, acquired_at=now, heartbeat_at=now)
    with store._session() as s:
        store._require_run(s, run_id)
        s.execute(stmt.on_conflict_do_nothing(index_elements=["run_id"]))


def holder(store: Store, run_id: int) -> LeaseInfo | None:
    """The run's current lease, or ``None`` when nobody holds it."""
    with store._session() as s:
        row = s.get(LeaseRow, run_id)
        if row is None:
            return None
        return LeaseInfo(row.run_id, row.holder, row.acquired_at, row.heartbeat_at)


def acquire(store: Store, run_id: int, me: str, *, ttl_s: float = DEFAULT_TTL_S) -> LeaseInfo:
    """Take the lease of ``run_id`` for ``me`` (new, already mine, or stale); else raise :class:`LeaseHeld`."""
    now = utcnow()
    _insert_if_absent(store, run_id, me, now)
    current = holder(store, run_id)
    stale_before = now - timedelta(seconds=ttl_s)
    dead = current is not None and current.holder_dead()
    cond = [LeaseRow.run_id == run_id]
    if current is not None:
        # take over only the lease we judged (a concurrent taker changes the holder and wins); our own lease is
        # refreshed by the same statement, so a racing taker re-checks a fresh heartbeat and loses
        cond.append(LeaseRow.holder == current.holder)
        if not dead and current.holder != me:
            cond.append(or_(LeaseRow.heartbeat_at < stale_before, LeaseRow.holder == me))
    with store._session() as s:
        taken = _rowcount(s.execute(update(LeaseRow).where(*cond).values(holder=me, acquired_at=now, heartbeat_at=now)
                                    .execution_options(synchronize_session=False)))
    if taken == 1:
        return LeaseInfo(run_id, me, now, now)
    current = holder(store, run_id) or current
    assert current is not None
    raise LeaseHeld(f"run {run_id} is being driven by another engine ({current.holder}, heartbeat "
                    f"{current.age_s:.0f} s ago); stop it first (`flowqd stop`), or wait {ttl_s:g} s after it died")


def renew(store: Store, run_id: int, me: str) -> None:
    """Move the heartbeat of ``me``'s lease forward; :class:`LeaseLost` if another process holds it now."""
    with store._session() as s:
        n = _rowcount(s.execute(update(LeaseRow).where(LeaseRow.run_id == run_id, LeaseRow.holder == me)
                                .values(heartbeat_at=utcnow()).execution_options(synchronize_session=False)))
    if n != 1:
        now = holder(store, run_id)
        raise LeaseLost(f"run {run_id}: lease lost to {now.holder if now else 'nobody'}; this engine stops")


def release(store: Store, run_id: int, me: str) -> None:
    """Drop ``me``'s lease (nothing happens if another process holds it)."""
    with store._session() as s:
        s.execute(delete(LeaseRow).where(LeaseRow.run_id == run_id, LeaseRow.holder == me)
                  .execution_options(synchronize_session=False))


class RunLease:
    """A process's handle on the lease of one run.

    Parameters
    ----------
    store : Store
    run_id : int
    ttl_s : float
        Staleness limit (wall-clock seconds).
    renew_every_s : float, optional
        :meth:`renew` writes at most this often (default ``ttl_s / 6``); calling it every control period is cheap.

    Examples
    --------
    >>> from flowqd.store import Store
    >>> with Store("sqlite://") as store:
    ...     run_id = store.create_run("demo")
    ...     mine = store.lease(run_id)
    ...     _ = mine.acquire()
    ...     other = store.lease(run_id)
    ...     try:
    ...         other.acquire()
    ...     except LeaseHeld:
    ...         print("refused")
    ...     mine.release()
    ...     other.acquire().holder == other.me
    refused
    True
    """

    def __init__(self, store: Store, run_id: int, *, ttl_s: float = DEFAULT_TTL_S,
                 renew_every_s: float | None = None, me: str | None = None) -> None:
        self.store = store
        self.run_id = int(run_id)
        self.ttl_s = float(ttl_s)
        self.renew_every_s = float(renew_every_s if renew_every_s is not None else ttl_s / 6.0)
        self.me = me or make_holder()
        self._last_renew = -float("inf")

    def acquire(self) -> LeaseInfo:
        """Take the lease (see :func:`acquire`)."""
        info = acquire(self.store, self.run_id, self.me, ttl_s=self.ttl_s)
        self._last_renew = time.monotonic()
        return info

    def renew(self, *, force: bool = False) -> None:
        """Heartbeat, at most every ``renew_every_s`` of wall time unless ``force``."""
        now = time.monotonic()
        if force or now - self._last_renew >= self.renew_every_s:
            renew(self.store, self.run_id, self.me)
            self._last_renew = now

    def release(self) -> None:
        """Give the lease up."""
        release(self.store, self.run_id, self.me)

    def holder(self) -> LeaseInfo | None:
        """The current lease of the run (anyone's)."""
        return holder(self.store, self.run_id)
