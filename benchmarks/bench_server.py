"""The lab console's speed: requests/s of the main read routes with concurrent clients, and the latency from a
spectrum committed to the store to its plot drawn in a browser.

- A ``flowqd serve`` process (authentication on, loopback only) serves a database holding the synthetic demo run
  (tests/store_fixtures.py: 4 + 1 conditions, 2 spectra each, traces every 10 s).
- ``--clients`` threads (default 8) send Bearer-authenticated GETs to each route for ``--seconds`` each, over
  keep-alive connections (httpx); requests/s and the median and 95th-percentile latency are printed per route.
- Latency: Debian's chromium (Playwright, by path) logs in and opens the console of the run; ``--spectra`` new
  absorbance spectra (with their analysis) are committed one by one; each is timed from just before its commit to
  the moment the page has drawn it (``window.flowqd.plotted``; the same clock on one machine).

Run:  python benchmarks/bench_server.py [--clients 8] [--seconds 5] [--spectra 10]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROUTES = ("/api/health", "/api/runs", "/api/runs/1", "/api/runs/1/results", "/api/runs/1/events",
          "/api/runs/1/spectra", "/api/runs/1/spectra/0", "/api/runs/1/traces", "/api/runs/1/live")


def start_server(db: str, state: Path) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "flowqd", "serve", "--db", db, "--port", str(port),
                             "--state-dir", str(state)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > end:
            raise SystemExit(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.2)


def throughput(base: str, token: str, route: str, clients: int, seconds: float) -> tuple[float, float, float]:
    """requests/s, median and p95 latency (ms) of ``route`` with ``clients`` threads for ``seconds``."""
    import httpx

    latencies: list[list[float]] = [[] for _ in range(clients)]
    ready = threading.Barrier(clients + 1)
    window = {"stop": 0.0}
    errors: list[str] = []

    def worker(i: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
            c.get(route)  # warm the connection
            ready.wait()
            while time.monotonic() < window["stop"]:
                t0 = time.perf_counter()
                r = c.get(route)
                latencies[i].append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors.append(f"{route}: {r.status_code}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    window["stop"] = time.monotonic() + 1e9
    ready.wait()
    t0 = time.monotonic()
    window["stop"] = t0 + seconds
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    if errors:
        raise SystemExit(f"errors: {errors[:3]}")
    flat = sorted(x for lat in latencies for x in lat)
    return len(flat) / elapsed, 1000 * statistics.median(flat), 1000 * flat[int(0.95 * (len(flat) - 1))]


def browser_latency(base: str, token: str, db: str, n: int) -> list[float]:
    """Seconds from committing each of ``n`` spectra to the browser having drawn it."""
    from playwright.sync_api import sync_playwright

    from flowqd.store import Store

    chromium = "/usr/bin/chromium"
    out: list[float] = []
    with Store(db) as store, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=token]", token)
        page.click("button[type=submit]")
        page.goto(f"{base}/console?run=1")
        page.wait_for_function("window.flowqd.plotted.absorbance !== undefined", timeout=60_000)
        last = store.spectra(1, kind="absorbance")[-1]
        payload = store.analyses(1, spectrum_id=last.id)[0].payload
        for _ in range(n):
            seq = store.next_seq(1)
            time.sleep(0.5)
            t0 = time.time()
            store.add_spectrum(1, seq, kind="absorbance", condition_id=last.condition_id, t_s=(last.t_s or 0) + seq,
                               wavelength_nm=last.processed_wavelength_nm, processed=last.processed)
            store.add_analysis(store.spectra(1, seq=seq)[0].id, "absorbance", payload)
            page.wait_for_function(f"window.flowqd.plotted.absorbance.seq === {seq}", timeout=30_000)
            out.append(page.evaluate("window.flowqd.plotted.absorbance.at") / 1000 - t0)
        browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--spectra", type=int, default=10)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.store_fixtures import populate_demo_run

    from flowqd.store import Store
    from flowqd.store.auth import TokenStore

    folder = Path(tempfile.mkdtemp(prefix="flowqd-bench-server-"))
    db = f"sqlite:///{folder / 'runs.sqlite'}"
    with Store(db) as store:
        populate_demo_run(store)
        token = TokenStore(store).create("viewer", name="bench")[1]
    proc, base = start_server(db, folder / "state")
    try:
        print(f"flowqd serve on {base} (loopback), {args.clients} clients, {args.seconds:g} s per route, "
              f"{os.cpu_count()} CPUs")
        print(f"{'route':34s} {'req/s':>8s} {'p50 ms':>8s} {'p95 ms':>8s}")
        for route in ROUTES:
            rps, p50, p95 = throughput(base, token, route, args.clients, args.seconds)
            print(f"{route:34s} {rps:8.0f} {p50:8.1f} {p95:8.1f}")
        if args.spectra > 0:
            lat = browser_latency(base, token, db, args.spectra)
            print(f"store → browser plot latency over {len(lat)} spectra: median "
                  f"{1000 * statistics.median(lat):.0f} ms, max {1000 * max(lat):.0f} ms (poll period 200 ms)")
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"command: python benchmarks/bench_server.py --clients {args.clients} --seconds {args.seconds:g} "
          f"--spectra {args.spectra}")


if __name__ == "__main__":
    main()
