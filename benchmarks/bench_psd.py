"""Throughput of the PSD inversion (Segets method) on 2048-pixel spectra.

Compares, on the SAME regularised problem (same kernel, same per-spectrum GCV λ, same island pruning):

- ``scipy.optimize.nnls`` per spectrum on the stacked (N+M)×M matrix [K; sqrt(λ) L] (the issue's reference) and
  on the identical reduced M×M system (``form="reduced"``), spectra/s;
- :func:`flowqd.analysis.psd.invert_psd_batch` throughput with the numpy backend on one thread and on all usable
  cores (threads over row chunks), and with JAX (GCV, solve, pruning, moments), with the largest |Δx13| and |ΔRSD|
  against the scipy reference;
- the single-spectrum latency of :func:`flowqd.analysis.psd.invert_psd` (default method, full path: baseline checks,
  exciton, window, cached kernel, GCV, solve, pruning, uncertainty) and of the bare solves.

JAX picks its default device (CPU here; a GPU unchanged when one is visible); the spectra are put on the device
once before timing, so that host-to-device copies are not counted. float64 is the default; ``--dtype float32``
is faster on GPUs.

Run:  python benchmarks/bench_psd.py [--batch 2000] [--repeats 5] [--backend numpy,jax] [--dtype float64]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def make_spectra(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from flowqd.analysis.psd import diameter_grid_nm, forward_absorbance, psd_lognormal
    from flowqd.units import HC_EV_NM

    wl = np.linspace(400.0, 900.0, 2048)  # the paper's 2048-pixel spectrometer
    e = HC_EV_NM / wl
    grid = diameter_grid_nm()
    rng = np.random.default_rng(seed)
    x13 = rng.uniform(2.5, 3.6, n)
    rsd = rng.uniform(0.06, 0.16, n)
    q = np.stack([psd_lognormal(grid, x, r) for x, r in zip(x13, rsd, strict=True)])
    A = forward_absorbance(grid, q, e)
    A = A + rng.normal(0.0, 0.005, A.shape)
    return wl, e, A


def best_of(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    t = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=2000, help="spectra per batch (default 2000)")
    ap.add_argument("--repeats", type=int, default=5, help="timing repeats, best is reported (default 5)")
    ap.add_argument("--backend", default="numpy,jax", help="comma list of batched backends (numpy, jax)")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"], help="JAX dtype")
    ap.add_argument("--scipy-n", type=int, default=100, help="spectra timed with scipy nnls (default 100)")
    args = ap.parse_args(argv)

    from flowqd.analysis.exciton import noise_level_estimate
    from flowqd.analysis.psd import (
        invert_psd,
        invert_psd_batch,
        offset_floor,
        prune_islands,
        regularized_problem,
        select_lambda_gcv,
        solve_nnls_scipy,
    )
    from flowqd.analysis.psd.batch import _batch_workers
    from flowqd.analysis.psd.kernel import _moments_from_p
    from flowqd.analysis.psd.solvers import _batch_solve
    from flowqd.analysis.spectrum import Spectrum

    wl, e, A = make_spectra(args.batch)
    prob = regularized_problem(e)
    m = prob.n_classes
    shifted = A - offset_floor(e, A)[:, None]  # the offset's lower bound, as invert_psd and the batch apply it
    As = shifted / np.abs(shifted).max(axis=1, keepdims=True)
    lam = select_lambda_gcv(prob, As)

    # scipy references (same λ, same pruning) on the first scipy-n spectra
    ns = min(args.scipy_n, args.batch)
    refs = {form: np.zeros((ns, 2)) for form in ("stacked", "reduced")}

    def run_scipy(form: str) -> None:
        for i in range(ns):
            gcv = select_lambda_gcv(prob, As[i])  # per spectrum, as a per-spectrum pipeline would
            x = solve_nnls_scipy(prob, As[i], float(gcv), form=form)
            off = prob.kernel[:, m:] @ x[m:]
            p = prune_islands(prob.kernel[:, :m], x[:m], As[i] - off, noise_level_estimate(As[i]))
            x13, _, rsd = _moments_from_p(prob.diameter_nm, p)
            refs[form][i] = x13, rsd

    rates = {form: ns / best_of(lambda form=form: run_scipy(form), 1) for form in refs}
    ref = refs["stacked"]
    d_red = np.abs(refs["reduced"] - ref).max(axis=0)

    def fmt(rate: float, dx: float | str, dr: float | str) -> tuple[str, str, str, str, str]:
        return (f"{rate:,.0f}", f"{rate / rates['stacked']:.1f}x", f"{rate / rates['reduced']:.1f}x",
                dx if isinstance(dx, str) else f"{dx:.1e}", dr if isinstance(dr, str) else f"{dr:.1e}")

    rows = [("scipy nnls stacked (N+M)xM", *fmt(rates["stacked"], "reference", "reference")),
            ("scipy nnls reduced MxM", *fmt(rates["reduced"], d_red[0], 100 * d_red[1]))]
    cores = _batch_workers(None, 10**9)
    runs: list[tuple[str, int | None]] = []
    for backend in [b.strip() for b in args.backend.split(",") if b.strip()]:
        if backend == "numpy":
            runs += [("numpy", 1)] + ([("numpy", None)] if cores > 1 else [])
        else:
            runs.append((backend, None))
    for backend, workers in runs:
        data = A
        if backend == "jax":
            import jax

            with jax.enable_x64(args.dtype == "float64"):
                data = jax.device_put(A.astype(args.dtype))  # on the device once, outside the timing

        def run(backend: str = backend, data: object = data, workers: int | None = workers):  # type: ignore[no-untyped-def]
            return invert_psd_batch(e, data, backend=backend, dtype=args.dtype, workers=workers)

        res = run()  # warm-up (JIT compile for jax)
        t = best_of(run, args.repeats)
        dx = float(np.max(np.abs(res.x13_nm[:ns] - ref[:, 0])))
        dr = float(np.max(np.abs(res.rsd[:ns] - ref[:, 1]))) * 100
        label = f"batch {backend}" + (f" {args.dtype}" if backend == "jax" else "")
        if backend == "numpy":
            n_threads = _batch_workers(workers, args.batch)
            label += f" {n_threads} thread" + ("s" if n_threads > 1 else "")
        rows.append((label + f" (B={args.batch})", *fmt(args.batch / t, dx, dr)))

    # single-spectrum latency
    reps = max(args.repeats, 20)
    s0 = Spectrum(wl, A[0])
    invert_psd(s0)  # warm the kernel cache
    t_full_pdas = best_of(lambda: invert_psd(s0), reps)  # default method: pdas
    t_full = best_of(lambda: invert_psd(s0, method="nnls-gcv"), reps)
    t_stacked = best_of(lambda: solve_nnls_scipy(prob, As[0], lam[0], form="stacked"), reps)
    t_reduced = best_of(lambda: solve_nnls_scipy(prob, As[0], lam[0]), reps)
    t_pdas = best_of(lambda: _batch_solve(prob, As[:1], lam[:1], "numpy"), reps)

    print(f"# {' '.join(['python', 'benchmarks/bench_psd.py', *(sys.argv[1:] if argv is None else argv)])}")
    print(f"# 2048-pixel spectra 400-900 nm, {m} size classes + offset, numpy {np.__version__}")
    print(f"{'solver':<34} {'spectra/s':>10} {'x stacked':>10} {'x reduced':>10} {'max|dx13| nm':>13}"
          f" {'max|dRSD| pp':>13}")
    for r in rows:
        print(f"{r[0]:<34} {r[1]:>10} {r[2]:>10} {r[3]:>10} {r[4]:>13} {r[5]:>13}")
    print(f"# {cores} usable cores; the scipy references run one spectrum at a time on one core")
    print(f"single spectrum (best of {reps}): invert_psd full path {1e3 * t_full_pdas:.2f} ms (default, pdas), "
          f"{1e3 * t_full:.2f} ms (nnls-gcv); bare solve: scipy stacked {1e3 * t_stacked:.2f} ms, "
          f"scipy reduced {1e3 * t_reduced:.2f} ms, PDAS (numpy, B=1, incl. GCV) {1e3 * t_pdas:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
