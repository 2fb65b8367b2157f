"""PSD from absorbance (Segets method): kernel, forward model, inversion round trip, paper points, batch, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from flowqd.analysis.exciton import find_exciton
from flowqd.analysis.psd import (
    PSD_METHODS,
    diameter_grid_nm,
    forward_absorbance,
    invert_psd,
    invert_psd_batch,
    kernel_matrix,
    offset_floor,
    psd_gaussian,
    psd_lognormal,
    psd_moments,
    regularized_problem,
    select_lambda_gcv,
    solve_nnls_scipy,
)
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import ConfigError, RangeError, SpectrumError
from flowqd.materials import get_material
from flowqd.units import HC_EV_NM, LN10

from .contract import SpectrumMethodContract

GRID = diameter_grid_nm("InP")
# Round trip: 350-1000 nm, so that the smallest sizes of a broad 2.4 nm distribution have their 1S transition in
# range and the 850-1000 nm window is free of absorption even for 3.8 nm at 20 % RSD (largest class 6 nm: 745 nm).
WL_RT = np.linspace(350.0, 1000.0, 2048)
WL_PAPER = np.linspace(400.0, 900.0, 2048)  # the paper's 2048-pixel spectrometer


def noisy(wl: np.ndarray, a: np.ndarray, seed: int, rel: float = 0.005, sloped: bool = True) -> Spectrum:
    rng = np.random.default_rng(seed)
    y = a + rng.normal(0.0, rel * float(np.max(a)), wl.size)
    if sloped:
        y = y + 0.02 + 1e-5 * (wl - 400.0)
    return Spectrum(wl, y, source=f"synthetic-{seed}.csv")


# --- round trip ----------------------------------------------------------------------------------------------
CASES = [(x13, rsd) for x13 in (2.4, 2.8, 3.2, 3.8) for rsd in (0.05, 0.10, 0.15, 0.20)]


@pytest.mark.parametrize(("x13", "rsd"), CASES)
def test_round_trip_lognormal(x13: float, rsd: float) -> None:
    q3 = psd_lognormal(GRID, x13, rsd)
    true_x13, _, true_rsd = psd_moments(GRID, q3)  # moments of the q3 that made the data (grid-truncated)
    a = forward_absorbance(GRID, q3, wavelength_nm=WL_RT)
    seed = 100 + CASES.index((x13, rsd))
    r = invert_psd(noisy(WL_RT, a, seed), "InP", baseline_window_nm=(850.0, 1000.0))
    assert abs(r.x13_nm - true_x13) <= 0.05
    assert abs(r.rsd - true_rsd) <= 0.015
    assert np.trapezoid(r.q3, r.diameter_nm) == pytest.approx(1.0)
    assert np.trapezoid(r.q0, r.diameter_nm) == pytest.approx(1.0)
    assert r.fit_residual_rms < 0.0075  # close to the noise (0.005)
    assert 0.02 < r.x13_uncertainty_nm < 0.05 * x13  # noise plus model error (sizing curve, kernel shape)


@pytest.mark.parametrize("target_nm", [518.0, 590.0])
def test_paper_temperature_series(target_nm: float) -> None:
    """Wang & Segets 2023: first exciton at 518 nm <-> x13 = 2.7 nm, 590 nm <-> 3.4 nm (RSD ~8 %)."""

    def peak_offset(x: float) -> float:
        a = forward_absorbance(GRID, psd_lognormal(GRID, x, 0.08), wavelength_nm=WL_PAPER)
        return find_exciton(Spectrum(WL_PAPER, a)).wavelength_nm - target_nm

    x_gen = brentq(peak_offset, 2.0, 4.5, xtol=1e-4)  # the size whose spectrum peaks at the target
    a = forward_absorbance(GRID, psd_lognormal(GRID, x_gen, 0.08), wavelength_nm=WL_PAPER)
    r = invert_psd(noisy(WL_PAPER, a, 7), baseline_window_nm=(800.0, 900.0))
    expected = {518.0: 2.7, 590.0: 3.4}[target_nm]
    assert r.x13_nm == pytest.approx(expected, abs=0.1)
    assert r.rsd == pytest.approx(0.08, abs=0.015)
    assert r.exciton_wavelength_nm == pytest.approx(target_nm, abs=2.0)


# --- kernel and forward model --------------------------------------------------------------------------------
def test_kernel_properties() -> None:
    inp = get_material("InP")
    d = np.array([2.0, 2.7, 3.4, 5.0])
    e = np.linspace(1.4, 4.2, 800)
    K = kernel_matrix(e, d)
    assert K.shape == (800, 4) and np.all(K >= 0)
    e1 = inp.gap_ev(d)
    for j in range(4):
        below = e < e1[j] - 0.25
        assert np.max(K[below, j]) < 1e-6 * np.max(K[:, j])  # nothing below the 1S band
        # the 1S band makes a local maximum next to E_1S (not a monotone edge)
        near = np.abs(e - e1[j]) < 0.1
        i = np.argmax(np.where(near, K[:, j], -1.0))
        assert abs(e[i] - e1[j]) < 0.03 and 0 < i < e.size - 1 and K[i + 1, j] < K[i, j]
    # far above the edge all sizes absorb like mu_i (volume-normalised)
    mu = inp.intrinsic_absorption_cm(HC_EV_NM / 4.2, "hexane")
    np.testing.assert_allclose(K[-1], mu, rtol=1e-6)


def test_kernel_rejects_out_of_range_sizes() -> None:
    with pytest.raises(RangeError):
        kernel_matrix([2.0], [7.0])


def test_narrow_distribution_shows_peak_and_dip() -> None:
    a = forward_absorbance(GRID, psd_lognormal(GRID, 2.7, 0.08), wavelength_nm=WL_PAPER)
    ex = find_exciton(Spectrum(WL_PAPER, a))
    assert ex.method == "maximum" and 505 < ex.wavelength_nm < 520
    dip = a[(WL_PAPER > 440) & (WL_PAPER < ex.wavelength_nm)].min()
    assert ex.absorbance / dip > 1.2  # a clear dip on the blue side
    assert a[np.argmin(np.abs(WL_PAPER - 413))] > ex.absorbance  # on a rising background


@pytest.mark.parametrize("x13", [2.4, 3.4])
def test_forward_scaling_matches_mu_i(x13: float) -> None:
    phi, path_mm = 3e-4, 2.0
    q3 = psd_gaussian(GRID, x13, 0.1)
    a = forward_absorbance(GRID, q3, wavelength_nm=[310.0], volume_fraction=phi, path_mm=path_mm, solvent="toluene")
    mu = get_material("InP").intrinsic_absorption_cm(310.0, "toluene")
    assert float(a[0]) == pytest.approx(mu * phi * path_mm * 0.1 / LN10, rel=1e-6)


def test_forward_batch_and_normalisation() -> None:
    q = np.stack([psd_lognormal(GRID, 2.7, 0.08), psd_lognormal(GRID, 3.4, 0.1)])
    a = forward_absorbance(GRID, q, wavelength_nm=WL_PAPER)
    assert a.shape == (2, WL_PAPER.size)
    np.testing.assert_allclose(a.max(axis=1), 1.0)
    np.testing.assert_allclose(a[1], forward_absorbance(GRID, q[1], HC_EV_NM / WL_PAPER))
    with pytest.raises(RangeError):
        forward_absorbance(GRID, q[0])


def test_psd_helpers() -> None:
    x13, sigma, rsd = psd_moments(GRID, psd_lognormal(GRID, 3.0, 0.12))
    assert (x13, rsd) == (pytest.approx(3.0, abs=1e-4), pytest.approx(0.12, abs=1e-4))
    assert sigma == pytest.approx(0.36, abs=1e-3)
    with pytest.raises(RangeError):
        psd_gaussian(GRID, 3.0, 1.5)


# --- methods, batch ------------------------------------------------------------------------------------------
def test_methods_registry_agree() -> None:
    a = forward_absorbance(GRID, psd_lognormal(GRID, 3.0, 0.1), wavelength_nm=WL_PAPER)
    s = noisy(WL_PAPER, a, 3, sloped=False)
    ref = invert_psd(s, method="nnls-gcv")
    fast = invert_psd(s)  # default: pdas
    para = invert_psd(s, method="lognormal")
    assert set(PSD_METHODS) == {"nnls-gcv", "pdas", "lognormal"} and fast.method == "pdas"
    assert fast.x13_nm == pytest.approx(ref.x13_nm, abs=0.005) and fast.rsd == pytest.approx(ref.rsd, abs=0.002)
    assert para.x13_nm == pytest.approx(3.0, abs=0.03) and para.rsd == pytest.approx(0.1, abs=0.01)
    with pytest.raises(ConfigError):
        invert_psd(s, method="magic")


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_batch_equals_scipy(backend: str) -> None:
    wl = np.linspace(400.0, 900.0, 512)
    e = HC_EV_NM / wl
    rng = np.random.default_rng(11)
    params = [(2.5, 0.06), (2.8, 0.1), (3.1, 0.14), (3.5, 0.08), (3.8, 0.12), (2.7, 0.18)]
    A = np.stack([forward_absorbance(GRID, psd_lognormal(GRID, x, r), e) for x, r in params])
    A = A + rng.normal(0, 0.005, A.shape)
    res = invert_psd_batch(e, A, backend=backend)
    prob = regularized_problem(e)
    floor = offset_floor(e, A)  # the offset's lower bound: the data are shifted by it, as invert_psd does
    assert np.all(floor < 0) and np.all(floor > -0.1)
    for i in range(len(params)):
        a_s = (A[i] - floor[i]) / np.abs(A[i] - floor[i]).max()
        lam = float(select_lambda_gcv(prob, a_s))
        assert res.lambda_reg[i] == pytest.approx(lam, rel=1e-9)
        single = invert_psd_batch(e, A[i:i + 1], backend="numpy", lambda_reg=[lam])
        x = solve_nnls_scipy(prob, a_s, lam)[: prob.n_classes]
        # same pruning rule as the batch
        from flowqd.analysis.exciton import noise_level_estimate
        from flowqd.analysis.psd import prune_islands

        off = prob.kernel[:, prob.n_classes:] @ solve_nnls_scipy(prob, a_s, lam)[prob.n_classes:]
        x = prune_islands(prob.kernel[:, : prob.n_classes], x, a_s - off, noise_level_estimate(a_s))
        x13, _, rsd = psd_moments(prob.diameter_nm, x / prob.weights)
        assert abs(res.x13_nm[i] - x13) < 0.005 and abs(res.rsd[i] - rsd) < 0.002
        assert abs(single.x13_nm[0] - x13) < 0.005


# --- bad input -----------------------------------------------------------------------------------------------
def _good(wl: np.ndarray = WL_PAPER, scale: float = 1.0) -> np.ndarray:
    return scale * forward_absorbance(GRID, psd_lognormal(GRID, 3.4, 0.08), wavelength_nm=wl)


def test_saturated_exciton() -> None:
    a = np.minimum(_good(scale=8.0), 3.5)
    with pytest.raises(SpectrumError, match="saturated"):
        invert_psd(Spectrum(WL_PAPER, a, source="sat.csv"))


def test_no_exciton_flat() -> None:
    y = np.random.default_rng(0).normal(0, 1e-4, WL_PAPER.size)
    with pytest.raises(SpectrumError, match="no exciton"):
        invert_psd(Spectrum(WL_PAPER, y, source="blank.csv"))


def test_does_not_reach_onset() -> None:
    wl = np.linspace(400.0, 630.0, 800)
    with pytest.raises(SpectrumError, match="does not reach the absorption onset"):
        invert_psd(Spectrum(wl, _good(wl), source="short.csv"))
    with pytest.raises(SpectrumError, match="does not reach the absorption onset"):
        invert_psd(Spectrum(WL_PAPER, _good() + 0.2, source="offset.csv"))  # baseline not corrected
    with pytest.raises(SpectrumError, match="does not reach the absorption onset"):
        invert_psd(Spectrum(wl, _good(wl)), baseline_window_nm=(800.0, 900.0))


def test_too_few_points() -> None:
    wl = np.linspace(400.0, 900.0, 200)
    with pytest.raises(SpectrumError, match="too few points"):
        invert_psd(Spectrum(wl, _good(wl), source="sparse.csv"), fit_window_ev=(2.0, 2.05))


def test_error_names_source() -> None:
    with pytest.raises(SpectrumError, match=r"^sat\.csv: "):
        invert_psd(Spectrum(WL_PAPER, np.minimum(_good(scale=8.0), 3.5), source="sat.csv"))


class TestInvertPsdContract(SpectrumMethodContract):
    kind = "absorbance"

    def make_spectrum(self) -> Spectrum:
        wl = np.linspace(400.0, 900.0, 700)
        return Spectrum(wl, _good(wl), kind="absorbance", source="contract.csv")

    def method(self, spectrum: Spectrum) -> object:
        return invert_psd(spectrum)


# --- solver forms and backends (exact same minimiser) ---------------------------------------------------------
def _batch_problem(n: int = 6, seed: int = 5, *, wl: np.ndarray = WL_PAPER,
                   rsd: tuple[float, float] = (0.06, 0.16)) -> tuple[np.ndarray, np.ndarray]:
    e = HC_EV_NM / wl
    rng = np.random.default_rng(seed)
    q = np.stack([psd_lognormal(GRID, x, r) for x, r in zip(rng.uniform(2.5, 3.6, n), rng.uniform(*rsd, n),
                                                               strict=True)])
    A = forward_absorbance(GRID, q, e) + rng.normal(0, 0.005, (n, wl.size))
    return e, A / np.abs(A).max(axis=1, keepdims=True)


def test_reduced_form_equals_stacked() -> None:
    e, As = _batch_problem()
    prob = regularized_problem(e)
    for a in As:
        lam = float(select_lambda_gcv(prob, a))
        xs = solve_nnls_scipy(prob, a, lam, form="stacked")
        xr = solve_nnls_scipy(prob, a, lam, form="reduced")
        assert np.linalg.norm(xr - xs) <= 1e-8 * np.linalg.norm(xs)


def test_batched_solvers_equal_scipy_and_each_other() -> None:
    from flowqd.analysis.psd.solvers import _batch_solve

    e, As = _batch_problem(12, seed=9)
    prob = regularized_problem(e)
    x_np, lam = _batch_solve(prob, As, None, "numpy")
    x_jx, lam_jx = _batch_solve(prob, As, None, "jax")
    np.testing.assert_allclose(lam_jx, lam, rtol=1e-12)
    for i, a in enumerate(As):
        xs = solve_nnls_scipy(prob, a, float(lam[i]), form="stacked")
        assert np.linalg.norm(x_np[i] - xs) <= 1e-8 * np.linalg.norm(xs)
        assert np.linalg.norm(x_jx[i] - x_np[i]) <= 1e-8 * np.linalg.norm(xs)


def test_batched_pruning_equals_per_row_loop() -> None:
    """The vectorised pruning (normal-equation χ², runs labelled by cumulative sums) makes the same decisions and
    the same rescaling as :func:`prune_islands` row by row."""
    from flowqd.analysis.exciton import noise_level_estimate
    from flowqd.analysis.psd import prune_islands
    from flowqd.analysis.psd.results import _prune_islands_batch
    from flowqd.analysis.psd.solvers import _batch_solve_numpy_kta

    e, As = _batch_problem(60, seed=11)
    prob = regularized_problem(e)
    m = prob.n_classes
    x, _, kta = _batch_solve_numpy_kta(prob, As, None)
    p, xb = x[:, :m], x[:, m:]
    noise = np.array([noise_level_estimate(a) for a in As])
    g = kta[:, :m] - xb @ prob.gram[m:, :m]
    got = _prune_islands_batch(prob.gram[:m, :m], p, g, noise, 5.0)
    n_multi = 0
    for i in range(As.shape[0]):
        ref = prune_islands(prob.kernel[:, :m], p[i], As[i] - prob.kernel[:, m:] @ xb[i], float(noise[i]))
        np.testing.assert_allclose(got[i], ref, rtol=1e-10, atol=1e-14 * np.abs(ref).max())
        n_multi += int(np.count_nonzero(np.diff(np.r_[0, (p[i] > 0).astype(int)]) == 1) > 1)
    assert n_multi > 0  # the test set does exercise islands


def test_batch_result_does_not_depend_on_worker_threads() -> None:
    e, As = _batch_problem(600, seed=21)  # 600 rows: 2 chunks of >= 256 rows with 2 workers
    one = invert_psd_batch(e, As, workers=1)
    two = invert_psd_batch(e, As, workers=2)
    np.testing.assert_array_equal(two.lambda_reg, one.lambda_reg)
    np.testing.assert_allclose(two.x13_nm, one.x13_nm, rtol=0, atol=1e-12)
    np.testing.assert_allclose(two.rsd, one.rsd, rtol=0, atol=1e-12)
    with pytest.raises(ConfigError, match="workers"):
        invert_psd_batch(e, As[:2], workers=0)


def test_batch_residual_equals_direct_residual() -> None:
    """The batch's residual comes from the normal equations (‖a‖² − 2xᵀKᵀa + xᵀKᵀKx); it must equal the directly
    computed ‖a − Kx‖² — also for a noise-free row, where that form cancels and the direct product is used."""
    from flowqd.analysis.psd.batch import _residual_ss
    from flowqd.analysis.psd.solvers import _batch_solve_numpy_kta

    e, As = _batch_problem(8, seed=4)
    exact = forward_absorbance(GRID, psd_lognormal(GRID, 3.0, 0.1), e)
    A = np.vstack([As, exact / np.abs(exact).max()])
    prob = regularized_problem(e)
    x, _, kta = _batch_solve_numpy_kta(prob, A, None)
    got = _residual_ss(prob, A, x, kta)
    direct = np.sum((A - x @ prob.kernel.T) ** 2, axis=1)
    np.testing.assert_allclose(got[:-1], direct[:-1], rtol=1e-9)
    assert got[-1] == pytest.approx(direct[-1], rel=1e-6) and got[-1] < 1e-3 * got[:-1].min()
    res = invert_psd_batch(e, A)
    assert res.fit_residual_rms[-1] < 1e-2 * res.fit_residual_rms[:-1].min()


def test_noise_estimate_rows_equals_per_row() -> None:
    from flowqd.analysis.exciton import noise_level_estimate, noise_level_estimate_rows

    rng = np.random.default_rng(3)
    for n in (3, 4, 9, 2048, 2049):
        Y = rng.normal(0, 0.01, (5, n)) + np.linspace(0, 1, n)
        got = noise_level_estimate_rows(Y)
        assert got.tolist() == [noise_level_estimate(y) for y in Y]
        ref = [float(np.median(np.abs(d - np.median(d))) / 0.6745 / np.sqrt(6.0)) for d in np.diff(Y, 2, axis=1)]
        np.testing.assert_allclose(got, ref, rtol=1e-15)


def test_auto_backend_takes_jax_only_on_an_accelerator(monkeypatch) -> None:
    """On a CPU the numpy PSD path is ~20× faster than JAX: ``backend="auto"`` must not pick JAX there."""
    from flowqd import _backend

    monkeypatch.setattr(_backend, "jax_available", lambda: True)
    monkeypatch.setattr(_backend, "jax_accelerator", lambda: False)
    assert _backend.resolve_backend("auto", auto_needs_accelerator=True) == "numpy"
    assert _backend.resolve_backend("auto") == "jax"  # the twin: JAX is faster on a CPU too
    monkeypatch.setattr(_backend, "jax_accelerator", lambda: True)
    assert _backend.resolve_backend("auto", auto_needs_accelerator=True) == "jax"
    monkeypatch.setattr(_backend, "jax_accelerator", lambda: False)
    e, As = _batch_problem(3, seed=1)
    assert invert_psd_batch(e, As, backend="auto").backend == "numpy"


def test_jax_float32_path_is_accurate_to_1e_3_nm() -> None:
    """The GPU-oriented float32 path (JAX) against the float64 numpy path on 2048-pixel spectra."""
    import jax  # noqa: F401  (the test extra: a missing JAX is a failure here, not a skip)

    e, As = _batch_problem(16, seed=8)
    ref = invert_psd_batch(e, As, backend="numpy")
    f32 = invert_psd_batch(e, As, backend="jax", dtype="float32")
    assert f32.backend == "jax"
    np.testing.assert_allclose(f32.x13_nm, ref.x13_nm, rtol=0, atol=2e-3)
    np.testing.assert_allclose(f32.rsd, ref.rsd, rtol=0, atol=1e-3)
    with pytest.raises(ConfigError, match="dtype"):
        invert_psd_batch(e, As[:2], backend="jax", dtype="float16")


# --- the free offset and the classes the window determines ----------------------------------------------------
def test_offset_is_not_negative_unless_the_red_end_is() -> None:
    """The offset is >= -3 noise: a negative offset plus the featureless continuum of large particles would mimic a
    slowly varying background (on the real CdSe series this gave RSD 40-60 % with a pile-up at 8 nm). A red end
    measured below zero lowers the floor to that level, so such a spectrum is still followed."""
    wl = np.linspace(400.0, 700.0, 1201)  # the baseline is left to the fit (require_onset=False)
    clean = _good(wl) * 0.5
    r0 = invert_psd(Spectrum(wl, clean + 1e-5 * np.random.default_rng(2).normal(size=wl.size)), require_onset=False)
    assert r0.x13_nm == pytest.approx(3.4, abs=0.05) and r0.rsd == pytest.approx(0.08, abs=0.02)
    low = invert_psd(Spectrum(wl, clean - 0.01 + 1e-5 * np.random.default_rng(2).normal(size=wl.size)),
                     require_onset=False)
    assert low.offset == pytest.approx(-0.01, abs=0.001)
    assert low.x13_nm == pytest.approx(r0.x13_nm, abs=0.02)
    assert low.fit_residual_rms < 0.002 * float(np.max(clean))


def test_classes_red_of_the_window_are_not_solved_for() -> None:
    """A class whose 1S band lies red of the window's red end adds only a featureless continuum inside it: it is
    not determined by the data and is not part of the problem (q3 = 0 there)."""
    cdse = get_material("CdSe")
    e = HC_EV_NM / np.linspace(420.0, 600.0, 181)
    prob = regularized_problem(e, cdse)
    w = 0.051  # CdSe's 1S width (sigma), eV
    gaps = cdse.gap_ev(prob.diameter_nm)
    assert gaps.min() >= e.min() + 1.5 * w - 1e-12 and gaps.max() <= e.max() - 1.5 * w + 1e-12
    assert prob.diameter_nm.max() < 4.3 < prob.grid_nm.max()  # 600 nm is the 1S of a 4.8 nm dot (Yu 2003)


def test_kernel_bands_add_higher_transitions() -> None:
    """CdSe's ``[[psd_kernel.bands]]``: each adds a Gaussian above E_1S; the kernel at E_1S (1S band plus the tails
    of the others) still follows Yu's eps_1S (tests/materials); an invalid band is refused with its key."""
    from dataclasses import replace
    from types import MappingProxyType

    from flowqd.analysis.psd import PSDKernel

    cdse = get_material("CdSe")
    prm = PSDKernel.from_material(cdse)
    assert len(prm.bands) == 2 and all(b[0] > 0 and b[1] > 0 for b in prm.bands)
    no_bands = replace(cdse, kernel=MappingProxyType({k: v for k, v in cdse.kernel.items() if k != "bands"}))
    d = np.array([3.0])
    e1 = float(cdse.gap_ev(d)[0])
    offset, _width, strength = prm.bands[0]
    e = np.array([e1 + offset])
    diff = kernel_matrix(e, d, cdse)[0, 0] - kernel_matrix(e, d, no_bands)[0, 0]
    mu1 = float(cdse.intrinsic_absorption_cm(HC_EV_NM / e1, "hexane"))
    tail2 = prm.bands[1][2] * np.exp(-0.5 * ((offset - prm.bands[1][0]) / prm.bands[1][1]) ** 2)
    assert diff == pytest.approx((strength + tail2) * mu1, rel=1e-9)  # d = 3 nm: size factor 1
    bad = replace(cdse, kernel=MappingProxyType({**cdse.kernel, "bands": [{"offset_ev": 0.1, "width_ev": 0.0,
                                                                           "strength": 0.2}]}))
    with pytest.raises(ConfigError, match="widths"):
        PSDKernel.from_material(bad)


def test_single_and_batch_share_the_offset_floor() -> None:
    """invert_psd and invert_psd_batch bound the offset alike (offset_floor): on a spectrum whose red end lies
    0.01 below zero both follow it and give the same x13."""
    wl = np.linspace(400.0, 900.0, 1024)
    e = HC_EV_NM / wl
    a = _good(wl) * 0.5 - 0.01 + np.random.default_rng(5).normal(0.0, 2e-4, wl.size)
    single = invert_psd(Spectrum(wl, a), fit_window_ev=(float(e.min()), float(e.max())), require_onset=False)
    batch = invert_psd_batch(single.energy_ev, single.absorbance[None, :])
    assert single.offset == pytest.approx(-0.01, abs=1e-3)
    assert batch.x13_nm[0] == pytest.approx(single.x13_nm, abs=1e-6)
    assert batch.fit_residual_rms[0] == pytest.approx(single.fit_residual_rms, rel=1e-3)


def test_batch_refuses_non_finite_rows() -> None:
    e = HC_EV_NM / WL_PAPER
    A = np.stack([_good(), _good()])
    A[1, 100] = np.nan
    with pytest.raises(SpectrumError, match="NaN or infinite"):
        invert_psd_batch(e, A)


def test_noise_uncertainty_propagates_through_the_classes_only() -> None:
    """σ(x13), σ(RSD) from noise: ‖K_F H_FF⁻¹ g‖ with g the gradient of x13 (RSD) in the free variables; the offset
    is a free variable (it is bounded below like the classes) but not a size, so its entry of g is 0. Reference
    written out densely here; treating the offset as a size class of 0 nm put σ(x13) ~10 % too high."""
    from flowqd.analysis.psd.kernel import _moments_from_p
    from flowqd.analysis.psd.results import _linearised_uncertainty

    wl = WL_PAPER[::8]
    prob = regularized_problem(HC_EV_NM / wl)
    m = prob.n_classes
    p = psd_lognormal(prob.diameter_nm, 3.0, 0.10) * prob.weights
    a = prob.kernel[:, :m] @ p
    a = a / a.max() + 0.05  # a positive offset: in the free set
    lam, noise = 1e-3, 0.002
    x = solve_nnls_scipy(prob, a, lam)
    assert x[m] > 0
    u_x13, u_rsd = _linearised_uncertainty(prob, x, lam, noise)

    free = np.flatnonzero(x > 0)
    kf = prob.kernel[:, free]
    h = kf.T @ kf + lam * prob.reg_gram[np.ix_(free, free)]
    w = x[:m]
    x13, sig, _ = _moments_from_p(prob.diameter_nm, w)
    d = prob.diameter_nm[free[free < m]]
    g_x13 = np.zeros(free.size)
    g_var = np.zeros(free.size)
    g_x13[free < m] = (d - x13) / w.sum()
    g_var[free < m] = ((d - x13) ** 2 - sig**2) / w.sum()
    g_rsd = g_var / (2 * sig * x13) - sig / x13**2 * g_x13
    ref_x13 = noise * np.linalg.norm(kf @ np.linalg.solve(h, g_x13))
    ref_rsd = noise * np.linalg.norm(kf @ np.linalg.solve(h, g_rsd))
    assert u_x13 == pytest.approx(ref_x13, rel=1e-6)
    assert u_rsd == pytest.approx(ref_rsd, rel=1e-6)
