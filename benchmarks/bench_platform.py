"""Simulated platform throughput: wall seconds per simulated condition at maximum speed (issue 14).

Run::

    .venv/bin/python benchmarks/bench_platform.py [--sizes 1 16 100] [--twin default|surrogate] [--mode event|tick]

Each size ``n`` is a temperature × flow sweep (``n = 1``: 250 °C, 0.3 mL/min; otherwise ``√n`` temperatures in
180–260 °C × ``√n`` flows in 0.05–0.3 mL/min), three spectra per condition, the paper's platform with a 5 L
reservoir, run by :class:`~flowqd.platform.RunEngine` into a SQLite store with the default spectrum analysis — what
``flowqd run --speed 0`` does, without the live display. Every size runs in a fresh process state except that
module imports are warm (one warm-up condition on the surrogate twin first). ``--no-psd`` analyses spectra
without the PSD inversion (about 0.2 s per absorbance spectrum today), to time the platform simulation alone.
Printed: wall time, wall and CPU (this process, all threads) per condition, simulated hours, the twin's share (one
batched prediction per campaign) and, with ``--compare``, the largest difference of the stored exciton peaks against
the tick-by-tick engine (``--mode tick``).

The same file runs on an older checkout (no ``clock_mode`` there: it times that checkout's tick-by-tick engine and
reports conditions completed before a failure).
"""

from __future__ import annotations

import argparse
import inspect
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _campaign(n: int) -> str:
    if n == 1:
        temps, flows = [250.0], [0.3]
    else:
        k = round(math.sqrt(n))
        if k * k != n:
            raise SystemExit(f"size {n}: give 1 or a square number")
        temps = [float(x) for x in np.round(np.linspace(180.0, 260.0, k), 1)]
        flows = [float(x) for x in np.round(np.linspace(0.05, 0.3, k), 3)]
    return (f'name = "bench-{n}"\n[defaults]\ncore_units = 1\nn_spectra = 3\n[sweep]\n'
            f"core_temperature_c = {temps}\ncore_flow_ml_min = {flows}\n")


def _platform_text(twin: str) -> str:
    from importlib import resources

    text = (resources.files("flowqd.platform") / "data" / "platform-wang-segets-2023.toml").read_text()
    text = text.replace("reservoir_ml = 45.6 ", "reservoir_ml = 5000.0 ")
    return text.replace('twin = "default"', f'twin = "{twin}"')


def run_once(n: int, twin: str, mode: str, db_dir: Path, psd: bool = True) -> dict:
    """One campaign of ``n`` conditions; returns timings and the stored peaks."""
    from flowqd.devices import SimClock, build_devices
    from flowqd.platform import RunEngine, campaign_from_text, platform_from_text
    from flowqd.store import Store

    platform = platform_from_text(_platform_text(twin), "platform.toml")
    campaign = campaign_from_text(_campaign(n), f"bench-{n}.toml")
    clock = SimClock(speedup=math.inf)
    t0, c0 = time.perf_counter(), time.process_time()
    devices = build_devices(platform, clock)
    kwargs = {}
    if "clock_mode" in inspect.signature(RunEngine.__init__).parameters:
        kwargs["clock_mode"] = mode
    store = Store(f"sqlite:///{db_dir / f'bench-{n}-{twin}-{mode}.db'}")
    if not psd:
        from flowqd.platform.analyzer import SpectrumAnalyzer

        kwargs["analyzer"] = SpectrumAnalyzer.for_platform(platform, psd=False)
    engine = RunEngine(platform, devices, clock, store, **kwargs)
    error = ""
    try:
        engine.run(campaign)
    except Exception as exc:  # an older checkout's failure is a result here
        error = f"{type(exc).__name__}: {exc}"
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    run_id = engine.run_id
    rows = store.results_table(run_id) if run_id is not None else []
    done = sum(1 for r in rows if r.get("status") == "completed")
    cache = getattr(devices.backend, "predictions", None)
    store.close()
    return {"n": n, "wall_s": wall, "cpu_s": cpu, "done": done, "sim_h": clock.now() / 3600.0, "error": error,
            "twin_s": getattr(cache, "twin_seconds", float("nan")),
            "peaks": [r.get("peak_nm") for r in rows]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 16, 100])
    ap.add_argument("--twin", choices=("default", "surrogate"), default="default")
    ap.add_argument("--mode", choices=("event", "tick"), default="event")
    ap.add_argument("--compare", action="store_true", help="also run tick-by-tick and compare stored peaks")
    ap.add_argument("--no-psd", action="store_true", help="analyse spectra without the PSD inversion (isolates the "
                    "platform simulation from the analysis of issue 8)")
    args = ap.parse_args(argv)
    print(f"$ python benchmarks/bench_platform.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    print("(2-core machine shared with other jobs: figures are upper bounds)")
    with tempfile.TemporaryDirectory() as tmp:
        warm = run_once(1, "surrogate", args.mode, Path(tmp))  # imports and analysis caches
        print(f"warm-up (surrogate, 1 condition, imports included): {warm['wall_s']:.1f} s")
        print(f"{'conditions':>10} {'done':>5} {'wall (s)':>9} {'s/condition':>12} {'CPU s/cond.':>12} {'sim (h)':>8} "
              f"{'twin (s)':>9}  {'max |Δpeak| vs tick (nm)' if args.compare else ''}")
        for n in args.sizes:
            r = run_once(n, args.twin, args.mode, Path(tmp), psd=not args.no_psd)
            per = r["wall_s"] / max(r["done"], 1)
            extra = ""
            if args.compare:
                ref = run_once(n, args.twin, "tick", Path(tmp), psd=not args.no_psd)
                diffs = [abs(a - b) for a, b in zip(r["peaks"], ref["peaks"], strict=True)
                         if a is not None and b is not None]
                extra = f"{max(diffs):.3f} (tick: {ref['wall_s']:.1f} s)" if diffs else "n/a"
            cpu = r["cpu_s"] / max(r["done"], 1)
            print(f"{n:>10} {r['done']:>5} {r['wall_s']:>9.1f} {per:>12.2f} {cpu:>12.2f} {r['sim_h']:>8.1f} "
                  f"{r['twin_s']:>9.1f}  {extra}")
            if r["error"]:
                print(f"{'':>10} failed: {r['error']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
