"""Storage faults (issue 9): a full disk and a read-only database give one line, leave the platform safe, mark the
run ``interrupted``, and ``--resume`` continues once space is back; a spectrum and its analysis are committed
together (a crash between the two leaves neither).

The full disk is a 2 MiB tmpfs where the machine allows mounting one (root), else SQLite's own "database or disk
is full" error injected into every write after the first few (the same exception the driver raises)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import event
from tests.platform.conftest import QUICK_CAMPAIGN, make_rig
from tests.store_fixtures import populate_demo_run

from flowqd.cli import main
from flowqd.errors import StorageError
from flowqd.platform import campaign_from_text
from flowqd.store import Store


def _mount(path: Path, opts: str) -> bool:
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def _remount(path: Path, opts: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{opts}", str(path)], check=True, capture_output=True)


@contextlib.contextmanager
def small_disk(tmp_path: Path) -> Iterator[tuple[Path, object]]:
    """``(folder, make_room)``: a folder on a nearly full disk, and a callable that gives it room again."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if _mount(folder, "size=2m"):
        try:
            yield folder, lambda: _remount(folder, "size=256m")
        finally:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        return
    state = {"full": True, "writes": 0, "freed": False}

    def inject(conn, cursor, statement, parameters, context, executemany):
        if state["full"] and not state["freed"] and statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            state["writes"] += 1
            if state["writes"] > 400:
                raise sqlite3.OperationalError("database or disk is full")

    orig_init, orig_release = Store.__init__, Store.release_reserve

    def patched(self, *a, **k):
        orig_init(self, *a, **k)
        state["freed"] = False
        event.listen(self.engine, "before_cursor_execute", inject)

    def release(self):  # deleting the ballast frees room for a few small writes, as on a real disk
        state["freed"] = orig_release(self)
        return state["freed"]

    Store.__init__, Store.release_reserve = patched, release  # type: ignore[method-assign]
    try:
        yield folder, lambda: state.update(full=False)
    finally:
        Store.__init__, Store.release_reserve = orig_init, orig_release  # type: ignore[method-assign]


def test_full_disk_interrupts_safely(tmp_path):
    campaign = campaign_from_text(QUICK_CAMPAIGN, "quick.toml")
    with small_disk(tmp_path) as (folder, _make_room):
        url = f"sqlite:///{folder / 'runs.sqlite'}"
        store = Store(url)
        rig = make_rig(recorder=store)
        with pytest.raises(StorageError) as info:
            rig.engine.run(campaign)
        msg = str(info.value)
        assert "\n" not in msg and "disk full" in msg and "run 1 marked interrupted" in msg
        plant = rig.plant  # the platform is safe
        assert plant.stream_command_ml_min("core") == 0.0
        assert all(not h.enabled for h in plant.heaters.values()) and plant.valve_position == "waste"
        assert store.get_run(1).status == "interrupted"
        assert store.lease(1).holder() is None  # released: a resume needs no wait
        assert len(store.events(1, "run.interrupted")) == 1
        assert not Path(str(folder / "runs.sqlite-reserve")).exists()  # the ballast made room for that write
        store.close()


def test_full_disk_through_the_cli_is_one_line(tmp_path, capsys):
    examples = Path(__file__).resolve().parents[2] / "examples"
    platform = (examples / "platform-wang-segets-2023.toml").read_text().replace('twin = "default"',
                                                                                  'twin = "surrogate"')
    (tmp_path / "p.toml").write_text(platform)
    (tmp_path / "c.toml").write_text(QUICK_CAMPAIGN)
    with small_disk(tmp_path) as (folder, make_room):
        url = f"sqlite:///{folder / 'runs.sqlite'}"
        args = ["--db", url, "--speed", "0", "--quiet", "--stop-file", str(tmp_path / "STOP")]
        assert main(["run", str(tmp_path / "c.toml"), "--platform", str(tmp_path / "p.toml"), *args]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.count("\n") == 1 and "disk full" in err
        assert main(["runs", "--db", url]) == 0
        assert "interrupted" in capsys.readouterr().out
        with Store(url) as store:
            before = {s.seq: s.processed.tobytes() for s in store.spectra(1)}
        make_room()  # space is back: --resume continues and completes, nothing lost or duplicated
        assert main(["run", "--resume", "1", *args]) == 0
        with Store(url) as store:
            assert store.get_run(1).status == "completed"
            after = {s.seq: s.processed.tobytes() for s in store.spectra(1)}
            assert {k: after[k] for k in before} == before and sorted(after) == list(range(len(after)))
            assert all(store.completed_spectra_count(1, i, "absorbance") >= 3 for i in (0, 1))
            assert len(store.events(1, "run.completed")) == 1
            assert (folder / "runs.sqlite-reserve").exists()  # the ballast is back


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` read-only: a read-only tmpfs remount as root, file modes otherwise."""
    if os.geteuid() == 0:
        _remount(folder, "ro")
        try:
            yield
        finally:
            _remount(folder, "rw")
        return
    modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
    for p in modes:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        yield
    finally:
        for p, m in modes.items():
            p.chmod(m)


def test_read_only_database_gives_one_line_everywhere(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0 and not _mount(folder, "size=16m"):
        pytest.skip("root without tmpfs mounts: permissions cannot make a file read-only for root")
    try:
        url = f"sqlite:///{folder / 'runs.sqlite'}"
        with Store(url) as store:
            populate_demo_run(store, shell=False, trip=False)
        (tmp_path / "c.toml").write_text(QUICK_CAMPAIGN)
        import uvicorn

        monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
        with read_only(folder):
            for argv in (["runs", "--db", url], ["report", "1", "--db", url],
                         ["report", "1", "--db", url, "--out", str(tmp_path / "rep")], ["serve", "--db", url],
                         ["run", str(tmp_path / "c.toml"), "--db", url, "--speed", "0", "--quiet",
                          "--stop-file", str(tmp_path / "STOP")],
                         ["run", "--resume", "1", "--db", url, "--speed", "0", "--quiet", "--stop-file",
                          str(tmp_path / "STOP")]):
                code = main(argv)
                err = capsys.readouterr().err
                assert "Traceback" not in err, argv
                assert code in (0, 2), (argv, code)
                if code == 2:
                    assert err.count("\n") == 1 and "error:" in err, (argv, err)
                if argv[0] == "run":
                    assert code == 2 and ("read-only" in err or "cannot open" in err), err
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


CRASH_BETWEEN = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from flowqd.store import Store
    from flowqd.store.store import Store as S

    store = Store(sys.argv[1])
    run_id = store.create_run("crash")
    real = S._insert_analysis

    def die(self, s, values):
        os._exit(9)  # the process dies after the spectrum INSERT, before the analysis INSERT

    S._insert_analysis = die
    store.record_spectrum(run_id, 0, {"wavelength_nm": np.linspace(400, 800, 64), "counts": np.ones(64)},
                          np.ones(64), {"peak_wavelength_nm": 550.0})
    """
)


def test_crash_between_spectrum_and_analysis_leaves_neither(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    done = subprocess.run([sys.executable, "-c", CRASH_BETWEEN, url], capture_output=True, text=True)
    assert done.returncode == 9, done.stderr
    with Store(url) as store:
        assert store.spectra(1) == []  # rolled back with the analysis: nothing half-recorded
        # the resumed engine records the same seq again: spectrum and analysis both land
        sid = store.record_spectrum(1, store.next_seq(1), {"wavelength_nm": np.linspace(400, 800, 64),
                                                           "counts": np.ones(64)}, np.ones(64),
                                    {"peak_wavelength_nm": 550.0})
        assert [a.peak_wavelength_nm for a in store.analyses(1, sid)] == [550.0]


def test_storage_error_messages_are_one_line():
    from flowqd.store.database import storage_error

    assert str(storage_error(OSError(30, "Read-only file system"), "sqlite:///a.sqlite")) == \
        "database sqlite:///a.sqlite: read-only (no write permission) (Read-only file system)"
    e = storage_error(sqlite3.OperationalError("attempt to write a readonly database"),
                      "postgresql+psycopg://u:pw@h/db")
    assert "pw" not in str(e) and "read-only" in str(e)
