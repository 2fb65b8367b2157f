"""RTD: normalisation, moments, regimes, washout and quadrature; particle vs molecule at the paper's conditions."""

from __future__ import annotations

import numpy as np
import pytest

from flowqd.errors import RangeError
from flowqd.reactor import (
    ResidenceTimeDistribution,
    cumulative_rtd,
    dean_reduction_factor,
    paper_train,
    rtd,
    rtd_quadrature,
    section_rtd,
    train_rtd,
    washout_time_min,
)

TAU = 36.0


def _trap(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


@pytest.mark.parametrize("bo", [20.0, 65.0, 900.0, 3000.0])
def test_dispersion_rtd_normalised_mean_variance(bo: float) -> None:
    t = np.linspace(0.0, 6 * TAU, 400_001)
    e = rtd(t, TAU, bodenstein=bo, regime="dispersion")
    assert _trap(e, t) == pytest.approx(1.0, abs=1e-6)
    assert _trap(t * e, t) == pytest.approx(TAU, rel=1e-6)
    assert _trap((t - TAU) ** 2 * e, t) == pytest.approx(2 * TAU**2 / bo, rel=1e-4)
    # F is the integral of E
    f = cumulative_rtd(t[::4000], TAU, bodenstein=bo, regime="dispersion")
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (e[1:] + e[:-1]) * np.diff(t))])[::4000]
    np.testing.assert_allclose(f, cum, atol=1e-6)
    assert np.all(np.isfinite(f)) and f[-1] == pytest.approx(1.0, abs=1e-9)


def test_laminar_rtd_normalised_and_mean() -> None:
    t = np.concatenate([[0.0, 0.5 * TAU - 1e-12], np.geomspace(0.5 * TAU, 2e4 * TAU, 400_001)])
    e = rtd(t, TAU, regime="laminar")
    assert e[0] == 0.0 and e[1] == 0.0
    # ∫ up to T misses τ²/(4T²) = 6e-10
    assert _trap(e[2:], t[2:]) == pytest.approx(1.0, abs=1e-6)
    # the mean converges slowly (tail τ²/(2T)); compare with the truncated analytic value
    assert _trap(t[2:] * e[2:], t[2:]) == pytest.approx(TAU - TAU / (2 * 2e4), rel=1e-6)
    assert float(cumulative_rtd(TAU, TAU, regime="laminar")) == 0.75


def test_regime_choice_by_theta() -> None:
    assert ResidenceTimeDistribution.from_numbers(TAU, bodenstein=65.0, theta=1.35).regime == "dispersion"
    assert ResidenceTimeDistribution.from_numbers(TAU, bodenstein=22.0, theta=0.45).regime == "laminar"
    assert ResidenceTimeDistribution.from_numbers(TAU, bodenstein=22.0, theta=0.45,
                                                  theta_switch=0.4).regime == "dispersion"
    with pytest.raises(RangeError, match=r"regime 'auto' needs theta"):
        rtd(1.0, TAU)
    with pytest.raises(RangeError, match=r"needs a Bodenstein number"):
        rtd(1.0, TAU, regime="dispersion")


def test_washout_ordering_and_definition() -> None:
    lam = washout_time_min(TAU, regime="laminar")
    assert lam == pytest.approx(5 * TAU, rel=1e-12)
    w65 = washout_time_min(TAU, bodenstein=65.0, regime="dispersion")
    w900 = washout_time_min(TAU, bodenstein=900.0, regime="dispersion")
    assert lam > w65 > w900 > TAU
    assert float(cumulative_rtd(w65, TAU, bodenstein=65.0, regime="dispersion")) == pytest.approx(0.99, abs=1e-9)
    assert washout_time_min(TAU, 0.9, bodenstein=65.0, regime="dispersion") < w65
    # a Gaussian estimate τ(1 + 2.326 σ_θ) is close for large Bo
    assert w900 == pytest.approx(TAU * (1 + 2.326 * np.sqrt(2 / 900)), rel=0.01)
    with pytest.raises(RangeError, match=r"washout fraction"):
        washout_time_min(TAU, 1.0, regime="laminar")


@pytest.mark.parametrize("kw", [{"bodenstein": 65.0, "regime": "dispersion"},
                                {"bodenstein": 3000.0, "regime": "dispersion"}, {"regime": "laminar"}])
@pytest.mark.parametrize("n", [1, 5, 40])
@pytest.mark.parametrize("method", ["auto", "quantile"])
def test_quadrature_weights_and_exact_mean(kw: dict, n: int, method: str) -> None:
    t, w = rtd_quadrature(TAU, n, method=method, **kw)
    assert t.shape == w.shape == (n,)
    assert float(w.sum()) == pytest.approx(1.0, abs=1e-12)
    assert float(t @ w) == pytest.approx(TAU, rel=1e-12)
    assert np.all(np.diff(t) > 0) and np.all(t > 0)


def test_gauss_rule_reproduces_higher_moments() -> None:
    # Inverse Gaussian (mean μ = τ, λ = Bo τ / 2): E[t²] = μ² + μ³/λ, E[t³] = μ³ + 3μ⁴/λ + 3μ⁵/λ²
    bo = 65.0
    lam = bo * TAU / 2
    t, w = rtd_quadrature(TAU, 2, bodenstein=bo, regime="dispersion")
    assert float(w @ t**2) == pytest.approx(TAU**2 + TAU**3 / lam, rel=1e-10)
    assert float(w @ t**3) == pytest.approx(TAU**3 + 3 * TAU**4 / lam + 3 * TAU**5 / lam**2, rel=1e-10)


def test_quadrature_converges_for_a_smooth_integrand() -> None:
    model = ResidenceTimeDistribution.from_numbers(TAU, bodenstein=65.0, regime="dispersion")
    tt = np.linspace(0.0, 8 * TAU, 200_001)
    g = lambda x: np.exp(-x / TAU)  # noqa: E731
    exact = _trap(model.pdf(tt) * g(tt), tt)
    gauss = [abs(float(w @ g(t)) - exact) for t, w in (model.quadrature(n, "gauss") for n in (1, 2, 4))]
    quant = [abs(float(w @ g(t)) - exact) for t, w in (model.quadrature(n, "quantile") for n in (4, 16, 64))]
    assert gauss[0] > gauss[1] > gauss[2] and gauss[2] < 1e-9
    assert quant[0] > quant[1] > quant[2] and quant[2] < 3e-5
    with pytest.raises(RangeError, match=r"no Gauss rule for the laminar regime"):
        rtd_quadrature(TAU, 4, regime="laminar", method="gauss")


def test_dean_reduction_limits() -> None:
    f = dean_reduction_factor([0.0, 1.0, 100.0, 1e4, 1e8])
    assert f[0] == 1.0 and f[-1] == pytest.approx(0.2, abs=1e-6)
    assert f[3] == pytest.approx(0.2, abs=0.01)
    assert np.all(np.diff(f) < 0)


def test_particles_transitional_molecules_taylor_at_paper_conditions() -> None:
    train = paper_train(shell=False)
    seg_01 = train.resolve(0.1, {"HB1": 200.0})[0]
    seg_03 = train.resolve(0.3, {"HB1": 200.0})[0]
    # notes §3.1 (no Dean reduction): θ_QD 1.35, Bo_QD 65; θ_mol 19, Bo_mol 898 at 0.1 mL/min, 200 °C
    p = section_rtd(seg_01, species="particle", dean_reduction=False)
    m = section_rtd(seg_01, species="molecule", dean_reduction=False)
    assert p.theta == pytest.approx(1.35, rel=0.02) and p.bodenstein == pytest.approx(65, rel=0.03)
    assert m.theta == pytest.approx(19, rel=0.03) and m.bodenstein == pytest.approx(898, rel=0.03)
    # with the Dean reduction the particle RTD narrows (De²Sc ≈ 1100 for D_c = 30 mm)
    assert section_rtd(seg_01).bodenstein > 3 * p.bodenstein
    # at 0.3 mL/min particles are in the laminar (convective) regime, molecules still Taylor-dispersed
    assert section_rtd(seg_03).regime == "laminar" and section_rtd(seg_03).theta == pytest.approx(0.45, rel=0.02)
    assert section_rtd(seg_03, species="molecule").regime == "dispersion"


def test_series_adds_tau_theta_and_variance() -> None:
    train = paper_train()
    op = (0.06, {"HB1": 200.0, "HB2": 200.0}, {"ddt": 0.03})
    segs = train.resolve(*op)
    a, b = section_rtd(segs[0]), section_rtd(segs[2])
    total = train_rtd(train, *op)
    assert total.tau_min == pytest.approx(a.tau_min + b.tau_min, rel=1e-12)
    assert total.theta == pytest.approx(a.theta + b.theta, rel=1e-12)
    assert total.variance_min2 == pytest.approx(a.variance_min2 + b.variance_min2, rel=1e-12)
    core = train_rtd(train, *op, until="HB1")
    assert core.tau_min == pytest.approx(a.tau_min, rel=1e-12)
