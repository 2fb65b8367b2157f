"""The store on a real PostgreSQL server (the lab's shared database), not only SQLite.

The server is ``$FLOWQD_TEST_POSTGRES_URL`` when set (a database the tests may fill and empty), else a throwaway
cluster started here when PostgreSQL's ``initdb``/``pg_ctl`` are installed (as the ``postgres`` user when the tests
run as root). Without either, or without the ``psycopg`` driver, the module is skipped.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.store_fixtures import open_concurrently, populate_demo_run

from flowqd.store import SCHEMA_VERSION, Store
from flowqd.store.models import Base


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(f"'{c}'" for c in cmd)]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A PostgreSQL server URL prefix (``postgresql+psycopg://USER@HOST:PORT``), up for this module."""
    env_url = os.environ.get("FLOWQD_TEST_POSTGRES_URL")
    if env_url:
        yield env_url.rsplit("/", 1)[0]
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) and no FLOWQD_TEST_POSTGRES_URL")
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a 'postgres' user to start PostgreSQL as")
    # not under pytest's tmp dir: the postgres user must be able to reach it (that one is private to root)
    base = Path(tempfile.mkdtemp(prefix="flowqd-pg-"))
    data, sock = base / "data", base / "sock"
    data.mkdir()
    sock.mkdir()
    if os.geteuid() == 0:
        for p in (base, data, sock):
            os.chown(p, user.pw_uid, user.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opts = f"-k {sock} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off"
    for cmd in ([initdb, "-D", str(data), "-A", "trust", "-U", "postgres"],
                [pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"]):
        done = subprocess.run(_as_postgres_user(cmd), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:  # the machine cannot host a throwaway server (no su, sandbox…): not our code
            shutil.rmtree(base, ignore_errors=True)
            pytest.skip(f"cannot start a throwaway PostgreSQL: {Path(cmd[0]).name}: {done.stderr.strip()[-300:]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True,
                       timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _new_database(server: str) -> str:
    import psycopg

    name = f"flowqd_{uuid.uuid4().hex[:12]}"
    host_part = server.split("://", 1)[1]
    user, hostport = host_part.split("@", 1)
    host, port = hostport.rsplit(":", 1)
    with psycopg.connect(host=host, port=int(port), user=user, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def test_round_trip_idempotence_and_lookups_on_postgres(server: str) -> None:
    url = _new_database(server)
    with Store(url) as store:
        assert store.schema_version == SCHEMA_VERSION and store.journal_mode == ""
        run_id = populate_demo_run(store)
        rows = store.results_table(run_id)
        assert [round(r["peak_nm"]) for r in rows[:4]][::3] == [518, 590]
        assert rows[-1]["plqy"] == pytest.approx(0.309) and rows[-1]["pl_peak_nm"] == pytest.approx(607.0)
        first = store.spectra(run_id)[0]
        assert first.wavelength_nm.dtype == np.float64 and first.processed.shape == first.wavelength_nm.shape
        cid = store.conditions(run_id)[0].id
        kw = {"condition_id": cid, "kind": "absorbance", "wavelength_nm": [400.0, 500.0], "processed": [0.2, 0.1]}
        assert store.add_spectrum(run_id, 10_000, **kw) == store.add_spectrum(run_id, 10_000, **kw)  # ON CONFLICT
        assert store.resolve_run(store.get_run(run_id).uuid[:6]) == run_id
        assert all(e.at.utcoffset() is not None and e.at.utcoffset().total_seconds() == 0
                   for e in store.events(run_id))
    with Store(url, create=False) as again:  # reopened: everything is still there
        assert len(again.results_table(run_id)) == len(rows)


def test_concurrent_schema_creation_on_postgres(server: str) -> None:
    """Six processes' worth of stores open one empty PostgreSQL database at once: no 'already exists' escapes."""
    url = _new_database(server)
    errors = open_concurrently(url, 6)
    assert errors == [], errors[0]
    with Store(url) as s:
        assert s.engine.connect().exec_driver_sql("SELECT count(*) FROM schema_version").scalar() == 1


def test_campaign_run_and_resume_on_postgres(server: str, tmp_path: Path) -> None:
    """`flowqd run` writes to PostgreSQL like to SQLite; `--resume` of a finished run changes nothing."""
    from flowqd.cli import main

    examples = Path(__file__).resolve().parents[2] / "examples"
    platform = (examples / "platform-wang-segets-2023.toml").read_text().replace('twin = "default"',
                                                                                  'twin = "surrogate"')
    (tmp_path / "p.toml").write_text(platform)
    (tmp_path / "c.toml").write_text('name = "pg"\n[defaults]\ncore_flow_ml_min = 0.1\nn_spectra = 2\n'
                                     "[[conditions]]\ncore_temperature_c = 180.0\n"
                                     "[[conditions]]\ncore_temperature_c = 250.0\n")
    url = _new_database(server)
    args = ["--db", url, "--speed", "0", "--quiet", "--stop-file", str(tmp_path / "STOP")]
    t0 = time.monotonic()
    assert main(["run", str(tmp_path / "c.toml"), "--platform", str(tmp_path / "p.toml"), *args]) == 0
    with Store(url) as store:
        rows = store.results_table(1)
        assert store.get_run(1).status == "completed" and store.completed_conditions(1) == [0, 1]
        assert rows[1]["peak_nm"] - rows[0]["peak_nm"] > 30
        seqs = store.spectrum_seqs(1)
    assert main(["run", "--resume", "1", *args]) == 0
    with Store(url) as store:
        assert store.spectrum_seqs(1) == seqs
    assert time.monotonic() - t0 < 120


def test_drop_all_leaves_an_empty_database(server: str) -> None:
    url = _new_database(server)
    with Store(url) as store:
        populate_demo_run(store, shell=False, trip=False)
        Base.metadata.drop_all(store.engine)
    with pytest.raises(Exception, match="not a flowqd database"):
        Store(url, create=False)


def test_run_lease_on_postgres(server: str) -> None:
    """The lease protocol (one engine per run) holds on PostgreSQL: refusals, take-overs, one winner per race."""
    from tests.store.test_lease import lease_protocol

    lease_protocol(_new_database(server))


def test_password_never_shown(server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A password in the URL (trust auth ignores it) appears nowhere: CLI output, errors, /api/health, 404s, /."""
    from flowqd.cli import main

    url = _new_database(server).replace("://postgres@", "://postgres:s3cret-pw@")
    with Store(url) as store:
        populate_demo_run(store, shell=False, trip=False)
        assert "s3cret" not in store.url and "***" in store.url
    assert main(["runs", "--db", url]) == 0
    assert main(["runs", "--db", url.rsplit("/", 1)[0] + "/no_such_db"]) == 2  # an error naming the URL
    out = capsys.readouterr()
    assert "s3cret" not in out.out + out.err and "***" in out.out + out.err
    from fastapi.testclient import TestClient

    from flowqd.server import create_app

    with TestClient(create_app(url, auth=False, trusted_hosts=["testserver"])) as client:
        bodies = [client.get(p) for p in ("/api/health", "/", "/api/runs/999", "/api/runs/999/spectra")]
    assert bodies[0].status_code == 200 and bodies[2].status_code == 404
    assert all("s3cret" not in r.text for r in bodies)
    assert "***" in bodies[0].text
