"""Cost of the largest inputs the limits allow (issue 9), each measured in a fresh process (peak RSS).

- the largest campaign: a ``[sweep]`` of ``MAX_CONDITIONS`` (5000) conditions — parse, validate and pre-flight it
  (what ``flowqd run`` does before anything moves), and the refusal of a 3000 × 3000 sweep (9 million conditions);
- one spectrum at ``MAX_PIXELS`` (65 536): a simulated acquisition on the packaged platform with the UV-vis detector
  set to that many pixels.

Peak RSS includes the interpreter and numpy/pydantic (the "baseline" row: import flowqd.platform and nothing else).
The machine this ran on was shared with other jobs (load average ≈ 12 on 2 cores): wall times are pessimistic.

Run:  python benchmarks/bench_limits.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

CASES = {
    "baseline (import flowqd.platform)": "import flowqd.platform",
    "largest allowed sweep: 5000 conditions, validated + pre-flight": """
        from importlib.resources import files
        from flowqd.platform import campaign_from_text, platform_from_text
        from flowqd.platform.config import MAX_CONDITIONS
        from flowqd.platform.preflight import preflight
        p = platform_from_text((files("flowqd.platform") / "data" / "platform-wang-segets-2023.toml").read_text())
        text = ('name = "big"\\n[defaults]\\nn_spectra = 1\\n[sweep]\\n'
                'core_temperature_c = {start = 150.0, stop = 300.0, num = 1000}\\n'
                'core_flow_ml_min = {start = 0.05, stop = 0.3, num = 5}\\n')
        c = campaign_from_text(text, "big.toml")
        assert len(c.conditions) == MAX_CONDITIONS
        report = preflight(c, p)
        print(len(c.conditions), "conditions;", len(report.problems), "pre-flight problems (the reservoir)")
    """,
    "3000 x 3000 sweep: refused": """
        from flowqd.errors import FlowqdError
        from flowqd.platform import campaign_from_text
        text = ('name = "huge"\\n[sweep]\\ncore_temperature_c = {start = 150.0, stop = 300.0, num = 3000}\\n'
                'core_flow_ml_min = {start = 0.05, stop = 0.3, num = 3000}\\n')
        try:
            campaign_from_text(text, "huge.toml")
        except FlowqdError as exc:
            print(str(exc)[:120])
    """,
    "one spectrum at 65536 pixels (simulated acquisition)": """
        import math
        from importlib.resources import files
        from flowqd.devices import SimClock, build_devices
        from flowqd.platform import platform_from_text
        text = (files("flowqd.platform") / "data" / "platform-wang-segets-2023.toml").read_text()
        text = text.replace("pixels = 2048", "pixels = 65536", 1).replace('twin = "default"', 'twin = "surrogate"')
        p = platform_from_text(text, "p.toml")
        from flowqd.devices.sim import SurrogateTwin
        d = build_devices(p, SimClock(speedup=math.inf), twin=SurrogateTwin())
        d.uvvis.take_dark(); d.uvvis.take_reference()
        r = d.uvvis.acquire()
        print(r.counts.size, "pixels")
    """,
}

PROBE = """
import resource, time, sys
t0 = time.perf_counter()
{body}
print("@@", time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
"""


def main() -> None:
    print(f"command: {sys.executable} benchmarks/bench_limits.py")
    print(f"{'case':<66} {'wall s':>8} {'peak RSS MiB':>13}  note")
    out = {}
    for name, body in CASES.items():
        code = PROBE.format(body=textwrap.dedent(body))
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            print(f"{name:<66} FAILED: {done.stderr.strip().splitlines()[-1]}")
            continue
        lines = done.stdout.strip().splitlines()
        wall, rss = (float(x) for x in lines[-1].split()[1:])
        note = lines[0] if len(lines) > 1 else ""
        out[name] = {"wall_s": wall, "peak_rss_mib": rss}
        print(f"{name:<66} {wall:8.2f} {rss:13.0f}  {note}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
