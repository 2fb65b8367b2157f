"""Optimisation campaigns (TOML → pydantic, ``extra="forbid"``): decision variables, objectives, constraints, budget.

An optimisation campaign replaces the fixed ``[[conditions]]`` list of a run campaign by a search space and goals::

    name = "emission-560"
    [variables]
    core_temperature_c = { min = 180.0, max = 280.0 }
    core_flow_ml_min = { min = 0.03, max = 0.5, log = true }
    [fixed]                       # condition keys held constant (any run-campaign condition key)
    n_spectra = 3
    [[objectives]]                # match a target (with a tolerance), or minimise / maximise an outcome
    outcome = "peak_nm"
    target = 560.0
    tolerance = 2.0
    [[objectives]]
    outcome = "rsd"
    goal = "minimize"
    [[constraints]]               # outcome constraints (the platform's limits are always hard constraints)
    outcome = "rsd"
    max = 0.12
    [budget]
    experiments = 20
    [design]
    initial = 4                   # Sobol points before the first model-based proposal
    seed = 0

Outcomes are the per-condition means of the stored inline analyses (``flowqd.store.Store.results_table``):
``peak_nm`` (first exciton), ``x13_nm``, ``rsd``, ``pl_peak_nm``, ``pl_fwhm_nm``, ``plqy``, ``cie_x``, ``cie_y``,
``production_rate_mg_h``; plus ``stock_ml`` (stock pumped for the experiment, computed, not modelled).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from flowqd import _toml
from flowqd.errors import ConfigError
from flowqd.platform.config import CampaignCondition, ConditionDefaults, FromToml, PlatformConfig
from flowqd.reactor.geometry import BoxStage

__all__ = [
    "OUTCOMES",
    "VARIABLES",
    "BudgetConfig",
    "ConstraintConfig",
    "DesignConfig",
    "ObjectiveConfig",
    "OptimizeCampaign",
    "VariableConfig",
    "load_optimize_campaign",
    "optimize_campaign_from_text",
    "variable_bounds",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)

#: Decision variables an optimisation may vary (condition keys).
VARIABLES = ("core_temperature_c", "core_flow_ml_min", "shell_temperature_c", "ddt_flow_ml_min")
#: Outcomes an objective or constraint may name (the stored per-condition analysis means).
OUTCOMES = ("peak_nm", "x13_nm", "rsd", "pl_peak_nm", "pl_fwhm_nm", "plqy", "cie_x", "cie_y",
            "production_rate_mg_h", "stock_ml")


class VariableConfig(BaseModel):
    """One decision variable: ``min``/``max`` (the variable's unit, from its key) and a log scale option."""

    model_config = _STRICT

    min: float
    max: float
    log: bool = False

    @model_validator(mode="after")
    def _range(self) -> VariableConfig:
        if not (math.isfinite(self.min) and math.isfinite(self.max)) or self.min >= self.max:
            raise ValueError(f"min {self.min:g} must be below max {self.max:g}")
        if self.log and self.min <= 0:
            raise ValueError(f"log = true needs min > 0, got {self.min:g}")
        return self


class VariablesConfig(BaseModel):
    """``[variables]``: the decision variables (at least one)."""

    model_config = _STRICT

    core_temperature_c: VariableConfig | None = None
    core_flow_ml_min: VariableConfig | None = None
    shell_temperature_c: VariableConfig | None = None
    ddt_flow_ml_min: VariableConfig | None = None


class ObjectiveConfig(BaseModel):
    """An objective: ``target`` (± ``tolerance``) or ``goal = "minimize" | "maximize"``."""

    model_config = _STRICT

    outcome: Literal["peak_nm", "x13_nm", "rsd", "pl_peak_nm", "pl_fwhm_nm", "plqy", "cie_x", "cie_y",
                     "production_rate_mg_h", "stock_ml"]
    target: float | None = None
    tolerance: float | None = Field(default=None, gt=0)
    goal: Literal["minimize", "maximize"] | None = None

    @model_validator(mode="after")
    def _kind(self) -> ObjectiveConfig:
        if (self.target is None) == (self.goal is None):
            raise ValueError("give either target (with tolerance) or goal = 'minimize' / 'maximize'")
        if self.target is not None and self.tolerance is None:
            raise ValueError("a target needs a tolerance")
        if self.goal is not None and self.tolerance is not None:
            raise ValueError("tolerance belongs to a target, not to a goal")
        return self

    @property
    def is_target(self) -> bool:
        return self.target is not None


class ConstraintConfig(BaseModel):
    """An outcome constraint: ``min`` and/or ``max`` on an outcome."""

    model_config = _STRICT

    outcome: Literal["peak_nm", "x13_nm", "rsd", "pl_peak_nm", "pl_fwhm_nm", "plqy", "cie_x", "cie_y",
                     "production_rate_mg_h", "stock_ml"]
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bound(self) -> ConstraintConfig:
        if self.min is None and self.max is None:
            raise ValueError("give min and/or max")
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"min {self.min:g} must be below max {self.max:g}")
        return self


class BudgetConfig(BaseModel):
    """``[budget]``: the campaign stops at the first limit reached (or at the target, ``stop_at_target``)."""

    model_config = _STRICT

    experiments: int = Field(default=20, ge=1, le=500)
    stock_ml: float | None = Field(default=None, gt=0)
    hours: float | None = Field(default=None, gt=0)
    stop_at_target: bool = True


class DesignConfig(BaseModel):
    """``[design]``: initial Sobol design and the optimiser's settings (all stored with every proposal)."""

    model_config = _STRICT

    initial: int = Field(default=4, ge=1, le=64)
    batch_size: int = Field(default=1, ge=1, le=8)
    seed: int = Field(default=0, ge=0)
    acquisition: Literal["auto", "qLogNEI", "qLogNEHVI", "qLogNParEGO"] = "auto"
    twin_prior: bool = True
    twin_grid: int = Field(default=9, ge=3, le=25, description="twin prior: points per variable of the twin's grid")
    restarts: int = Field(default=4, ge=1, le=64)
    raw_samples: int = Field(default=128, ge=16, le=4096)
    mc_samples: int = Field(default=64, ge=16, le=2048)


class OptimizeCampaign(FromToml):
    """An optimisation campaign file (see the module docstring)."""

    model_config = _STRICT

    name: str
    description: str = ""
    variables: VariablesConfig
    #: condition keys held constant (checked as a run campaign's ``[defaults]``)
    fixed: Annotated[dict[str, Any], _toml.KeysOf(ConditionDefaults)] = Field(default_factory=dict)
    objectives: tuple[ObjectiveConfig, ...]
    constraints: tuple[ConstraintConfig, ...] = ()
    budget: BudgetConfig = BudgetConfig()
    design: DesignConfig = DesignConfig()

    _source: str = PrivateAttr("<optimize campaign>")

    @model_validator(mode="after")
    def _check(self) -> OptimizeCampaign:
        if not self.variable_names:
            raise ValueError("variables: give at least one decision variable")
        if not self.objectives:
            raise ValueError("objectives: give at least one objective")
        for key in self.fixed:
            if key in self.variable_names:
                raise ValueError(f"fixed.{key}: is also a decision variable")
        shell_vars = {"shell_temperature_c", "ddt_flow_ml_min"} & set(self.variable_names)
        if shell_vars and not self.fixed.get("shell", False):
            raise ValueError(f"variables {sorted(shell_vars)} need fixed.shell = true")
        try:
            CampaignCondition.model_validate({**self.condition_values(self.midpoint()), "label": "check"})
        except ValidationError as exc:
            raise ValueError(f"[fixed] with the variables' midpoints: {_toml.format_errors(exc)}") from None
        if self.design.initial < 1:
            raise ValueError("design.initial must be ≥ 1")
        return self

    @field_validator("fixed")
    @classmethod
    def _fixed(cls, fixed: dict[str, Any]) -> dict[str, Any]:
        ConditionDefaults.model_validate(fixed)  # unknown keys and wrong types, as fixed.<key>
        return fixed

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(n for n in VARIABLES if getattr(self.variables, n) is not None)

    def variable(self, name: str) -> VariableConfig:
        v = getattr(self.variables, name)
        assert v is not None
        return v

    def midpoint(self) -> dict[str, float]:
        out = {}
        for n in self.variable_names:
            v = self.variable(n)
            out[n] = math.sqrt(v.min * v.max) if v.log else 0.5 * (v.min + v.max)
        return out

    def condition_values(self, x: dict[str, float]) -> dict[str, Any]:
        """The run-campaign condition keys for decision values ``x`` (fixed keys added)."""
        return {**self.fixed, **{k: float(v) for k, v in x.items()}}

    def condition(self, x: dict[str, float], label: str) -> CampaignCondition:
        """The campaign condition (a :class:`~flowqd.reactor.conditions.Conditions` and its label) for decision
        values ``x``."""
        return _toml.validate(CampaignCondition, {**self.condition_values(x), "label": label}, source=label)

    def modelled_outcomes(self) -> tuple[str, ...]:
        """Outcomes the optimiser models (objectives and constraints; ``stock_ml`` is computed, not modelled)."""
        names: list[str] = []
        for o in (*self.objectives, *self.constraints):
            if o.outcome not in names:
                names.append(o.outcome)
        return tuple(names)

    def meets_targets(self, outcomes: dict[str, float | None]) -> bool:
        """Whether ``outcomes`` meet every target (within tolerance) and every outcome constraint."""
        for o in self.objectives:
            if o.is_target:
                v = outcomes.get(o.outcome)
                assert o.target is not None and o.tolerance is not None
                if v is None or not math.isfinite(v) or abs(v - o.target) > o.tolerance:
                    return False
        for c in self.constraints:
            v = outcomes.get(c.outcome)
            if v is None or not math.isfinite(v):
                return False
            if (c.min is not None and v < c.min) or (c.max is not None and v > c.max):
                return False
        return True


def variable_bounds(campaign: OptimizeCampaign, platform: PlatformConfig | None = None) -> dict[str, tuple[float,
                                                                                                          float]]:
    """The decision variables' bounds; with ``platform``, checked against its limits (an error, never a clamp).

    Raises
    ------
    ConfigError
        A variable's range reaches outside what the platform can run (heater range, box limit, pump range).
    """
    out = {n: (campaign.variable(n).min, campaign.variable(n).max) for n in campaign.variable_names}
    if platform is None:
        return out
    limits = platform_limits(platform)
    problems = []
    for n, (lo, hi) in out.items():
        if n not in limits:
            problems.append(f"variables.{n}: the platform has no device for it")
            continue
        plo, phi, what = limits[n]
        if lo < plo or hi > phi:
            problems.append(f"variables.{n} = [{lo:g}, {hi:g}]: outside the platform's {what} {plo:g}-{phi:g}")
    if problems:
        raise ConfigError("; ".join(problems), source=campaign.source)
    return out


def platform_limits(platform: PlatformConfig) -> dict[str, tuple[float, float, str]]:
    """``variable -> (low, high, what)``: the platform's hard limits on each decision variable."""
    train = platform.train()
    core_box, shell_box = platform.box_names()
    dev = platform.devices

    def box_max(box: str) -> float:
        stage = train.section(box)
        assert isinstance(stage, BoxStage)  # box_names() names heating boxes only
        return min([stage.box.max_temperature_c] + [u.max_temperature_c for u in stage.box.units])

    out = {
        "core_temperature_c": (dev.hb1.min_c, min(dev.hb1.max_c, box_max(core_box)), f"{core_box} range (°C)"),
        "core_flow_ml_min": (dev.core_pump.min_flow_ml_min, dev.core_pump.max_flow_ml_min,
                             "core pump range (mL/min)"),
    }
    if shell_box is not None and dev.hb2 is not None:
        out["shell_temperature_c"] = (dev.hb2.min_c, min(dev.hb2.max_c, box_max(shell_box)),
                                      f"{shell_box} range (°C)")
    if dev.shell_pump is not None:
        out["ddt_flow_ml_min"] = (dev.shell_pump.min_flow_ml_min, dev.shell_pump.max_flow_ml_min,
                                  "DDT pump range (mL/min)")
    return out


def optimize_campaign_from_text(text: str, source: str = "<optimize campaign>") -> OptimizeCampaign:
    """Validate an optimisation campaign TOML text; errors name ``source``, the key and the value."""
    cfg = _toml.from_text(OptimizeCampaign, text, source)
    cfg.remember(source, text)
    return cfg


def load_optimize_campaign(path: str | Path) -> OptimizeCampaign:
    """Load and validate an optimisation campaign file."""
    return optimize_campaign_from_text(_toml.read_text(path), str(path))
