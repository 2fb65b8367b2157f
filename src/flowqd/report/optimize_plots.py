"""Figures of an optimisation campaign: progress, Pareto front, proposals over the twin's map, recommendation.

Inputs are the JSON-ready dicts ``flowqd optimize --json`` prints (:meth:`flowqd.optimize.loop.OptimizeResult.
to_dict`) and a :class:`flowqd.optimize.inverse.TwinMap`, so a stored result can be re-plotted without the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_inverse_map", "plot_progress", "plot_proposals_map", "write_optimize_report"]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _peak_map(ax: Any, m: Any, target_nm: float | None) -> None:
    tt, qq = np.meshgrid(m.temperature_c, m.flow_ml_min, indexing="ij")
    pc = ax.pcolormesh(tt, qq, 100.0 * m.rsd, shading="auto", cmap="viridis")
    ax.figure.colorbar(pc, ax=ax, label="twin RSD (%)")
    cs = ax.contour(tt, qq, m.peak_nm, levels=np.arange(480, 700, 20), colors="white", linewidths=0.6)
    ax.clabel(cs, fmt="%d nm", fontsize=7)
    if target_nm is not None:
        ax.contour(tt, qq, m.peak_nm, levels=[target_nm], colors="red", linewidths=1.5)
    ax.set_yscale("log")
    ax.set_xlabel("core temperature (°C)")
    ax.set_ylabel("core flow (mL/min)")


def plot_inverse_map(answer: Any, path: str | Path) -> Path:
    """The twin's peak contours over its RSD map, the target contour (red) and the best conditions (stars)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 5))
    _peak_map(ax, answer.map, answer.target_peak_nm)
    for k, c in enumerate(answer.candidates):
        ax.plot(c["core_temperature_c"], c["core_flow_ml_min"], "*", color="red" if k == 0 else "orange", ms=12)
    ax.set_title(f"twin: first exciton {answer.target_peak_nm:g} ± {answer.tolerance_nm:g} nm (red), best = star")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_progress(result: dict[str, Any], objectives: list[dict[str, Any]], path: str | Path) -> Path:
    """Each objective's outcome against experiment number (targets as bands, failed experiments as crosses)."""
    plt = _plt()
    n = max(len(objectives), 1)
    fig, axes = plt.subplots(n, 1, figsize=(7, 2.6 * n), sharex=True, squeeze=False)
    exps = result["experiments"]
    for ax, obj in zip(axes[:, 0], objectives, strict=False):
        name = obj["outcome"]
        xs = [e["index"] for e in exps if e["feasible"] and e["objectives"].get(name) is not None]
        ys = [e["objectives"][name] for e in exps if e["feasible"] and e["objectives"].get(name) is not None]
        ax.plot(xs, ys, "o-", label=name)
        for e in exps:
            if not e["feasible"]:
                ax.axvline(e["index"], color="red", alpha=0.3)
        if obj.get("target") is not None:
            t, tol = obj["target"], obj["tolerance"]
            ax.axhspan(t - tol, t + tol, color="green", alpha=0.2, label=f"target {t:g} ± {tol:g}")
        if result.get("target_hit_at"):
            ax.axvline(result["target_hit_at"], color="green", ls="--")
        ax.set_ylabel(name)
        ax.legend(fontsize=8)
    axes[-1, 0].set_xlabel("experiment (red: failed)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_pareto(result: dict[str, Any], x_outcome: str, y_outcome: str, path: str | Path, *,
                x_target: float | None = None) -> Path:
    """Feasible experiments in the plane of two outcomes; the non-dominated ones (minimising
    ``|x − x_target|`` or ``x``, and ``y``) joined as the Pareto front."""
    plt = _plt()
    pts = [(e["objectives"][x_outcome], e["objectives"][y_outcome], e["index"]) for e in result["experiments"]
           if e["feasible"] and e["objectives"].get(x_outcome) is not None
           and e["objectives"].get(y_outcome) is not None]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    if pts:
        a = np.array([(abs(x - x_target) if x_target is not None else x, y) for x, y, _ in pts])
        front = [i for i in range(len(a)) if not any(np.all(a[j] <= a[i]) and np.any(a[j] < a[i])
                                                     for j in range(len(a)))]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], c=[p[2] for p in pts], cmap="viridis")
        f = sorted((pts[i][0], pts[i][1]) for i in front)
        ax.plot([p[0] for p in f], [p[1] for p in f], "r-", label="Pareto front")
        for x, y, i in pts:
            ax.annotate(str(i), (x, y), fontsize=7)
    if x_target is not None:
        ax.axvline(x_target, color="green", ls="--", label=f"target {x_target:g}")
    ax.set_xlabel(x_outcome)
    ax.set_ylabel(y_outcome)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_proposals_map(result: dict[str, Any], twin_map: Any, path: str | Path, *,
                       target_nm: float | None = None) -> Path:
    """The proposals (numbered; red × failed) over the twin's map of the decision space; the best ringed."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 5))
    _peak_map(ax, twin_map, target_nm)
    for e in result["experiments"]:
        c = e["conditions"]
        t, q = c.get("core_temperature_c"), c.get("core_flow_ml_min")
        if t is None or q is None:
            continue
        ax.plot(t, q, "x" if not e["feasible"] else "o", color="red" if not e["feasible"] else "white", ms=8)
        ax.annotate(str(e["index"]), (t, q), color="white", fontsize=8, xytext=(4, 4), textcoords="offset points")
    best = result.get("best")
    if best:
        ax.plot(best["conditions"].get("core_temperature_c"), best["conditions"].get("core_flow_ml_min"), "o",
                mfc="none", mec="red", ms=16, mew=2)
    ax.set_title("proposals over the twin's map (contours: twin peak; red: target)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def write_optimize_report(result: dict[str, Any], objectives: list[dict[str, Any]], out_dir: str | Path, *,
                          twin_map: Any = None) -> dict[str, Path]:
    """Write the figures and ``recommendation.txt`` (the best condition with its predicted interval) to
    ``out_dir``; return the paths by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"progress": plot_progress(result, objectives, out / "progress.png")}
    target = next((o for o in objectives if o.get("target") is not None), None)
    goal = next((o for o in objectives if o.get("goal") is not None), None)
    if target is not None and goal is not None:
        paths["pareto"] = plot_pareto(result, target["outcome"], goal["outcome"], out / "pareto.png",
                                      x_target=target["target"])
    if twin_map is not None:
        paths["proposals"] = plot_proposals_map(result, twin_map, out / "proposals.png",
                                                target_nm=target["target"] if target and target["outcome"]
                                                == "peak_nm" else None)
    lines = []
    best = result.get("best")
    if best:
        cond = ", ".join(f"{k} = {v:g}" for k, v in best["conditions"].items())
        lines.append(f"recommended condition (experiment {best['index']}): {cond}")
        for k, v in best["objectives"].items():
            if v is None:
                continue
            pred = best.get("predicted", {}).get(k)
            band = ""
            if pred:
                lo, hi = pred["mean"] - 1.96 * pred["sd"], pred["mean"] + 1.96 * pred["sd"]
                band = f"; predicted before running {pred['mean']:.4g} (95 % interval {lo:.4g}-{hi:.4g})"
            lines.append(f"  {k}: measured {v:.4g}{band}")
    else:
        lines.append("no feasible experiment yet")
    (out / "recommendation.txt").write_text("\n".join(lines) + "\n")
    paths["recommendation"] = out / "recommendation.txt"
    return paths
