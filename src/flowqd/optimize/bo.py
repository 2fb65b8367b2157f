"""The optimiser: BoTorch Gaussian processes and log-EI acquisition functions, deterministic for a given seed.

Ask/tell without state: :meth:`Optimizer.propose` takes every observation so far and the index of the next
experiment and returns the next proposal(s). The same campaign, seed and observations give the same proposal, so a
campaign killed at any moment resumes with the proposal sequence of an uninterrupted run.

Models (one independent :class:`botorch.models.SingleTaskGP` per modelled outcome, in a ``ModelListGP``; inputs
scaled to the unit cube — log scale for ``log = true`` variables — and outcomes standardised):

* each outcome's GP is trained on the *feasible* experiments only;
* a **feasibility** GP on the indicator (1 = feasible, 0 = failed: no exciton, clog, interlock trip), trained on
  every experiment once one has failed, enters the acquisition as the constraint ``0.5 − f(x) ≤ 0`` — the optimiser
  learns to stay away from a region that makes no dots (Gelbart et al. 2014, arXiv:1403.5607; Hernández-Lobato et
  al. 2016, JMLR 17:1-53, for GP-modelled unknown constraints);
* with ``twin_prior`` the GP's prior **mean** is the digital twin: a GP fitted to the twin's predictions on a grid
  over the decision space (a low-fidelity source, all library code), scaled to the outcome's standardisation with
  a learnt offset and gain, so the data only have to teach the plant–twin *difference*.

Acquisition (all MC, noisy, log-transformed for stable optimisation — Ament et al. 2023, "Unexpected Improvements
to Expected Improvement", NeurIPS, arXiv:2310.20708):

* **reach** phase (no experiment meets every target yet, or no minimise/maximise objective): qLogNEI on
  ``−Σ |y_i − target_i| / tolerance_i`` with the outcome constraints;
* **refine** phase (a target has been met and one goal): qLogNEI on the goal with ``|y − target| ≤ tolerance`` as
  constraints; two or more goals: qLogNEHVI (Daulton et al. 2021, NeurIPS, arXiv:2105.08195) or qLogNParEGO.

Determinism: torch seeded with ``seed + index``, quasi-MC base samples and raw restarts seeded, fixed
``restarts``/``raw_samples``, double precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from flowqd.errors import RangeError
from flowqd.optimize.campaign import OptimizeCampaign

__all__ = ["Observation", "Optimizer", "Proposal", "TwinGridPrior"]

_FEASIBLE = "feasible"


@dataclass(frozen=True)
class Observation:
    """One finished experiment: decision values, outcomes (``None`` where not measured) and feasibility."""

    x: dict[str, float]
    outcomes: dict[str, float | None]
    feasible: bool


@dataclass(frozen=True)
class Proposal:
    """One proposed experiment with its provenance (stored with the experiment)."""

    index: int
    x: dict[str, float]
    kind: str  # "sobol" or "model"
    phase: str = "initial"
    acquisition: str = ""
    acquisition_value: float | None = None
    predicted: dict[str, dict[str, float]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Proposal:
        return cls(**d)


@dataclass(frozen=True)
class TwinGridPrior:
    """The twin's predictions on a grid of the decision space: ``x`` (dicts) and ``outcomes`` (name → values).

    NaN marks a grid point where the twin predicts no value (e.g. no exciton); it is left out of that outcome's
    prior fit.
    """

    x: tuple[dict[str, float], ...]
    outcomes: dict[str, np.ndarray]


class Optimizer:
    """Propose the next experiments of an :class:`~flowqd.optimize.campaign.OptimizeCampaign`.

    Parameters
    ----------
    campaign : OptimizeCampaign
    bounds : dict
        ``variable -> (low, high)`` (checked against the platform by
        :func:`~flowqd.optimize.campaign.variable_bounds`).
    prior : TwinGridPrior, optional
        The twin on a grid (used when ``campaign.design.twin_prior``).
    """

    def __init__(self, campaign: OptimizeCampaign, bounds: dict[str, tuple[float, float]], *,
                 prior: TwinGridPrior | None = None) -> None:
        self.campaign = campaign
        self.names = tuple(bounds)
        self.bounds = dict(bounds)
        self.log = {n: campaign.variable(n).log for n in self.names}
        self.prior = prior if campaign.design.twin_prior else None
        self.outcomes = tuple(o for o in campaign.modelled_outcomes() if o != "stock_ml")
        self._prior_sources: dict[str, Any] = {}

    # ------------------------------------------------------------------------------------------ scaling
    def to_unit(self, x: dict[str, float]) -> np.ndarray:
        """Decision values → unit cube (log scale for log variables)."""
        out = []
        for n in self.names:
            lo, hi = self.bounds[n]
            v = float(x[n])
            if self.log[n]:
                out.append((math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)))
            else:
                out.append((v - lo) / (hi - lo))
        return np.asarray(out, dtype=float)

    def from_unit(self, u: Sequence[float] | np.ndarray) -> dict[str, float]:
        """Unit cube → decision values, rounded to set-point resolution (0.1 °C, 4 significant digits of flow)."""
        out = {}
        for n, ui in zip(self.names, u, strict=True):
            lo, hi = self.bounds[n]
            ui = min(max(float(ui), 0.0), 1.0)  # numerical round-off of the optimiser only (bounds are [0, 1])
            v = math.exp(math.log(lo) + ui * (math.log(hi) - math.log(lo))) if self.log[n] else lo + ui * (hi - lo)
            v = round(v, 1) if n.endswith("_c") else float(f"{v:.4g}")
            out[n] = min(max(v, lo), hi)
        return out

    def settings(self) -> dict[str, Any]:
        """The optimiser's settings (stored with every proposal)."""
        import botorch
        import torch

        d = self.campaign.design
        return {"initial": d.initial, "batch_size": d.batch_size, "acquisition": d.acquisition,
                "twin_prior": self.prior is not None, "twin_grid": d.twin_grid, "restarts": d.restarts,
                "raw_samples": d.raw_samples, "mc_samples": d.mc_samples, "botorch": botorch.__version__,
                "torch": torch.__version__, "variables": {n: [*self.bounds[n], self.log[n]] for n in self.names},
                "outcomes": list(self.outcomes)}

    # ------------------------------------------------------------------------------------------ proposals
    def initial_design(self) -> list[dict[str, float]]:
        """The scrambled Sobol initial design (seeded), in decision units."""
        import torch
        from torch.quasirandom import SobolEngine

        d = self.campaign.design
        eng = SobolEngine(len(self.names), scramble=True, seed=d.seed)
        pts = eng.draw(d.initial, dtype=torch.float64).numpy()
        return [self.from_unit(p) for p in pts]

    def propose(self, observations: Sequence[Observation], index: int) -> list[Proposal]:
        """The proposal(s) for experiment ``index`` (0-based), ``batch_size`` of them, from ``observations``."""
        d = self.campaign.design
        seed = d.seed + index
        init = self.initial_design()
        if index < len(init):
            xs = init[index:index + d.batch_size]
            return [Proposal(index + k, x, "sobol", seed=d.seed, settings=self.settings()) for k, x in enumerate(xs)]
        feasible = [o for o in observations if o.feasible]
        if len({tuple(self.to_unit(o.x)) for o in feasible}) < 2:
            return self._sobol_fill(index, seed)
        import warnings

        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny matrices: one thread is faster, and the result does not vary with threads
        try:
            with warnings.catch_warnings():
                # BoTorch's notes on an all-infeasible baseline and on optimiser restarts: expected, not user-facing
                warnings.simplefilter("ignore", RuntimeWarning)
                warnings.filterwarnings("ignore", module="botorch")
                warnings.filterwarnings("ignore", module="linear_operator")
                warnings.filterwarnings("ignore", module="gpytorch")
                return self._model_proposals(observations, index, seed)
        finally:
            torch.set_num_threads(threads)

    def _sobol_fill(self, index: int, seed: int) -> list[Proposal]:
        """More Sobol points (fewer than two feasible experiments: nothing to model yet)."""
        import torch
        from torch.quasirandom import SobolEngine

        d = self.campaign.design
        eng = SobolEngine(len(self.names), scramble=True, seed=d.seed)
        pts = eng.draw(index + d.batch_size, dtype=torch.float64).numpy()[index:]
        return [Proposal(index + k, self.from_unit(p), "sobol", phase="no feasible model yet", seed=seed,
                         settings=self.settings()) for k, p in enumerate(pts)]

    def _model_proposals(self, observations: Sequence[Observation], index: int, seed: int) -> list[Proposal]:
        import torch
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
        from botorch.acquisition.multi_objective.objective import GenericMCMultiOutputObjective
        from botorch.acquisition.multi_objective.parego import qLogNParEGO
        from botorch.acquisition.objective import GenericMCObjective
        from botorch.optim import optimize_acqf
        from botorch.sampling import SobolQMCNormalSampler

        torch.manual_seed(seed)
        d = self.campaign.design
        model, columns = self._fit(observations)
        x_all = torch.tensor(np.stack([self.to_unit(o.x) for o in observations]), dtype=torch.float64)
        col = {name: i for i, name in enumerate(columns)}
        camp = self.campaign
        targets = [o for o in camp.objectives if o.is_target and o.outcome in col]
        # (column, target, tolerance) of each target objective (the campaign model requires a tolerance with a target)
        target_terms = [(col[o.outcome], o.target, o.tolerance) for o in targets
                        if o.target is not None and o.tolerance is not None]
        goals = [o for o in camp.objectives if not o.is_target and o.outcome in col]
        met = any(o.feasible and camp.meets_targets(o.outcomes) for o in observations)
        phase = "refine" if goals and (met or not targets) else "reach"

        constraints: list[Callable[[Any], Any]] = []
        for c in camp.constraints:
            if c.outcome not in col:
                continue
            j = col[c.outcome]
            if c.max is not None:
                constraints.append(lambda y, j=j, v=c.max: y[..., j] - v)
            if c.min is not None:
                constraints.append(lambda y, j=j, v=c.min: v - y[..., j])
        if _FEASIBLE in col:
            jf = col[_FEASIBLE]
            constraints.append(lambda y, j=jf: 0.5 - y[..., j])
        scales = {o.outcome: self._scale(observations, o.outcome) for o in goals}

        sampler = SobolQMCNormalSampler(sample_shape=torch.Size([d.mc_samples]), seed=seed)
        if phase == "reach":
            def reach(y: Any, X: Any = None) -> Any:
                return -sum(torch.abs(y[..., j] - t) / tol for j, t, tol in target_terms)

            acq = qLogNoisyExpectedImprovement(model, x_all, sampler=sampler, objective=GenericMCObjective(reach),
                                               constraints=constraints or None, prune_baseline=False)
            name = "qLogNEI"
        else:
            for j, t, tol in target_terms:
                constraints.append(lambda y, j=j, t=t, tol=tol: torch.abs(y[..., j] - t) - tol)
            signs = [(col[o.outcome], (1.0 if o.goal == "maximize" else -1.0) / scales[o.outcome]) for o in goals]
            if len(goals) == 1:
                j, s = signs[0]
                goal = GenericMCObjective(lambda y, X=None, j=j, s=s: s * y[..., j])
                acq = qLogNoisyExpectedImprovement(model, x_all, sampler=sampler, objective=goal,
                                                   constraints=constraints or None, prune_baseline=False)
                name = "qLogNEI"
            else:
                mo = GenericMCMultiOutputObjective(
                    lambda y, X=None: torch.stack([s * y[..., j] for j, s in signs], dim=-1))
                name = d.acquisition if d.acquisition in ("qLogNEHVI", "qLogNParEGO") else "qLogNEHVI"
                if name == "qLogNParEGO":
                    acq = qLogNParEGO(model, x_all, sampler=sampler, objective=mo, constraints=constraints or None)
                else:
                    ref = self._ref_point(observations, goals, scales)
                    acq = qLogNoisyExpectedHypervolumeImprovement(
                        model, ref_point=ref, X_baseline=x_all, sampler=sampler, objective=mo,
                        constraints=constraints or None, prune_baseline=False)
        bounds = torch.stack([torch.zeros(len(self.names)), torch.ones(len(self.names))]).to(torch.float64)
        cand, value = optimize_acqf(acq, bounds=bounds, q=d.batch_size, num_restarts=d.restarts,
                                    raw_samples=d.raw_samples, options={"seed": seed, "maxiter": 200})
        cand = cand.detach()
        xs = [self.from_unit(c.numpy()) for c in cand]
        unit = torch.tensor(np.stack([self.to_unit(x) for x in xs]), dtype=torch.float64)
        with torch.no_grad():
            post = model.posterior(unit)
            mean, sd = post.mean.numpy(), post.variance.clamp_min(0).sqrt().numpy()
        if value is None:  # optimize_acqf's return type allows it; with return_best_only (the default) it is set
            raise RangeError("BoTorch returned candidates without an acquisition value")
        acq_value = float(value.detach().reshape(-1)[0])
        settings = {**self.settings(), "acquisition": name}
        out = []
        for k, x in enumerate(xs):
            pred = {c: {"mean": float(mean[k, j]), "sd": float(sd[k, j])} for j, c in enumerate(columns)}
            out.append(Proposal(index + k, x, "model", phase=phase, acquisition=name, acquisition_value=acq_value,
                                predicted=pred, settings=settings, seed=seed))
        return out

    # ------------------------------------------------------------------------------------------ models
    def _scale(self, observations: Sequence[Observation], outcome: str) -> float:
        vals = [o.outcomes.get(outcome) for o in observations if o.feasible]
        arr = np.asarray([v for v in vals if v is not None and math.isfinite(v)], dtype=float)
        spread = float(np.ptp(arr)) if arr.size > 1 else 0.0
        return spread if spread > 0 else max(abs(float(arr.mean())) if arr.size else 1.0, 1e-9)

    def _ref_point(self, observations: Sequence[Observation], goals: Sequence[Any],
                   scales: dict[str, float]) -> list[float]:
        ref = []
        for o in goals:
            s = (1.0 if o.goal == "maximize" else -1.0) / scales[o.outcome]
            vals = [s * v for ob in observations if ob.feasible
                    and (v := ob.outcomes.get(o.outcome)) is not None and math.isfinite(v)]
            ref.append(min(vals) - 0.1 * (max(vals) - min(vals) + 1e-9))
        return ref

    def _fit(self, observations: Sequence[Observation]) -> tuple[Any, list[str]]:
        """Fit one GP per modelled outcome (feasible data) and, after a failure, the feasibility GP."""
        import torch
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import ModelListGP, SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from gpytorch.mlls import ExactMarginalLogLikelihood

        models, columns = [], []
        for name in self.outcomes:
            rows = [(self.to_unit(o.x), v) for o in observations
                    if o.feasible and (v := o.outcomes.get(name)) is not None and math.isfinite(v)]
            if len(rows) < 2:
                continue
            X = torch.tensor(np.stack([r[0] for r in rows]), dtype=torch.float64)
            Y = torch.tensor([[float(r[1])] for r in rows], dtype=torch.float64)
            tf = Standardize(m=1)
            tf(Y)  # sets the standardisation the GP will use (train mode: computed from Y)
            mean_module = self._prior_mean(name, float(tf.means.reshape(-1)[0]), float(tf.stdvs.reshape(-1)[0]))
            gp = SingleTaskGP(X, Y, outcome_transform=tf, mean_module=mean_module)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
            models.append(gp)
            columns.append(name)
        if not models:
            raise RangeError("no outcome has two feasible experiments to model")
        if any(not o.feasible for o in observations):
            X = torch.tensor(np.stack([self.to_unit(o.x) for o in observations]), dtype=torch.float64)
            Y = torch.tensor([[1.0 if o.feasible else 0.0] for o in observations], dtype=torch.float64)
            gp = SingleTaskGP(X, Y)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
            models.append(gp)
            columns.append(_FEASIBLE)
        return ModelListGP(*models), columns

    def _prior_mean(self, outcome: str, mu: float, sd: float) -> Any:
        """The twin as the GP's prior mean for ``outcome`` (``None``: the default constant mean)."""
        if self.prior is None or outcome not in self.prior.outcomes:
            return None
        from flowqd.optimize._twin_mean import TwinMean, fit_twin_source

        if outcome not in self._prior_sources:  # the twin's GP depends on the grid only: fitted once
            values = np.asarray(self.prior.outcomes[outcome], dtype=float)
            ok = np.isfinite(values)
            if ok.sum() < 4:
                self._prior_sources[outcome] = None
            else:
                X = np.stack([self.to_unit(x) for x, good in zip(self.prior.x, ok, strict=True) if good])
                self._prior_sources[outcome] = fit_twin_source(X, values[ok])
        source = self._prior_sources[outcome]
        return None if source is None else TwinMean(source, mu, sd)
