"""The twin as a GP prior mean: a GPyTorch ``Mean`` whose shape is a GP fitted to the twin's grid predictions."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from gpytorch.means import Mean
from gpytorch.mlls import ExactMarginalLogLikelihood

__all__ = ["TwinMean", "fit_twin_source"]


class TwinMean(Mean):
    """``m(x) = c + a · (twin(x) − μ) / s``: the twin (a fitted GP's posterior mean, frozen) in the target GP's
    standardised units, with a learnt offset ``c`` (initially 0) and gain ``a`` (initially 1)."""

    def __init__(self, source: SingleTaskGP, mu: float, sd: float) -> None:
        super().__init__()
        self.source = source
        for p in self.source.parameters():
            p.requires_grad_(False)
        self.source.eval()
        self.mu = float(mu)
        self.sd = float(sd) if sd > 0 else 1.0
        # assigning a Parameter registers it (Module.__setattr__), as register_parameter does, and keeps its type
        self.constant = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.gain = torch.nn.Parameter(torch.ones((), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.source.eval()
        twin = self.source.posterior(x).mean.squeeze(-1)
        return self.constant + self.gain * (twin - self.mu) / self.sd


def fit_twin_source(x_unit: np.ndarray, values: np.ndarray) -> Any:
    """A GP fitted to the twin's values at unit-cube points ``x_unit`` (the shape of :class:`TwinMean`)."""
    X = torch.tensor(np.asarray(x_unit, dtype=float), dtype=torch.float64)
    Y = torch.tensor(np.asarray(values, dtype=float).reshape(-1, 1), dtype=torch.float64)
    gp = SingleTaskGP(X, Y, outcome_transform=Standardize(m=1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
    return gp
