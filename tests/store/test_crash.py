"""kill -9 while spectra are being written: the database opens cleanly, nothing committed is lost or damaged."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from flowqd.store import Store

N_POINTS = 2048

WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from flowqd.store import Store

    url, run_id = sys.argv[1], int(sys.argv[2])
    store = Store(url)
    cid = store.add_condition(run_id, 0, core_temperature_c=200.0, core_flow_ml_min=0.1, n_spectra=10**6)
    wl = np.linspace(400.0, 800.0, {n})
    seq = store.next_seq(run_id)
    # The spectrum that may have been in flight is re-sent: a no-op if it was committed.
    if seq > 0:
        store.add_spectrum(run_id, seq - 1, condition_id=cid, kind="absorbance", wavelength_nm=wl,
                           counts=np.full({n}, float(seq - 1)), processed=wl * (seq - 1))
    while True:
        store.add_spectrum(run_id, seq, condition_id=cid, kind="absorbance", wavelength_nm=wl,
                           counts=np.full({n}, float(seq)), processed=wl * seq)
        sys.stdout.write(f"{{seq}}\\n")
        sys.stdout.flush()
        seq += 1
    """
).format(n=N_POINTS)


def _check_intact(url: str, run_id: int) -> int:
    with Store(url, create=False) as store:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        spectra = store.spectra(run_id)
        seqs = [s.seq for s in spectra]
        assert seqs == list(range(len(seqs)))  # contiguous, no duplicates
        wl = np.linspace(400.0, 800.0, N_POINTS)
        for s in spectra:
            np.testing.assert_array_equal(s.counts, float(s.seq))
            np.testing.assert_array_equal(s.processed, wl * s.seq)
        return len(seqs)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_loses_nothing_committed(tmp_path):
    url = f"sqlite:///{tmp_path}/crash.sqlite"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    with Store(url) as store:
        run_id = store.create_run("crash")
    rng = random.Random(20261124)
    acknowledged = -1
    for _ in range(3):  # kill, reopen, resume, kill again ...
        proc = subprocess.Popen([sys.executable, str(script), url, str(run_id)], stdout=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        target = rng.randint(3, 25)
        seen = 0
        assert proc.stdout is not None
        for line in proc.stdout:
            acknowledged = max(acknowledged, int(line))
            seen += 1
            if seen >= target:
                break
        time.sleep(rng.uniform(0.0, 0.02))  # land the kill at a random point of the next insert
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        n = _check_intact(url, run_id)
        # Every acknowledged (committed) spectrum is there; anything beyond was committed in full or not at all.
        assert n >= acknowledged + 1
    with Store(url) as store:
        assert store.next_seq(run_id) == n
        assert store.completed_spectra_count(run_id, 0) == n
