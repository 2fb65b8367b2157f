"""The digital twin: calibrated population balance + reactor → outlet PSD, spectra and shell optics.

``Twin.default().predict(Conditions(core_temperature_c=200, core_flow_ml_min=0.1))``; see
``docs/design.md`` §7.
"""

from flowqd.reactor.conditions import Conditions
from flowqd.twin.model import BatchPrediction, Prediction, Twin, TwinParameters

__all__ = ["BatchPrediction", "Conditions", "Prediction", "Twin", "TwinParameters"]
