"""Closed-loop optimisation: campaigns, the BoTorch optimiser (the ``[optimize]`` extra), the platform loop.

Layer: above :mod:`flowqd.platform` (it drives the run engine), below :mod:`flowqd.report`. torch and BoTorch are
imported only when a model-based proposal is computed, so loading a campaign stays light.
"""

from flowqd.optimize.bo import Observation, Optimizer, Proposal, TwinGridPrior
from flowqd.optimize.campaign import (
    OptimizeCampaign,
    load_optimize_campaign,
    optimize_campaign_from_text,
    variable_bounds,
)

__all__ = [
    "Observation",
    "OptimizeCampaign",
    "Optimizer",
    "Proposal",
    "TwinGridPrior",
    "load_optimize_campaign",
    "optimize_campaign_from_text",
    "variable_bounds",
]
