"""Run leases (one engine per run): acquire / refuse / renew / release / stale and dead-holder take-over, and a
race of eight acquirers with exactly one winner. :func:`lease_protocol` runs on SQLite here and on PostgreSQL in
``test_postgres.py``."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from flowqd.errors import LeaseHeld, LeaseLost
from flowqd.store import Store
from flowqd.store.models import RunLease, utcnow


def _age(store: Store, run_id: int, seconds: float) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(RunLease).where(RunLease.run_id == run_id)
                     .values(heartbeat_at=utcnow() - timedelta(seconds=seconds)))


def _race(url: str, run_id: int, n: int = 8) -> list[str]:
    """``n`` threads, each with its own Store, acquire at once; return the holders that succeeded."""
    stores = [Store(url) for _ in range(n)]
    barrier = threading.Barrier(n)
    winners: list[str] = []
    errors: list[BaseException] = []
    token = uuid.uuid4().hex[:6]  # new contenders each race (a previous winner would just re-acquire its own)

    def go(store: Store, i: int) -> None:
        lease = store.lease(run_id, ttl_s=30.0, me=f"host{i}:1:{token}")
        barrier.wait()
        try:
            lease.acquire()
            winners.append(lease.me)
        except LeaseHeld:
            pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(s, i)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.close()
    assert errors == [], errors[0]
    return winners


def lease_protocol(url: str) -> None:
    with Store(url) as a_store, Store(url) as b_store:
        run_id = a_store.create_run("lease")
        # holders on other hosts: judged by their heartbeat only
        a = a_store.lease(run_id, ttl_s=30.0, me="lab-pc-a:4242:aaaa")
        b = b_store.lease(run_id, ttl_s=30.0, me="lab-pc-b:4242:bbbb")
        assert a.holder() is None
        assert a.acquire().holder == a.me
        assert a.acquire().holder == a.me  # re-acquiring one's own lease is fine
        with pytest.raises(LeaseHeld, match=f"run {run_id} is being driven by another engine \\(lab-pc-a"):
            b.acquire()
        a.renew(force=True)
        _age(a_store, run_id, 29.0)  # fresh enough: still refused
        with pytest.raises(LeaseHeld):
            b.acquire()
        _age(a_store, run_id, 31.0)  # stale: taken over
        assert b.acquire().holder == b.me
        with pytest.raises(LeaseLost, match="lease lost to lab-pc-b"):
            a.renew(force=True)
        a.release()  # not a's any more: changes nothing
        assert b.holder().holder == b.me
        b.release()
        assert b.holder() is None
        # a holder on this host whose process is gone (kill -9) is taken over at once, heartbeat fresh or not
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
        ghost = a_store.lease(run_id, me=f"{socket.gethostname()}:{int(dead.stdout)}:dead")
        ghost.acquire()
        assert b.acquire().holder == b.me
        b.release()
        # races: eight fresh acquirers, then eight take-overs of one stale lease: exactly one wins each time
        assert len(_race(url, run_id)) == 1
        _age(a_store, run_id, 60.0)
        assert len(_race(url, run_id)) == 1


def test_lease_protocol_sqlite(tmp_path):
    lease_protocol(f"sqlite:///{tmp_path / 'lease.sqlite'}")


def test_renew_is_throttled_and_lease_needs_a_run(tmp_path):
    with Store(f"sqlite:///{tmp_path / 'l.sqlite'}") as store:
        run_id = store.create_run("x")
        lease = store.lease(run_id, ttl_s=60.0)
        assert lease.renew_every_s == pytest.approx(10.0)
        lease.acquire()
        before = lease.holder().heartbeat_at
        lease.renew()  # within renew_every_s: no write
        assert lease.holder().heartbeat_at == before
        lease.renew(force=True)
        assert lease.holder().heartbeat_at > before
        with pytest.raises(Exception, match="no run with id 99"):
            store.lease(99).acquire()
