"""Reproducible calibration of the twin's kinetic parameters on the paper's published numbers.

Data used (Wang & Segets 2023; everything else in the paper is qualitative):

========================================  =====================================  ==============================
quantity                                  value                                  use
========================================  =====================================  ==============================
x1,3 at 180 °C, 0.1 mL/min (τ 36 min)     2.7 nm (peak 518 nm)                   residual, σ 0.02 nm
x1,3 at 250 °C, 0.1 mL/min                3.4 nm (peak 590 nm)                   residual, σ 0.02 nm
highest production 107 mg/h at 73.6 %     must lie in the 200 °C flow series      X(200 °C, 0.2) = 0.736, σ 0.01;
                                          (0.1 mL/min caps at 77 mg/h); 0.2       production at 0.05 and 0.3
                                          mL/min fits ([In]·Q·X·M = 113 mg/h      mL/min ≤ that at 0.2 (hinge)
                                          with the recipe's 87.7 mM, 107 with
                                          83.3 mM = 4 mmol/48 mL: 5 % apart)
RSD 7.7–17.5 %, rising with T and τ       qualitative + range                    RSD(180) ≈ 0.08, RSD(250) ≈
                                                                                 0.15 (σ 0.01); hinges for the
                                                                                 band and both monotonic trends
size less sensitive to τ than to T        peak shift 0.05→0.3 mL/min "a few      hinge: Δx1,3(τ) ≤ 0.3 nm and
                                          tens of nm at most"                    ≥ 0
========================================  =====================================  ==============================

Intermediate temperatures (200, 220 °C) of the T-series are not given numerically and enter only through the
monotonic hinges; the flow-rate series (Fig. 3d–f) is withheld from our paper copy and is the **validation set**
— it is not used here and must not be invented.

Objective: weighted residuals + weak Gaussian priors (notes §1.3) on the log-parameters, minimised by
``scipy.optimize.least_squares`` (trust-region reflective, bounds, fixed start = the notes' priors, finite-difference
Jacobian with a fixed step) — deterministic.  The covariance is ``(JᵀJ)⁻¹·s²`` at the optimum with ``s²`` the
residual variance (floored at 1), in the fitted (transformed) coordinates.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flowqd.kinetics.pbe import KineticParameters
from flowqd.twin.conditions import Conditions
from flowqd.twin.core import CoreOutlet, NumericsOptions, core_outlet

__all__ = ["CALIBRATION_CONDITIONS", "FIT_PARAMETERS", "PAPER_TARGETS", "CalibrationResult", "calibrate",
           "residuals"]

#: (name, transform, lower, upper, prior mean, prior sd) in transformed units; "log" = log10 of the SI value,
#: "kJ" = value/1000.
FIT_PARAMETERS: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("k0_ref_per_s", "log", -5.0, 0.0, float(np.log10(1 / 300)), 1.5),
    ("ea0_j_mol", "kJ", 30.0, 200.0, 90.0, 40.0),
    ("k1_ref_per_s", "log", -5.0, -1.0, float(np.log10(1 / 600)), 1.0),
    ("ea1_j_mol", "kJ", 30.0, 200.0, 90.0, 40.0),
    ("c_eq_ref_mol_m3", "log", -4.0, 1.0, -2.0, 1.5),
    ("dh_s_j_mol", "kJ", 0.0, 150.0, 40.0, 40.0),
    ("gamma_j_m2", "lin", 0.05, 0.4, 0.15, 0.1),
    ("k_g_ref_m_s", "log", -9.0, -4.0, -6.5, 1.5),
    ("p", "lin", 0.0, 4.0, 2.0, 1.5),
    ("e_g_j_mol", "kJ", 0.0, 200.0, 60.0, 40.0),
)

#: The conditions the objective evaluates: T-series at 0.1 mL/min, and the 200 °C flow points.
CALIBRATION_CONDITIONS: tuple[tuple[float, float], ...] = (
    (180.0, 0.1), (200.0, 0.1), (220.0, 0.1), (250.0, 0.1), (200.0, 0.05), (200.0, 0.2), (200.0, 0.3),
)

#: Published numbers the fit reproduces (value, sd of the residual).
PAPER_TARGETS: dict[str, tuple[float, float]] = {
    "x13_180": (2.7, 0.02),
    "x13_250": (3.4, 0.02),
    "conversion_200_0.2": (0.736, 0.01),
    "rsd_180": (0.08, 0.01),
    "rsd_250": (0.15, 0.01),
    "production_max_mg_h": (107.0, 2.0),
}
_PRODUCTION_PER_Q_X = 60.0 * 87.7e-3 * 145.79  # mg/h per (mL/min · conversion) at [In] = 87.7 mM


def _to_params(theta: np.ndarray, base: KineticParameters) -> KineticParameters:
    changes: dict[str, Any] = {}
    for value, (name, kind, *_rest) in zip(theta, FIT_PARAMETERS, strict=True):
        v = np.asarray(value, dtype=float)
        changes[name] = 10.0**v if kind == "log" else (v * 1e3 if kind == "kJ" else v)
    return base.replace(**changes)


def _from_params(params: KineticParameters) -> np.ndarray:
    out = []
    for name, kind, *_ in FIT_PARAMETERS:
        v = float(getattr(params, name))
        out.append(np.log10(v) if kind == "log" else (v / 1e3 if kind == "kJ" else v))
    return np.array(out)


def _hinge(x: float, scale: float) -> float:
    """0 when x ≤ 0, else x/scale."""
    return max(float(x), 0.0) / scale


def residuals(outlet: CoreOutlet) -> dict[str, float]:
    """Named weighted residuals of an outlet evaluated at :data:`CALIBRATION_CONDITIONS`."""
    x, r, conv = outlet.x13_nm, outlet.rsd, outlet.conversion
    i180, i200, i220, i250, q05, q19, q30 = range(7)
    prod = np.array([_PRODUCTION_PER_Q_X * q * conv[i] for i, (_, q) in enumerate(CALIBRATION_CONDITIONS)])
    res = {
        "x13_180": (x[i180] - 2.7) / 0.02,
        "x13_250": (x[i250] - 3.4) / 0.02,
        "conversion_200_0.2": (conv[q19] - 0.736) / 0.01,
        "rsd_180": (r[i180] - 0.08) / 0.01,
        "rsd_250": (r[i250] - 0.15) / 0.01,
        "production_max_at_0.2": _hinge(prod[q30] - prod[q19], 2.0) + _hinge(prod[q05] - prod[q19], 2.0),
        "rsd_band_low": sum(_hinge(0.077 - v, 0.005) for v in r),
        "rsd_band_high": sum(_hinge(v - 0.175, 0.005) for v in r),
        "rsd_rises_with_T": sum(_hinge(a - b, 0.003) for a, b in ((r[i180], r[i200]), (r[i200], r[i220]),
                                                                   (r[i220], r[i250]))),
        "rsd_rises_with_tau": sum(_hinge(a - b, 0.003) for a, b in ((r[q30], r[q19]), (r[q19], r[i200]),
                                                                     (r[i200], r[q05]))),
        "x13_rises_with_T": sum(_hinge(a - b, 0.01) for a, b in ((x[i180], x[i200]), (x[i200], x[i220]),
                                                                  (x[i220], x[i250]))),
        "x13_tau_span_max": _hinge((x[q05] - x[q30]) - 0.3, 0.02),
        "x13_tau_span_min": _hinge(x[q30] - x[q05], 0.02),
    }
    return {k: float(v) for k, v in res.items()}


@dataclass(frozen=True)
class CalibrationResult:
    """Outcome of :func:`calibrate`."""

    params: KineticParameters
    theta: np.ndarray
    covariance: np.ndarray
    residuals: dict[str, float]
    predictions: list[dict[str, float]]
    cost: float
    n_evaluations: int
    success: bool
    message: str

    def to_json_dict(self, *, numerics: NumericsOptions, feed_in_mol_m3: float) -> dict[str, Any]:
        """The versioned parameter-file content (see ``twin/data/parameters-v1.json``)."""
        from flowqd import __version__

        kin = {f.name: float(getattr(self.params, f.name)) for f in dataclasses.fields(self.params)}
        return {
            "format": "flowqd-twin-parameters",
            "version": 1,
            "flowqd_version": __version__,
            "date": _dt.date.today().isoformat(),
            "source": "Wang & Segets, React. Chem. Eng. 2023, 8, 316 (DOI 10.1039/d2re00378c)",
            "kinetics": kin,
            "feed_in_mol_m3": feed_in_mol_m3,
            "numerics": dataclasses.asdict(numerics),
            "fit": {
                "parameters": [p[0] for p in FIT_PARAMETERS],
                "transforms": [p[1] for p in FIT_PARAMETERS],
                "theta": self.theta.tolist(),
                "covariance": self.covariance.tolist(),
                "residuals": self.residuals,
                "cost": self.cost,
                "n_evaluations": self.n_evaluations,
                "success": self.success,
                "message": self.message,
                "data": {"targets": {k: list(v) for k, v in PAPER_TARGETS.items()},
                         "conditions": [list(c) for c in CALIBRATION_CONDITIONS],
                         "validation_set": "flow-rate series Fig. 3d-f (withheld; not used)"},
                "predictions": self.predictions,
            },
        }


def _evaluate(params: KineticParameters, numerics: NumericsOptions, feed: float, backend: str) -> CoreOutlet:
    conds = [Conditions(t, q) for t, q in CALIBRATION_CONDITIONS]
    return core_outlet(conds, params, feed_in_mol_m3=feed, numerics=numerics, backend=backend)


def _summary(outlet: CoreOutlet) -> list[dict[str, float]]:
    return [{"temperature_c": t, "flow_ml_min": q, "x13_nm": float(outlet.x13_nm[i]), "rsd": float(outlet.rsd[i]),
             "conversion": float(outlet.conversion[i]),
             "production_mg_h": float(_PRODUCTION_PER_Q_X * q * outlet.conversion[i])}
            for i, (t, q) in enumerate(CALIBRATION_CONDITIONS)]


def calibrate(*, start: KineticParameters | None = None, numerics: NumericsOptions | None = None,
              feed_in_mol_m3: float = 87.7, max_nfev: int = 60, backend: str = "numpy",
              progress: Callable[[int, float], None] | None = None,
              conditions: Sequence[tuple[float, float]] | None = None) -> CalibrationResult:
    """Fit :data:`FIT_PARAMETERS` to :data:`PAPER_TARGETS` (deterministic: fixed start, no randomness)."""
    from scipy.optimize import least_squares

    if conditions is not None and tuple(conditions) != CALIBRATION_CONDITIONS:
        raise ValueError("the objective is defined on CALIBRATION_CONDITIONS only")
    numerics = numerics or NumericsOptions()
    base = start or KineticParameters(gamma_j_m2=0.15, k_g_ref_m_s=10**-6.5, k0_ref_per_s=1 / 300)
    theta0 = _from_params(base)
    lo = np.array([p[2] for p in FIT_PARAMETERS])
    hi = np.array([p[3] for p in FIT_PARAMETERS])
    prior_mu = np.array([p[4] for p in FIT_PARAMETERS])
    prior_sd = np.array([p[5] for p in FIT_PARAMETERS])
    theta0 = np.clip(theta0, lo + 1e-9, hi - 1e-9)
    calls = [0]

    def fun(theta: np.ndarray) -> np.ndarray:
        calls[0] += 1
        out = _evaluate(_to_params(theta, base), numerics, feed_in_mol_m3, backend)
        res = np.array(list(residuals(out).values()))
        res = np.where(np.isfinite(res), res, 1e3)
        vec = np.concatenate([res, (theta - prior_mu) / prior_sd])
        if progress is not None:
            progress(calls[0], float(0.5 * vec @ vec))
        return vec

    sol = least_squares(fun, theta0, bounds=(lo, hi), x_scale="jac", diff_step=1e-3, max_nfev=max_nfev,
                        xtol=1e-6, ftol=1e-6)
    params = _to_params(sol.x, base)
    jac = sol.jac
    dof = max(jac.shape[0] - jac.shape[1], 1)
    s2 = max(float(sol.fun @ sol.fun) / dof, 1.0)
    cov = np.linalg.pinv(jac.T @ jac) * s2
    outlet = _evaluate(params, numerics, feed_in_mol_m3, backend)
    return CalibrationResult(params, sol.x, cov, residuals(outlet), _summary(outlet), float(sol.cost), int(sol.nfev),
                             bool(sol.success), str(sol.message))


def write_parameters(result: CalibrationResult, path: str | Path, *, numerics: NumericsOptions | None = None,
                     feed_in_mol_m3: float = 87.7, extra: dict[str, Any] | None = None) -> Path:
    """Write the versioned parameter file (JSON)."""
    data = result.to_json_dict(numerics=numerics or NumericsOptions(), feed_in_mol_m3=feed_in_mol_m3)
    if extra:
        data.update(extra)
    path = Path(path)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
