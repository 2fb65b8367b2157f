"""`flowqd run` / `flowqd stop` end to end on the simulated platform, including kill -9 and --resume."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowqd.cli import main
from flowqd.store import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CAMPAIGN = """
name = "cli-quick"
[defaults]
core_flow_ml_min = 0.1
n_spectra = 3
[[conditions]]
core_temperature_c = 180.0
[[conditions]]
core_temperature_c = 220.0
"""


@pytest.fixture
def files(tmp_path):
    platform = (EXAMPLES / "platform-wang-segets-2023.toml").read_text()
    platform = platform.replace('twin = "default"', 'twin = "surrogate"').replace("trace_period_s = 10.0",
                                                                                   "trace_period_s = 60.0")
    (tmp_path / "p.toml").write_text(platform)
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    return tmp_path


def _args(d: Path, *extra: str) -> list[str]:
    return ["run", str(d / "c.toml"), "--platform", str(d / "p.toml"), "--db", f"sqlite:///{d / 'runs.sqlite'}",
            "--stop-file", str(d / "STOP"), "--quiet", *extra]


def test_run_completes_and_stores_everything(files, capsys):
    assert main(_args(files, "--speed", "0")) == 0
    with Store(f"sqlite:///{files / 'runs.sqlite'}") as store:
        run = store.get_run(1)
        assert run.status == "completed" and run.campaign_toml == CAMPAIGN
        assert store.completed_conditions(1) == [0, 1]
        assert store.completed_spectra_count(1, 0, "absorbance") == 3
        rows = store.results_table(1)
        assert rows[1]["peak_nm"] - rows[0]["peak_nm"] > 30
        assert {"hb1.temperature_c", "pressure_bar", "core_pump.flow_ml_min"} <= set(store.channels(1))
    assert "run 1 completed" in capsys.readouterr().out


def test_bad_campaign_is_one_red_line_and_starts_nothing(files, capsys):
    (files / "c.toml").write_text(CAMPAIGN.replace("core_temperature_c = 220.0", "core_temperature_c = 400.0"))
    assert main(_args(files, "--speed", "0")) == 2
    err = capsys.readouterr().err
    assert "c.toml: conditions[1].core_temperature_c = 400.0: core temperature 400 °C above the HB1 limit 350 °C" in err
    assert "Traceback" not in err
    with Store(f"sqlite:///{files / 'runs.sqlite'}") as store:
        assert store.list_runs() == []


def test_stop_flag_blocks_runs_until_cleared(files, capsys):
    assert main(["stop", "--stop-file", str(files / "STOP")]) == 0
    assert (files / "STOP").exists()
    assert main(_args(files, "--speed", "0")) == 2
    assert "emergency stop flag" in capsys.readouterr().err
    assert main(["stop", "--clear", "--stop-file", str(files / "STOP")]) == 0
    assert not (files / "STOP").exists()


def _spectra_fingerprint(url: str) -> dict[int, tuple[int, str]]:
    with Store(url) as store:
        return {s.seq: (s.condition_id, hashlib.sha256(s.processed.tobytes()).hexdigest())
                for s in store.spectra(1)}


def test_kill_9_then_resume_loses_and_duplicates_no_spectrum(files, capsys):
    url = f"sqlite:///{files / 'runs.sqlite'}"
    cmd = [sys.executable, "-c", "import sys; from flowqd.cli import main; sys.exit(main())",
           *_args(files, "--speed", "1500")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
    try:
        # Kill at a random moment inside the run: after a random number (1-4) of committed spectra of the 6+
        # the campaign takes, plus a random fraction of one poll period. (A random wall-clock delay alone can
        # outlast the accelerated run on a fast machine.)
        target = random.randint(1, 4)
        deadline = time.monotonic() + 180  # generous: CI machines can be loaded
        while time.monotonic() < deadline:
            if (files / "runs.sqlite").exists():
                try:
                    if len(_spectra_fingerprint(url)) >= target:
                        break
                except Exception:
                    pass
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.02)
        # one engine per run: a second `--resume` of the running run is refused in one line and changes nothing
        assert main(["run", "--resume", "1", "--db", url, "--speed", "0", "--quiet", "--stop-file",
                     str(files / "STOP")]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.count("\n") == 1
        assert "run 1 is being driven by another engine" in err and f":{proc.pid}:" in err
        time.sleep(random.uniform(0.0, 0.02))
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = _spectra_fingerprint(url)
    assert before
    with Store(url) as store:
        assert store.get_run(1).status == "running"  # killed: nobody marked it
    # the killed engine's lease is taken over at once (its process is gone), no waiting for it to go stale
    assert main(["run", "--resume", "1", "--db", url, "--speed", "0", "--quiet", "--stop-file",
                 str(files / "STOP")]) == 0
    after = _spectra_fingerprint(url)
    assert {k: after[k] for k in before} == before  # nothing lost or changed
    assert sorted(after) == list(range(len(after)))  # seq 0..n-1: no gap, no duplicate
    with Store(url) as store:
        assert store.get_run(1).status == "completed"
        assert store.completed_conditions(1) == [0, 1]
        for i in (0, 1):
            assert store.completed_spectra_count(1, i, "absorbance") >= 3
        assert len(store.events(1, "run.resumed")) == 1  # the refused second engine recorded nothing
        assert len(store.events(1, "run.completed")) == 1 and store.lease(1).holder() is None


def test_results_tables_fit_80_columns_without_truncating(tmp_path, monkeypatch):
    """The end-of-run tables (core; PL when there is any) fit a default 80-column console with every value whole."""
    from rich.console import Console
    from tests.store_fixtures import populate_demo_run

    from flowqd.cli import platform

    narrow = Console(width=80, record=True, force_terminal=False)
    monkeypatch.setattr(platform, "console", narrow)
    with Store(f"sqlite:///{tmp_path / 'r.sqlite'}") as store:
        run_id = populate_demo_run(store)
        platform._print_results(store, run_id)
        rows = store.results_table(run_id)
    text = narrow.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "results per condition" in text and "photoluminescence" in text
    for r in rows:
        assert f"{r['x13_nm']:.2f}" in text and str(r["status"]) in text
    assert "607.0" in text and "30.9" in text and "0.553" in text and "0.441" in text

