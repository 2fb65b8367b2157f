"""Ask/tell without automation: the next proposal from every stored result (any run, manual ones included)."""

from __future__ import annotations

import math
from typing import Any

from flowqd.optimize.bo import Observation, Optimizer, Proposal
from flowqd.optimize.campaign import OptimizeCampaign, variable_bounds
from flowqd.optimize.loop import _outcomes_of
from flowqd.platform.config import PlatformConfig

__all__ = ["stored_observations", "suggest_next"]


def stored_observations(campaign: OptimizeCampaign, store: Any) -> list[Observation]:
    """Every finished condition in ``store`` inside the campaign's space (variables within bounds, fixed keys equal).

    A condition is feasible when it completed with every modelled outcome; a failed condition is infeasible.
    """
    bounds = variable_bounds(campaign)
    fixed = {k: v for k, v in campaign.fixed.items() if k in ("core_units", "shell", "shell_temperature_c",
                                                                "ddt_flow_ml_min", "shell_units")}
    out = []
    for run in sorted(store.list_runs(), key=lambda r: r.id):
        for row in store.results_table(run.id):
            if row["status"] not in ("completed", "failed"):
                continue
            x = {n: row.get(n) for n in bounds}
            if any(v is None or not lo <= float(v) <= hi for v, (lo, hi) in zip(x.values(), bounds.values(),
                                                                             strict=True)):
                continue
            if bool(row.get("shell")) != bool(campaign.fixed.get("shell", False)):
                continue  # a core/shell result says nothing about a core campaign (and back)
            if any(row.get(k) is not None and row.get(k) != v for k, v in fixed.items()):
                continue
            outcomes = _outcomes_of(row, math.nan)
            feasible = row["status"] == "completed" and all(outcomes.get(o) is not None
                                                            for o in campaign.modelled_outcomes() if o != "stock_ml")
            out.append(Observation({k: float(v) for k, v in x.items()}, outcomes, feasible))
    return out


def suggest_next(campaign: OptimizeCampaign, platform: PlatformConfig, store: Any, *,
                 twin: Any = None) -> tuple[Proposal, list[Observation]]:
    """The next proposal (its index = the number of stored observations) and the observations used."""
    bounds = variable_bounds(campaign, platform)
    obs = stored_observations(campaign, store)
    prior = None
    if campaign.design.twin_prior:
        from flowqd.optimize.twin_prior import twin_grid_prior

        prior = twin_grid_prior(campaign, bounds, twin)
    return Optimizer(campaign, bounds, prior=prior).propose(obs, len(obs))[0], obs
