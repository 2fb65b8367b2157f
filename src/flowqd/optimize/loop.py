"""The closed loop on the platform: propose → guard → run engine → stored analyses → objectives → next proposal.

One optimisation campaign is one stored run (``notes = "flowqd optimize"``; its ``campaign_toml`` is the
optimisation campaign). Experiment ``i`` is condition ``i`` of that run. Every proposal is committed as an
``optimize.proposal`` event (decision values, the model's predicted mean and σ per outcome, acquisition function and
value, the optimiser's settings and seed) **before** any set point is sent; its outcome is read back from the
stored inline analyses (:meth:`flowqd.store.Store.results_table`), never from memory.

**Resume** (``resume_run_id``, e.g. after ``kill -9``): stored proposals are reused, never recomputed; a completed
experiment is never repeated; an experiment that was running is resumed by the run engine (its stored spectra are
kept); a proposal not yet stored is recomputed — deterministically, from the same seed and stored outcomes.

**Failures**: an experiment without a usable outcome (no exciton in range, analysis error) or whose condition
failed is *infeasible*: the optimiser's feasibility model learns the region. An interlock trip stops the campaign
(status ``tripped``; a person must look at the platform); ``--resume`` after the fix counts the tripped
experiment as failed and goes on with the next proposal — it is not repeated.

**Guard**: a proposal is checked against the platform's limits and pre-flight (:func:`~flowqd.platform.
check_campaign`, :func:`~flowqd.platform.preflight`) before the engine sees it; one outside is refused with a
:class:`~flowqd.errors.RangeError` and nothing is sent to the devices.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flowqd.errors import ConfigError, InterlockTrip, RangeError
from flowqd.optimize.bo import Observation, Optimizer, Proposal, TwinGridPrior
from flowqd.optimize.campaign import OptimizeCampaign, optimize_campaign_from_text, variable_bounds
from flowqd.platform.config import CampaignConfig, PlatformConfig
from flowqd.platform.preflight import preflight

__all__ = ["NOTES", "Experiment", "OptimizeLoop", "OptimizeResult", "check_proposal", "experiments_from_store"]

NOTES = "flowqd optimize"
PROPOSAL_EVENT = "optimize.proposal"
FAILED_EVENT = "optimize.failed"


@dataclass
class Experiment:
    """One experiment of an optimisation run: set points, outcomes (stored analyses) and feasibility."""

    index: int
    conditions: dict[str, Any]
    objectives: dict[str, float | None]
    feasible: bool
    status: str
    meets_targets: bool = False
    proposal: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index + 1, "conditions": self.conditions, "objectives": self.objectives,
                "feasible": self.feasible, "status": self.status, "meets_targets": self.meets_targets,
                "proposal": self.proposal}


@dataclass
class OptimizeResult:
    """The campaign's state (what ``flowqd optimize --json`` prints)."""

    run_id: int
    status: str
    experiments: list[Experiment]
    best: dict[str, Any] | None
    target_hit_at: int | None
    stock_used_ml: float
    platform_hours: float
    stop_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "stop_reason": self.stop_reason,
                "experiments": [e.to_dict() for e in self.experiments], "best": self.best,
                "target_hit_at": self.target_hit_at, "stock_used_ml": self.stock_used_ml,
                "platform_hours": self.platform_hours}


def check_proposal(campaign: OptimizeCampaign, platform: PlatformConfig, x: dict[str, float], label: str) -> Any:
    """The condition for ``x``, or :class:`RangeError` when the platform cannot run it (limits, pre-flight)."""
    bounds = variable_bounds(campaign)
    for name, (lo, hi) in bounds.items():
        v = x.get(name)
        if v is None or not math.isfinite(v) or not lo <= v <= hi:
            raise RangeError(f"proposal {label}: {name} = {v!r} outside the campaign's bounds {lo:g}-{hi:g}; "
                             "not sent to the devices")
    try:
        cond = campaign.condition(x, label)
    except ValueError as exc:
        raise RangeError(f"proposal {label}: {exc}; not sent to the devices") from None
    one = CampaignConfig(name=campaign.name, conditions=(cond,))
    one._source = f"proposal {label}"
    report = preflight(one, platform)  # the platform's limits (check_campaign), stock, pressure
    if not report.ok:
        raise RangeError(f"{'; '.join(report.problems)}; not sent to the devices")
    return cond


class _Recorder:
    """The store as the engine's recorder, with experiments the optimiser closed as failed counted as done."""

    def __init__(self, store: Any, closed: set[int]) -> None:
        self._store = store
        self._closed = closed

    def completed_conditions(self, run_id: int) -> list[int]:
        return sorted(set(self._store.completed_conditions(run_id)) | self._closed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _outcomes_of(row: dict[str, Any], stock_ml: float) -> dict[str, float | None]:
    keys = ("peak_nm", "x13_nm", "rsd", "pl_peak_nm", "pl_fwhm_nm", "plqy", "cie_x", "cie_y", "production_rate_mg_h")
    out: dict[str, float | None] = {}
    for k in keys:
        v = row.get(k)
        out[k] = float(v) if v is not None and math.isfinite(float(v)) else None
    out["stock_ml"] = stock_ml
    return out


def experiments_from_store(store: Any, run_id: int, campaign: OptimizeCampaign) -> tuple[list[Experiment], float,
                                                                                         float]:
    """The run's experiments (from stored conditions, analyses and proposal events), stock used (mL), hours."""
    rows = {r["index"]: r for r in store.results_table(run_id)}
    events = store.events(run_id)
    proposals = {int(e.details["index"]): e.details for e in events if e.kind == PROPOSAL_EVENT}
    failed = {int(e.details["index"]) for e in events if e.kind == FAILED_EVENT}
    # Platform time of an experiment: from its last start to its end (the clock restarts with every session, so a
    # resumed experiment counts from its resumption; the part lost with a killed session is not counted).
    starts: dict[int, float] = {}
    ends: dict[int, float] = {}
    for e in events:
        idx = (e.details or {}).get("index", (e.details or {}).get("condition"))
        if idx is None or e.t_s is None:
            continue
        if e.kind == "condition.started":
            starts[int(idx)] = float(e.t_s)
        if e.kind == "condition.completed" or e.kind.startswith("interlock."):
            ends[int(idx)] = float(e.t_s)
    out: list[Experiment] = []
    stock_total = seconds = 0.0
    for i in sorted(rows):
        r = rows[i]
        t0, t1 = starts.get(i), ends.get(i)
        span_s = max(t1 - t0, 0.0) if t0 is not None and t1 is not None else 0.0
        stock = r["core_flow_ml_min"] * span_s / 60.0
        stock_total += stock
        seconds += span_s
        outcomes = _outcomes_of(r, stock)
        done = r["status"] == "completed" or i in failed or r["status"] == "failed"
        if not done:
            continue
        modelled = campaign.modelled_outcomes()
        feasible = r["status"] == "completed" and i not in failed and outcomes.get("peak_nm") is not None \
            and all(outcomes.get(o) is not None for o in modelled)
        conds = {k: r[k] for k in campaign.variable_names}
        exp = Experiment(i, conds, {o: outcomes.get(o) for o in dict.fromkeys((*modelled, "peak_nm", "stock_ml"))},
                         feasible, "completed" if feasible else "failed",
                         feasible and campaign.meets_targets(outcomes), proposals.get(i, {}))
        out.append(exp)
    return out, stock_total, seconds / 3600.0


def _best(campaign: OptimizeCampaign, experiments: list[Experiment]) -> dict[str, Any] | None:
    """The best feasible experiment: meets the targets first, then the first goal, then target distance."""
    feas = [e for e in experiments if e.feasible]
    if not feas:
        return None
    goals = [o for o in campaign.objectives if not o.is_target]
    targets = [o for o in campaign.objectives if o.is_target]

    def key(e: Experiment) -> tuple[float, float, float]:
        dist = sum(abs((e.objectives.get(o.outcome) or math.inf) - (o.target or 0.0)) / (o.tolerance or 1.0)
                   for o in targets)
        g = 0.0
        if goals:
            v = e.objectives.get(goals[0].outcome)
            g = math.inf if v is None else (-v if goals[0].goal == "maximize" else v)
        return (0.0 if e.meets_targets else 1.0, g if e.meets_targets else dist, dist)

    b = min(feas, key=key)
    return {"index": b.index + 1, "conditions": b.conditions, "objectives": b.objectives,
            "meets_targets": b.meets_targets, "predicted": b.proposal.get("predicted", {})}


class OptimizeLoop:
    """Run an optimisation campaign on a platform (see the module docstring).

    Parameters
    ----------
    platform : PlatformConfig
    store : flowqd.store.Store
    make_engine : callable
        ``make_engine(recorder) -> RunEngine`` on the loop's devices and clock (a fresh engine per experiment:
        a trip latches in its engine).
    twin : object, optional
        The optimiser's twin for the prior (default ``Twin.default()``); never the simulated plant's.
    on_proposal : callable, optional
        Called with each :class:`Proposal` before it runs.
    """

    def __init__(self, platform: PlatformConfig, store: Any, make_engine: Callable[[Any], Any], *,
                 twin: Any = None, on_proposal: Callable[[Proposal], None] | None = None) -> None:
        self.platform = platform
        self.store = store
        self.make_engine = make_engine
        self.twin = twin
        self.on_proposal = on_proposal

    def start(self, campaign: OptimizeCampaign) -> int:
        """Create the run (after checking the bounds against the platform); return its id."""
        variable_bounds(campaign, self.platform)
        run_id = self.store.start_run(campaign.name, platform_toml=self.platform.text, campaign_toml=campaign.text,
                                      notes=NOTES)
        self.store.record_event(run_id, "optimize.started", f"optimisation campaign {campaign.name!r}",
                                details={"design": campaign.design.model_dump(),
                                         "budget": campaign.budget.model_dump()})
        return run_id

    def campaign_of(self, run_id: int) -> OptimizeCampaign:
        """The optimisation campaign stored with run ``run_id``."""
        run = self.store.get_run(run_id)
        if run.notes != NOTES:
            raise ConfigError(f"run {run_id} is not an optimisation run (`flowqd run --resume {run_id}` resumes "
                              "a fixed campaign)")
        return optimize_campaign_from_text(run.campaign_toml, f"<run {run_id} optimisation campaign>")

    def result(self, run_id: int, campaign: OptimizeCampaign, status: str, reason: str = "") -> OptimizeResult:
        exps, stock, hours = experiments_from_store(self.store, run_id, campaign)
        hit = next((e.index + 1 for e in exps if e.meets_targets), None)
        return OptimizeResult(run_id, status, exps, _best(campaign, exps), hit, stock, hours, reason)

    def run(self, run_id: int) -> OptimizeResult:
        """Run (or resume) optimisation run ``run_id`` until the target, the budget or a trip."""
        campaign = self.campaign_of(run_id)
        bounds = variable_bounds(campaign, self.platform)
        prior: TwinGridPrior | None = None
        if campaign.design.twin_prior:
            from flowqd.optimize.twin_prior import twin_grid_prior

            prior = twin_grid_prior(campaign, bounds, self.twin)
        optimizer = Optimizer(campaign, bounds, prior=prior)
        budget = campaign.budget
        self.store.set_run_status(run_id, "running")
        ran_here: set[int] = set()  # experiments run by this session (they drew on this session's reservoir)
        while True:
            exps, stock, hours = experiments_from_store(self.store, run_id, campaign)
            done = {e.index for e in exps}
            index = len(done)
            assert done == set(range(index)), f"experiments {sorted(done)} are not 0..{index - 1}"
            reason = ""
            if budget.stop_at_target and any(e.meets_targets for e in exps):
                reason = "target reached"
            elif index >= budget.experiments:
                reason = f"experiment budget ({budget.experiments}) used"
            elif budget.stock_ml is not None and stock >= budget.stock_ml:
                reason = f"stock budget ({budget.stock_ml:g} mL) used"
            elif budget.hours is not None and hours >= budget.hours:
                reason = f"time budget ({budget.hours:g} h) used"
            if reason:
                self.store.record_event(run_id, "optimize.completed", reason, details={"experiments": index})
                self.store.finish_run(run_id, "completed")
                return self.result(run_id, campaign, "completed", reason)
            proposal = self._proposal(run_id, optimizer, exps, index)
            label = f"experiment {index + 1}"
            cond = check_proposal(campaign, self.platform, proposal.x, label)
            used_ml = sum(e.objectives.get("stock_ml") or 0.0 for e in exps if e.index in ran_here)
            short = self._stock_short(campaign, cond, used_ml)
            if short:
                self.store.record_event(run_id, "optimize.paused", short, level="warning",
                                        details={"index": index})
                self.store.set_run_status(run_id, "paused")
                return self.result(run_id, campaign, "paused", short)
            if self.on_proposal is not None:
                self.on_proposal(proposal)
            conditions = [*(campaign.condition(e.conditions, f"experiment {e.index + 1}") for e in exps), cond]
            run_campaign = CampaignConfig(name=campaign.name, conditions=tuple(conditions))
            run_campaign._source = campaign.source
            closed = {e.index for e in exps}
            ran_here.add(index)
            engine = self.make_engine(_Recorder(self.store, closed))
            try:
                engine.run(run_campaign, resume_run_id=run_id)
            except InterlockTrip as exc:
                self.store.record_event(run_id, FAILED_EVENT, f"{label} failed: {exc}", level="error",
                                        details={"index": index, "reason": "interlock"})
                return self.result(run_id, campaign, "tripped", str(exc))
            self.store.set_run_status(run_id, "running")

    def _stock_short(self, campaign: OptimizeCampaign, cond: Any, used_ml: float) -> str:
        """Why the reservoir cannot supply ``cond`` after ``used_ml`` of this session (empty when it can)."""
        one = CampaignConfig(name=campaign.name, conditions=(cond,))
        plan = preflight(one, self.platform).plans[0]
        pump = self.platform.devices.core_pump
        need = plan.stock_ml + 2 * pump.syringe_volume_ml
        left = pump.reservoir_ml - used_ml
        if need <= left:
            return ""
        return (f"{cond.label} needs about {need:.1f} mL of stock (with two syringe fillings) but about {left:.1f} mL "
                "are left in the reservoir: refill it, then resume")

    def _proposal(self, run_id: int, optimizer: Optimizer, exps: list[Experiment], index: int) -> Proposal:
        stored = [e for e in self.store.events(run_id, PROPOSAL_EVENT) if int(e.details["index"]) == index]
        if stored:
            return Proposal.from_dict(stored[0].details)
        obs = [Observation({k: float(v) for k, v in e.conditions.items()}, e.objectives, e.feasible) for e in exps]
        proposals = optimizer.propose(obs, index)
        for p in proposals:  # a batch (q > 1) is stored whole: the later ones are reused, not recomputed
            self.store.record_event(run_id, PROPOSAL_EVENT, f"experiment {p.index + 1}: {p.kind} proposal "
                                    + ", ".join(f"{k} {v:g}" for k, v in p.x.items()), details=p.to_dict())
        return proposals[0]
