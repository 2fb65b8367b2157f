"""Residence-time distributions (RTD) of laminar flow in the coiled capillaries.

Two regimes, chosen by θ = D τ / R² (residence time over radial diffusion time):

- **Dispersion** (θ ≥ ``theta_switch``, default 1; Taylor–Aris regime; the regime map of V. Ananthakrishnan,
  W. N. Gill, A. J. Barduhn, AIChE J. 1965, 11, 1063 — citation details not checked): axial
  dispersion with D_ax = D + f·ū²R²/(48 D) and Bodenstein number Bo = ū L / D_ax. The RTD is the inverse-Gaussian
  (first-passage) solution E(t) = [Bo τ/(4π t³)]^½ exp[−Bo (t − τ)²/(4 τ t)]: normalised, mean exactly τ, variance
  2τ²/Bo (the closed-vessel σ² = 2/Bo − 2(1 − e^−Bo)/Bo² to O(Bo⁻²); the open-open form would shift the mean to
  τ(1 + 2/Bo)).
- **Laminar segregated** (θ < ``theta_switch``): pure convection in Poiseuille flow, E(t) = τ²/(2t³) for t ≥ τ/2
  (O. Levenspiel, *Chemical Reaction Engineering*, 3rd ed., Wiley 1999, ch. 15); it has an infinite variance (wall
  tail) and ignores the diffusion that shortens that tail, so it is the conservative (broad) limit.

**Dean reduction** f(De²Sc) of the Taylor term. Verified limits (Johnson & Kamm, J. Fluid Mech. 1986, 172, 329,
abstract; agreeing with Janssen 1976): De²Sc is the controlling parameter and D_eff falls to ≈ 0.2 of its
straight-tube value at large De²Sc; f → 1 as De²Sc → 0. **Assumption** (not verified, calibratable): the
interpolation f = 0.2 + 0.8/(1 + De²Sc/100) between those limits. A tracer pulse on the real coil would pin it.

**Species.** Nanocrystals diffuse ≈ 15× slower than molecules (Stokes–Einstein, d_h ≈ 7 nm, vs Wilke–Chang), so
they are transitional (θ ≈ 0.4-4) where molecules are Taylor-dispersed (θ ≈ 5-60). Use ``species="particle"`` for
the PSD and ``species="molecule"`` for the flush (washout) of the fluid itself.

**Quadrature** for the twin's segregated-flow mixing (∫E(t) n_batch(t) dt): the Gauss rule of E in the
dispersion regime (exact to degree 2n − 1), a mean-preserving equal-probability rule in the laminar regime.

**Sections in series** (no remixing model at T-mixers): τ and θ add; Taylor variances add (σ² = Σ 2τ_i²/Bo_i,
Bo_eq = 2τ²/σ²); the regime is chosen on the summed θ. In the laminar regime the same streamline keeps its radial
position through same-ID tubes, so the segregated E(t) of the total τ applies (no convolution).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq
from scipy.special import log_ndtr, ndtr, roots_legendre

from flowqd.errors import RangeError
from flowqd.reactor.geometry import MixingPoint, ReactorTrain, Segment
from flowqd.reactor.hydraulics import dean as dean_number
from flowqd.reactor.hydraulics import mixture_properties, reynolds
from flowqd.reactor.properties import Fluid, stokes_einstein_diffusivity_m2_s, wilke_chang_diffusivity_m2_s

__all__ = [
    "DEAN_REDUCTION_MIDPOINT",
    "DEAN_REDUCTION_MIN",
    "THETA_SWITCH",
    "ResidenceTimeDistribution",
    "cumulative_rtd",
    "dean_reduction_factor",
    "dispersion_numbers",
    "rtd",
    "rtd_quadrature",
    "section_rtd",
    "taylor_aris_dispersion_m2_s",
    "train_rtd",
    "washout_time_min",
]

Regime = Literal["auto", "dispersion", "laminar"]
Species = Literal["particle", "molecule"]

#: Large-De²Sc limit of D_eff/D_Taylor (Johnson & Kamm 1986; Janssen 1976) - verified.
DEAN_REDUCTION_MIN: float = 0.2
#: ASSUMPTION: De²Sc at which the reduction is half-way (interpolation not verified; calibrate with a tracer pulse).
DEAN_REDUCTION_MIDPOINT: float = 100.0
#: θ = Dτ/R² above which the Taylor-dispersion model is used (≈ 0.5-1 in the Ananthakrishnan–Gill–Barduhn map; the
#: switch value is our choice, not checked against their figure).
THETA_SWITCH: float = 1.0


def dean_reduction_factor(de2sc: npt.ArrayLike, *, f_min: float = DEAN_REDUCTION_MIN,
                          midpoint: float = DEAN_REDUCTION_MIDPOINT) -> np.ndarray:
    """D_eff/D_Taylor against De²Sc: f = f_min + (1 − f_min)/(1 + De²Sc/midpoint) (limits verified, shape assumed).

    >>> [round(float(f), 3) for f in dean_reduction_factor([0.0, 100.0, 1e6])]
    [1.0, 0.6, 0.2]
    """
    x = np.asarray(de2sc, dtype=float)
    if np.any(x < 0):
        raise RangeError(f"De²Sc must be ≥ 0, got {float(np.min(x))!r}")
    return f_min + (1.0 - f_min) / (1.0 + x / midpoint)


def taylor_aris_dispersion_m2_s(diffusivity_m2_s: npt.ArrayLike, velocity_m_s: npt.ArrayLike,
                                radius_m: npt.ArrayLike, *, dean_factor: npt.ArrayLike = 1.0) -> np.ndarray:
    """Axial dispersion coefficient D + f·ū²R²/(48 D), m²/s.

    >>> round(float(taylor_aris_dispersion_m2_s(1.55e-10, 2.133e-3, 0.49875e-3)) * 1e4, 3)
    1.521
    """
    d = np.asarray(diffusivity_m2_s, dtype=float)
    if np.any(d <= 0):
        raise RangeError("diffusivity must be > 0")
    u = np.asarray(velocity_m_s, dtype=float)
    r = np.asarray(radius_m, dtype=float)
    return d + np.asarray(dean_factor, dtype=float) * u**2 * r**2 / (48.0 * d)


def dispersion_numbers(tau_min: float, length_m: float, inner_diameter_mm: float, diffusivity_m2_s: float, *,
                       de2sc: float = 0.0, dean_reduction: bool = True) -> tuple[float, float]:
    """(θ, Bo) of a tube: θ = D τ / R², Bo = ū L / D_ax with ū = L/τ.

    Nanocrystals (Stokes–Einstein D = 1.55e-10 m²/s) at 0.1 mL/min, 200 °C, without Dean reduction: θ ≈ 1.3 and
    Bo ≈ 65, i.e. transitional between the Taylor and the convection regime:

    >>> theta, bo = dispersion_numbers(35.95, 4.6, 0.9975, 1.55e-10, dean_reduction=False)
    >>> round(theta, 2), round(bo)
    (1.34, 65)
    """
    if not (tau_min > 0 and length_m > 0 and inner_diameter_mm > 0):
        raise RangeError(f"dispersion_numbers: τ {tau_min!r} min, L {length_m!r} m, d {inner_diameter_mm!r} mm "
                         "must all be > 0")
    tau_s = tau_min * 60.0
    r = inner_diameter_mm * 0.5e-3
    u = length_m / tau_s
    f = float(dean_reduction_factor(de2sc)) if dean_reduction else 1.0
    d_ax = float(taylor_aris_dispersion_m2_s(diffusivity_m2_s, u, r, dean_factor=f))
    return diffusivity_m2_s * tau_s / r**2, u * length_m / d_ax


@lru_cache(maxsize=4)
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = roots_legendre(n)
    return x, w


def _ig_cdf(t: np.ndarray, tau: float, bo: float) -> np.ndarray:
    """Inverse-Gaussian CDF with mean τ and λ = Bo τ/2 (overflow-safe second term)."""
    t = np.asarray(t, dtype=float)
    out = np.zeros_like(t)
    pos = np.isfinite(t) & (t > 0)
    tp = t[pos]
    lam = 0.5 * bo * tau
    s = np.sqrt(lam / tp)
    first = ndtr(s * (tp / tau - 1.0))
    second = np.exp(bo + log_ndtr(-s * (tp / tau + 1.0)))
    out[pos] = np.clip(first + second, 0.0, 1.0)
    out[np.isinf(t) & (t > 0)] = 1.0
    return out


@dataclass(frozen=True)
class ResidenceTimeDistribution:
    """An RTD: mean τ (min), its regime and the dimensionless numbers behind it.

    Attributes
    ----------
    tau_min : float
        Mean residence time, min.
    regime : {"dispersion", "laminar"}
        The model in use (resolved; never "auto").
    bodenstein : float or None
        Bo = ūL/D_ax (required for "dispersion").
    theta : float or None
        Dτ/R² (informational; chooses the regime in :meth:`from_numbers`).
    """

    tau_min: float
    regime: str
    bodenstein: float | None = None
    theta: float | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.tau_min) and self.tau_min > 0):
            raise RangeError(f"RTD: tau_min must be > 0, got {self.tau_min!r}")
        if self.regime not in ("dispersion", "laminar"):
            raise RangeError(f"RTD: unknown regime {self.regime!r} (dispersion, laminar)")
        if self.regime == "dispersion" and not (self.bodenstein is not None and self.bodenstein > 0):
            raise RangeError(f"RTD: the dispersion regime needs a Bodenstein number > 0, got {self.bodenstein!r}")

    @classmethod
    def from_numbers(cls, tau_min: float, *, bodenstein: float | None = None, theta: float | None = None,
                     regime: Regime = "auto", theta_switch: float = THETA_SWITCH) -> ResidenceTimeDistribution:
        """Choose the regime: explicit, or by θ (``"auto"``; without θ, a given Bo means dispersion)."""
        if regime == "auto":
            if theta is not None:
                regime = "dispersion" if theta >= theta_switch else "laminar"
            elif bodenstein is not None:
                regime = "dispersion"
            else:
                raise RangeError("RTD: regime 'auto' needs theta (or a bodenstein number)")
        return cls(float(tau_min), regime, None if bodenstein is None else float(bodenstein),
                   None if theta is None else float(theta))

    def _bo(self) -> float:
        """The Bodenstein number of the dispersion regime (set whenever the regime is dispersion: __post_init__)."""
        if self.bodenstein is None:
            raise RangeError("RTD: the laminar regime has no Bodenstein number")
        return float(self.bodenstein)

    # --- distribution ------------------------------------------------------------------------------------------
    def pdf(self, t_min: npt.ArrayLike) -> np.ndarray:
        """E(t), 1/min."""
        t = np.asarray(t_min, dtype=float)
        tau = self.tau_min
        if self.regime == "laminar":
            safe = np.where(t >= 0.5 * tau, t, tau)
            return np.where(t >= 0.5 * tau, tau**2 / (2.0 * safe**3), 0.0)
        bo = self._bo()
        safe = np.where(t > 0, t, tau)
        e = np.sqrt(bo * tau / (4.0 * np.pi * safe**3)) * np.exp(-bo * (safe - tau) ** 2 / (4.0 * tau * safe))
        return np.where(t > 0, e, 0.0)

    def cdf(self, t_min: npt.ArrayLike) -> np.ndarray:
        """F(t) = ∫₀ᵗ E dt'."""
        t = np.asarray(t_min, dtype=float)
        tau = self.tau_min
        if self.regime == "laminar":
            safe = np.where(t >= 0.5 * tau, t, tau)
            return np.where(t >= 0.5 * tau, 1.0 - tau**2 / (4.0 * safe**2), 0.0)
        return _ig_cdf(t, tau, self._bo())

    @property
    def variance_min2(self) -> float:
        """Variance of E, min² (infinite for the laminar regime)."""
        if self.regime == "laminar":
            return float("inf")
        return 2.0 * self.tau_min**2 / self._bo()

    def quantile_min(self, fraction: npt.ArrayLike) -> np.ndarray:
        """t such that F(t) = fraction (0 ≤ fraction < 1)."""
        p = np.atleast_1d(np.asarray(fraction, dtype=float))
        if np.any((p < 0) | (p >= 1)):
            raise RangeError(f"RTD fraction must be in [0, 1), got {p[(p < 0) | (p >= 1)][0]!r}")
        tau = self.tau_min
        if self.regime == "laminar":
            out = 0.5 * tau / np.sqrt(1.0 - p)
        else:
            out = np.empty_like(p)
            for i, pi in enumerate(p):
                if pi == 0:
                    out[i] = 0.0
                    continue
                hi = 2.0 * tau
                while float(self.cdf(hi)) < pi:
                    hi *= 2.0
                out[i] = brentq(lambda t, pi=pi: float(self.cdf(t)) - pi, 0.0, hi, xtol=1e-12 * tau,
                                rtol=np.float64(1e-13))  # scipy's stubs type rtol as float64
        return out.reshape(np.shape(fraction))

    def washout_time_min(self, fraction: float = 0.99) -> float:
        """Time after a step change until ≥ ``fraction`` of the outlet entered after the change, min."""
        if not 0 < fraction < 1:
            raise RangeError(f"washout fraction must be in (0, 1), got {fraction!r}")
        return float(self.quantile_min(fraction))

    def quadrature(self, n_nodes: int, method: Literal["auto", "gauss", "quantile"] = "auto"
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Nodes (min) and weights with Σ wᵢ = 1 and Σ wᵢ tᵢ = τ exactly (rescaled to τ to remove round-off).

        ``"gauss"`` (dispersion only; default there): the n-point Gauss rule of E itself, exact for polynomials of
        degree ≤ 2n − 1, built by the Stieltjes procedure on a 2000-point Gauss–Legendre discretisation of E.
        ``"quantile"`` (default for the laminar regime, whose variance is infinite so no Gauss rule exists):
        n equal-probability bins, node = the bin's conditional mean (closed form), weights 1/n.
        """
        n = int(n_nodes)
        if n < 1:
            raise RangeError(f"RTD quadrature: n_nodes must be ≥ 1, got {n_nodes!r}")
        if method == "auto":
            method = "gauss" if self.regime == "dispersion" else "quantile"
        if method == "gauss":
            if self.regime != "dispersion":
                raise RangeError("RTD quadrature: no Gauss rule for the laminar regime (infinite variance); "
                                 "use method='quantile'")
            nodes, weights = self._gauss(n)
        elif method == "quantile":
            nodes, weights = self._quantile_rule(n)
        else:
            raise RangeError(f"RTD quadrature: unknown method {method!r} (auto, gauss, quantile)")
        nodes = nodes * (self.tau_min / float(np.sum(weights * nodes)))
        return nodes, weights

    def _quantile_rule(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        tau = self.tau_min
        edges = np.concatenate([self.quantile_min(np.arange(n) / n), [np.inf]])
        if self.regime == "laminar":
            inv = np.where(np.isinf(edges), 0.0, 1.0 / np.maximum(edges, 1e-300))
            partial = 0.5 * tau**2 * (inv[:-1] - inv[1:])
        else:
            # Size-biased IG identity: t E(t)/τ is the density of τ²/X, so ∫_a^b t E dt = τ [F(τ²/a) − F(τ²/b)].
            with np.errstate(divide="ignore"):
                mapped = np.where(edges > 0, tau**2 / edges, np.inf)
            f = self.cdf(mapped)
            partial = tau * (f[:-1] - f[1:])
        return partial * n, np.full(n, 1.0 / n)

    def _gauss(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = (float(q) for q in self.quantile_min([1e-15, 1.0 - 1e-15]))
        x, w = _legendre(2000)
        t = 0.5 * (hi - lo) * x + 0.5 * (hi + lo)
        mass = 0.5 * (hi - lo) * w * self.pdf(t)
        mass /= mass.sum()
        scale = np.sqrt(self.variance_min2)
        z = (t - self.tau_min) / scale
        alpha, off = np.zeros(n), np.zeros(max(n - 1, 0))
        q_prev, q, b_prev = np.zeros_like(z), np.ones_like(z), 0.0
        for k in range(n):
            alpha[k] = np.sum(mass * z * q * q)
            if k == n - 1:
                break
            r = (z - alpha[k]) * q - b_prev * q_prev
            b = float(np.sqrt(np.sum(mass * r * r)))
            off[k] = b
            q_prev, q, b_prev = q, r / b, b
        vals, vecs = np.linalg.eigh(np.diag(alpha) + np.diag(off, 1) + np.diag(off, -1))
        return self.tau_min + scale * vals, vecs[0, :] ** 2

    # --- composition -------------------------------------------------------------------------------------------
    def then(self, other: ResidenceTimeDistribution, *,
             theta_switch: float = THETA_SWITCH) -> ResidenceTimeDistribution:
        """This section followed by ``other`` (τ and θ add, Taylor variances add; regime re-chosen on θ)."""
        tau = self.tau_min + other.tau_min
        if self.bodenstein is not None and other.bodenstein is not None:
            var = 2.0 * self.tau_min**2 / self.bodenstein + 2.0 * other.tau_min**2 / other.bodenstein
            bo: float | None = 2.0 * tau**2 / var
        else:
            bo = None
        if self.theta is not None and other.theta is not None:
            return ResidenceTimeDistribution.from_numbers(tau, bodenstein=bo, theta=self.theta + other.theta,
                                                          theta_switch=theta_switch)
        if self.regime != other.regime:
            raise RangeError("RTD: cannot combine regimes without θ for both sections")
        return ResidenceTimeDistribution(tau, self.regime, bo, None)


def _model(tau_min: float, bodenstein: float | None, theta: float | None, regime: Regime,
           theta_switch: float) -> ResidenceTimeDistribution:
    return ResidenceTimeDistribution.from_numbers(tau_min, bodenstein=bodenstein, theta=theta, regime=regime,
                                                  theta_switch=theta_switch)


def rtd(t_min: npt.ArrayLike, tau_min: float, *, bodenstein: float | None = None, theta: float | None = None,
        regime: Regime = "auto", theta_switch: float = THETA_SWITCH) -> np.ndarray:
    """E(t) in 1/min (normalised). ``regime="auto"`` picks dispersion for θ ≥ ``theta_switch``, else laminar.

    >>> round(float(rtd(36.0, 36.0, bodenstein=200.0, regime="dispersion")), 4)
    0.1108
    >>> float(rtd(18.0, 36.0, regime="laminar")) == 36.0**2 / (2 * 18.0**3)
    True
    """
    return _model(tau_min, bodenstein, theta, regime, theta_switch).pdf(t_min)


def cumulative_rtd(t_min: npt.ArrayLike, tau_min: float, *, bodenstein: float | None = None,
                   theta: float | None = None, regime: Regime = "auto",
                   theta_switch: float = THETA_SWITCH) -> np.ndarray:
    """F(t) = ∫₀ᵗ E dt'.

    >>> float(cumulative_rtd(36.0, 36.0, regime="laminar"))
    0.75
    """
    return _model(tau_min, bodenstein, theta, regime, theta_switch).cdf(t_min)


def washout_time_min(tau_min: float, fraction: float = 0.99, *, bodenstein: float | None = None,
                     theta: float | None = None, regime: Regime = "auto",
                     theta_switch: float = THETA_SWITCH) -> float:
    """Flush time after a step change: F(t) = ``fraction`` (the platform's 99 % criterion), min.

    Laminar: t = τ/(2√(1 − f)), i.e. 5τ at 99 %.

    >>> round(washout_time_min(36.0, regime="laminar"), 9)
    180.0
    """
    return _model(tau_min, bodenstein, theta, regime, theta_switch).washout_time_min(fraction)


def rtd_quadrature(tau_min: float, n_nodes: int, *, bodenstein: float | None = None, theta: float | None = None,
                   regime: Regime = "auto", theta_switch: float = THETA_SWITCH,
                   method: Literal["auto", "gauss", "quantile"] = "auto") -> tuple[np.ndarray, np.ndarray]:
    """(t_nodes in min, weights): ∫E(t) g(t) dt ≈ Σ wᵢ g(tᵢ); weights sum to 1, Σ wᵢ tᵢ = τ exactly.

    Gauss rule of E in the dispersion regime, mean-preserving quantile rule in the laminar regime
    (:meth:`ResidenceTimeDistribution.quadrature`).

    >>> t, w = rtd_quadrature(36.0, 8, bodenstein=65.0, regime="dispersion")
    >>> round(float(w.sum()), 12), round(float(t @ w), 10)
    (1.0, 36.0)
    """
    return _model(tau_min, bodenstein, theta, regime, theta_switch).quadrature(n_nodes, method)


def section_rtd(segment: Segment, *, species: Species = "particle", hydrodynamic_diameter_nm: float = 7.0,
                fluids: Mapping[str, Fluid] | None = None, dean_reduction: bool = True,
                theta_switch: float = THETA_SWITCH) -> ResidenceTimeDistribution:
    """RTD of one resolved section for nanocrystals (Stokes–Einstein) or molecules (Wilke–Chang)."""
    if not segment.tubes:
        raise RangeError(f"section {segment.name}: has no tube volume (a mixer) and no RTD")
    rho, mu = mixture_properties(segment.stream_fractions, segment.temperature_c, fluids)
    if species == "particle":
        diff = float(stokes_einstein_diffusivity_m2_s(segment.temperature_c, mu,
                                                      hydrodynamic_diameter_nm=hydrodynamic_diameter_nm))
    elif species == "molecule":
        diff = float(wilke_chang_diffusivity_m2_s(segment.temperature_c, mu))
    else:
        raise RangeError(f"unknown species {species!r} (particle, molecule)")
    tube = segment.tubes[0]
    re = reynolds(segment.flow_ml_min, tube.inner_diameter_mm, rho, mu)
    de = float(dean_number(re, tube.inner_diameter_mm, tube.coil_diameter_mm))
    schmidt = float(mu / (rho * diff))
    theta, bo = dispersion_numbers(segment.residence_time_min, segment.length_m, tube.inner_diameter_mm, diff,
                                   de2sc=de**2 * schmidt, dean_reduction=dean_reduction)
    return ResidenceTimeDistribution.from_numbers(segment.residence_time_min, bodenstein=bo, theta=theta,
                                                  theta_switch=theta_switch)


def train_rtd(train: ReactorTrain, flow_ml_min: float, temperatures_c: Mapping[str, float] | None = None,
              side_flows_ml_min: Mapping[str, float] | None = None, *, until: str | None = None,
              species: Species = "particle", hydrodynamic_diameter_nm: float = 7.0,
              fluids: Mapping[str, Fluid] | None = None, dean_reduction: bool = True,
              theta_switch: float = THETA_SWITCH) -> ResidenceTimeDistribution:
    """RTD of the whole train (or up to section ``until``), sections combined in series (see module notes)."""
    if until is not None:
        train = train.until(until)
        # Set points and side flows of sections cut off by ``until`` are dropped.
        kept = set(train.section_names)
        streams = {s.stream for s in train.sections if isinstance(s, MixingPoint)}
        temperatures_c = {k: v for k, v in (temperatures_c or {}).items() if k in kept}
        side_flows_ml_min = {k: v for k, v in (side_flows_ml_min or {}).items() if k in streams}
    segments = train.resolve(flow_ml_min, temperatures_c, side_flows_ml_min)
    total: ResidenceTimeDistribution | None = None
    for seg in segments:
        if not seg.tubes:
            continue
        part = section_rtd(seg, species=species, hydrodynamic_diameter_nm=hydrodynamic_diameter_nm, fluids=fluids,
                           dean_reduction=dean_reduction, theta_switch=theta_switch)
        total = part if total is None else total.then(part, theta_switch=theta_switch)
    if total is None:
        raise RangeError(f"reactor train {train.name}: no section with volume")
    return total
