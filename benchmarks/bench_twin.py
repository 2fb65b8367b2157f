"""Twin throughput: batched lockstep PBE (numpy, JAX CPU) vs a per-condition scipy BDF solve of the same model.

Run::

    .venv/bin/python benchmarks/bench_twin.py [--n-temperatures 40 --n-flows 25 --n-scipy 6]

Grid: ``n_temperatures`` set points in 150–300 °C × ``n_flows`` flows in 0.03–1.5 mL/min (log-spaced), one HB1
unit: 1,000 conditions by default.  "Core" = conditions → RTD-weighted outlet PSD, x1,3, RSD, conversion
(:func:`flowqd.twin.core.core_outlet`); "full" adds hydraulics and the forward absorbance spectrum + exciton peak
(:meth:`flowqd.twin.Twin.predict_batch`).  The scipy reference integrates the method-of-lines form of the same
semi-discrete model (:func:`flowqd.kinetics.pbe.mol_rhs`: upwind FV, identical fluxes, nucleation placement and
boundaries) with ``solve_ivp(method="BDF", rtol=1e-6, atol=1e-10)`` for each condition and applies the same RTD
weights; the batched solver is compared in its matching configuration (``fct=False``) — max |Δx1,3| is printed.
The production configuration adds the FCT antidiffusion (no MOL analogue) and is timed too.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-temperatures", type=int, default=40)
    ap.add_argument("--n-flows", type=int, default=25)
    ap.add_argument("--n-scipy", type=int, default=6, help="conditions solved with scipy BDF (timed, compared)")
    ap.add_argument("--skip-jax", action="store_true")
    args = ap.parse_args(argv)

    from scipy.integrate import solve_ivp

    from flowqd.kinetics.pbe import mol_rhs, time_grid_s
    from flowqd.reactor.heatup import heating_time_constant_s
    from flowqd.twin import Conditions, Twin
    from flowqd.twin.core import _hb1_rtds, _rtd_end_min, _weights, core_outlet, psd_statistics

    twin = Twin.default()
    prm = twin.parameters
    temps = np.linspace(150.0, 300.0, args.n_temperatures)
    flows = np.geomspace(0.03, 1.5, args.n_flows)
    conds = [Conditions(float(t), float(q)) for t in temps for q in flows]
    n = len(conds)
    rows = []

    def timed(label: str, fn, repeat: int = 2) -> tuple[float, object]:
        fn()  # warm-up (JIT compile, caches)
        best, out = np.inf, None
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t0)
        rows.append((label, best, n / best))
        return best, out

    upwind = dataclasses.replace(prm.numerics, fct=False)
    kw = dict(feed_in_mol_m3=prm.feed_in_mol_m3)
    _, base_np = timed("core, numpy, FCT (production)", lambda: core_outlet(conds, prm.kinetics, numerics=prm.numerics,
                                                                            backend="numpy", **kw))
    _, up_np = timed("core, numpy, upwind (= scipy model)", lambda: core_outlet(conds, prm.kinetics, numerics=upwind,
                                                                                backend="numpy", **kw))
    if not args.skip_jax:
        _, base_jx = timed("core, JAX CPU, FCT (production)", lambda: core_outlet(
            conds, prm.kinetics, numerics=prm.numerics, backend="jax", **kw))
        agree = float(np.nanmax(np.abs(base_jx.x13_nm - base_np.x13_nm)))
    else:
        agree = float("nan")
    timed("full predict_batch (numpy + spectra)", lambda: twin.predict_batch(conds, backend="numpy"), repeat=1)

    # --- scipy BDF per condition, same semi-discrete model (upwind), same RTD weights ---------------------------
    rng_idx = np.linspace(0, n - 1, args.n_scipy).round().astype(int)
    grid = upwind.grid
    rtds = _hb1_rtds([conds[i] for i in rng_idx])
    dx = []
    t_scipy = 0.0
    for rtd, i in zip(rtds, rng_idx, strict=True):
        c = conds[i]
        t_end = 60.0 * _rtd_end_min(rtd, upwind)
        t_eval = time_grid_s(t_end, dt_min_s=upwind.dt_min_s, ratio=upwind.ratio, dt_max_s=upwind.dt_max_s)
        tau_h = float(heating_time_constant_s(0.5 * (c.core_temperature_c + upwind.inlet_temperature_c)))
        t_set, t_in = c.core_temperature_c, upwind.inlet_temperature_c
        rhs = mol_rhs(prm.kinetics, grid, lambda s, t_set=t_set, tau_h=tau_h, t_in=t_in: 273.15 + t_set
                      - (t_set - t_in) * np.exp(-s / tau_h), prm.feed_in_mol_m3)
        y0 = np.zeros(grid.n_cells + 5)
        y0[0] = prm.feed_in_mol_m3
        t0 = time.perf_counter()
        sol = solve_ivp(rhs, (0.0, t_eval[-1]), y0, method="BDF", t_eval=t_eval, rtol=1e-6, atol=1e-10)
        w = _weights(rtd, t_eval)
        number = w @ sol.y[5:].T
        t_scipy += time.perf_counter() - t0
        x_ref = psd_statistics(grid.diameters_nm, number)[1][0]
        dx.append((abs(x_ref - up_np.x13_nm[i]), c.core_temperature_c, c.core_flow_ml_min))
    per_scipy = t_scipy / len(rng_idx)
    rows.append((f"scipy solve_ivp BDF per condition (mean of {len(rng_idx)})", per_scipy * n, 1.0 / per_scipy))

    cmd = "benchmarks/bench_twin.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"command: .venv/bin/python {cmd.strip()}")
    print(f"grid: {args.n_temperatures} T (150-300 °C) x {args.n_flows} flows (0.03-1.5 mL/min) = {n} conditions, "
          f"{grid.n_cells} size cells, Richardson-extrapolated implicit steps")
    print(f"{'method':48s} {'time for grid (s)':>18s} {'conditions/s':>14s} {'speed-up vs scipy':>18s}")
    for label, t, rate in rows:
        print(f"{label:48s} {t:18.3f} {rate:14.1f} {rate * per_scipy:18.0f}")
    worst = max(dx)
    print(f"max |Δx13| batched upwind vs scipy BDF (same model, {len(dx)} conditions): {worst[0]:.4f} nm "
          f"(at {worst[1]:.0f} °C, {worst[2]:.3g} mL/min)")
    if not args.skip_jax:
        print(f"max |Δx13| numpy vs JAX (production scheme, all conditions): {agree:.2e} nm")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
