"""The real CdSe series (Imperial teaching laboratory, MIT; tests/analysis/data/real-cdse) analysed with defaults.

Every UV-vis file of the nine hot-injection runs is analysed with only ``material="CdSe"`` (one result per column),
as ``flowqd analyze absorbance --material CdSe run*-uv-vis.csv`` does. Printed per run:

- how many spectra were analysed, and the fit residual (RMS over the fit window, as a fraction of the absorbance
  at the exciton): median, largest, and how many are at most 5 %;
- x1,3 and RSD at the first and the last aliquot, and x1,3 against Yu et al. 2003's curve applied to the peak;
- the experimenters' peak readings ("UV-Vis Peak Values.csv") against flowqd's exciton peak (the maximum, or the
  second-derivative minimum of a shoulder) and against the steepest point of the red edge
  (``edge_wavelength_nm``): the median difference and how many lie within 3 nm.

The runs' Cd:Se ratios (``cd-se-ratios.txt``): 1.33:1 for runs 2, 3, 6, 9; 1:3 for runs 4, 7; 1:5 for runs 5, 8.

Run:  python benchmarks/real_cdse.py
"""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "tests" / "analysis" / "data" / "real-cdse"


def readings() -> dict[int, dict[float, float]]:
    """The experimenters' readings: run -> {time s: wavelength nm}. Run 1 has its own time column."""
    rows = list(csv.reader((DATA / "UV-Vis Peak Values.csv").open(encoding="utf-8-sig")))
    out: dict[int, dict[float, float]] = {}
    for j, name in enumerate(rows[0]):
        if name.startswith("Run"):
            run = int(name.split()[1])
            tcol = 0 if run == 1 else 2
            out[run] = {float(r[tcol]): float(r[j]) for r in rows[1:] if r[j].strip() and r[tcol].strip()}
    return out


def main() -> None:
    from flowqd.analysis import analyze_absorbance, read_spectra
    from flowqd.materials import get_material

    yu = get_material("CdSe")
    refs = readings()
    t0 = time.perf_counter()
    total = dict(n=0, res5=0, peak3=0, edge3=0, refs=0)
    print(f"{'run':>3} {'n':>3} {'resid med':>9} {'max':>6} {'<=5%':>5}  {'x13 first/last (nm)':>19} "
          f"{'RSD first/last':>14} {'Yu(peak) last':>13}  {'peak-read':>9} {'<=3nm':>5}  {'edge-read':>9} {'<=3nm':>5}")
    for run in range(1, 10):
        results = [analyze_absorbance(s, material="CdSe") for s in read_spectra(DATA / f"run{run}-uv-vis.csv")]
        # no exciton found (a featureless early aliquot): no absorbance at the exciton to compare with (nan)
        res = np.array([r.fit_residual_relative for r in results])
        d_peak, d_edge = [], []
        for r in results:
            t = float(re.findall(r"[\d.]+", r.label)[0])
            if t in refs[run]:
                d_peak.append(r.peak_wavelength_nm - refs[run][t])
                d_edge.append(r.edge_wavelength_nm - refs[run][t])
        dp, de = np.array(d_peak), np.array(d_edge)
        first, last = results[0], results[-1]
        pk = last.peak_wavelength_nm
        yu_last = float(yu.diameter_from_wavelength_nm(pk)) if np.isfinite(pk) else float("nan")
        print(f"{run:>3} {len(results):>3} {100 * np.nanmedian(res):>8.1f}% {100 * np.nanmax(res):>5.1f}% "
              f"{int(np.sum(res <= 0.05)):>5}  {first.x13_nm:>9.2f} / {last.x13_nm:<7.2f} "
              f"{100 * first.psd.rsd:>6.0f} / {100 * last.psd.rsd:<5.0f} "
              f"{yu_last:>13.2f}  "
              f"{np.nanmedian(dp):>+9.1f} {int(np.sum(np.abs(dp) <= 3)):>2}/{dp.size:<2}  "
              f"{np.nanmedian(de):>+9.1f} {int(np.sum(np.abs(de) <= 3)):>2}/{de.size:<2}")
        total["n"] += len(results)
        total["res5"] += int(np.sum(res <= 0.05))
        total["peak3"] += int(np.sum(np.abs(dp) <= 3))
        total["edge3"] += int(np.sum(np.abs(de) <= 3))
        total["refs"] += dp.size
    print(f"all: {total['n']} spectra in {time.perf_counter() - t0:.1f} s; "
          f"residual <= 5 %: {total['res5']}/{total['n']}; "
          f"peak within 3 nm of the reading: {total['peak3']}/{total['refs']}; "
          f"red edge within 3 nm: {total['edge3']}/{total['refs']}")


if __name__ == "__main__":
    main()
