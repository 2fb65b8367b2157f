"""The PSD solvers (flowqd.analysis.psd.solvers): the PDAS step shared by numpy and JAX, and the BLAS thread scope."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest

from flowqd.analysis.psd import invert_psd, regularized_problem
from flowqd.analysis.psd import solvers as solvers_mod
from flowqd.analysis.psd.problem import _problem_cached
from flowqd.analysis.psd.solvers import (
    _batch_solve_numpy_kta,
    _dual_pdas_step,
    _multipliers_bucketed,
    _numpy_consts,
    _pdas_setup,
    single_blas_thread,
    solve_nnls_scipy,
)
from flowqd.analysis.spectrum import Spectrum
from flowqd.units import HC_EV_NM

from .test_psd import _batch_problem, _good

#: The solver tests' spectra: 400 points over 400-900 nm, RSD 5-18 % (test_psd's batch problem on a coarser grid).
WL = np.linspace(400.0, 900.0, 400)
RSD = (0.05, 0.18)


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]


def test_pdas_step_equals_dense_reference() -> None:
    """One step of the shared :func:`_dual_pdas_step` with the numpy (bucketed, padded-stack) multipliers equals the
    step written out densely from H = KᵀK + λLᵀL per row: same ν, same x, same new active set."""
    e, A = _batch_problem(24, seed=5, wl=WL, rsd=RSD)
    prob = regularized_problem(e)
    u, hpad = _numpy_consts(prob)
    beta = A @ u
    b = (prob.s * beta) @ prob.vt_reg
    j, lam, xu, act, tol = _pdas_setup(np, A, beta, b, None, prob.s, prob.lambdas, prob.vt_linv_t)
    xup = np.zeros((A.shape[0], hpad.shape[1]))
    xup[:, : xu.shape[1]] = -xu
    assert len(np.unique(act.sum(axis=1))) > 2  # several buckets of |A|
    x, new_act, conv = _dual_pdas_step(np, partial(_multipliers_bucketed, xu, xup, j, hpad), act, tol)
    for i in range(A.shape[0]):
        hinv = np.linalg.inv(prob.gram + lam[i] * prob.reg_gram)
        np.testing.assert_allclose(hinv @ (A[i] @ prob.kernel), xu[i], rtol=1e-7, atol=1e-9 * np.abs(xu[i]).max())
        a_i = np.flatnonzero(act[i])
        nu = np.linalg.solve(hinv[np.ix_(a_i, a_i)], -xu[i, a_i])
        ref = xu[i] + hinv[:, a_i] @ nu
        ref[a_i] = 0.0
        np.testing.assert_allclose(x[i], ref, rtol=0, atol=1e-8 * np.abs(ref).max())
        keep = np.zeros(act.shape[1], bool)
        keep[a_i] = nu >= -tol[i, 0]
        ref_act = keep | (~act[i] & (ref <= 0))
        assert np.array_equal(new_act[i], ref_act)
        assert conv[i] == np.array_equal(ref_act, act[i])


def test_jax_rows_wider_than_the_static_width_are_flagged() -> None:
    """JAX steps a static active-set width k: a row whose active set outgrows k must come back not converged
    (finished on the host), and every row flagged converged must be the scipy minimiser."""
    pytest.importorskip("jax", reason="the [jax] extra is part of the test install")
    import jax

    e, A = _batch_problem(16, seed=7, wl=WL, rsd=RSD)
    prob = regularized_problem(e)
    consts = solvers_mod._jax_arrays(prob, "float64")
    x_np, lam_np = solvers_mod._batch_solve(prob, A, None, "numpy")
    n_active = np.sum((x_np[:, : prob.n_classes] <= 0), axis=1)  # |A| at the minimiser
    k = int(np.median(n_active))
    with jax.enable_x64(True):
        x, conv, lam = solvers_mod._jax_solver(k, 20, True)(*consts, jax.numpy.asarray(A), jax.numpy.zeros(16))
    x, conv, lam = np.asarray(x), np.asarray(conv), np.asarray(lam)
    np.testing.assert_allclose(lam, lam_np, rtol=1e-12)
    assert np.any(n_active > k + 2) and np.any(n_active < k - 2)  # both kinds of row are in the set
    assert not np.any(conv[n_active > k + 2])
    assert np.mean(conv[n_active < k - 2]) > 0.7
    for i in np.flatnonzero(conv):
        ref = solve_nnls_scipy(prob, A[i], float(lam_np[i]))
        assert np.linalg.norm(x[i] - ref) <= 1e-8 * np.linalg.norm(ref)


def test_blas_runs_one_thread_inside_and_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """threadpoolctl scope: one BLAS thread while the numpy solver runs, the caller's setting afterwards."""
    from threadpoolctl import threadpool_limits

    from flowqd.analysis.psd import batch as batch_mod

    seen: list[list[int]] = []
    real = solvers_mod._batch_solve_numpy_kta

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(_blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_mod, "_batch_solve_numpy_kta", spy)
    monkeypatch.setattr(solvers_mod, "_batch_solve_numpy_kta", spy)
    e, A = _batch_problem(4, seed=2, wl=WL, rsd=RSD)
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert before and max(before) == 2  # a BLAS is loaded and set to 2 threads here
        batch_mod.invert_psd_batch(e, A, workers=1)
        invert_psd(Spectrum(WL, A[0]))
        assert _blas_threads() == before
        with single_blas_thread():
            assert set(_blas_threads()) == {1}
        assert _blas_threads() == before
    assert len(seen) == 2 and all(set(s) == {1} for s in seen)


def test_lazy_stack_is_safe_for_concurrent_callers() -> None:
    """The H⁻¹ stack's λ slices are filled when first needed (one spectrum: one slice). Threads that solve on one
    fresh problem at once get the same result as a serial solve. The first lazy version (no lock, the stack bound
    before the fill) failed here at once (singular matrices, wrong solutions; found by review of issue 8)."""
    import sys
    import threading

    wl = np.linspace(400.0, 900.0, 300)
    e = HC_EV_NM / wl
    a = _good(wl)
    a = a / np.abs(a).max()
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(10):
            _problem_cached.cache_clear()
            prob = regularized_problem(e)
            lams = [np.array([10.0 ** (-3 - 0.05 * i) * prob.s[0] ** 2]) for i in range(8)]
            out: list[np.ndarray | None] = [None] * 8
            barrier = threading.Barrier(8)

            def work(i: int, prob=prob, lams=lams, out=out, barrier=barrier) -> None:
                barrier.wait()
                out[i] = _batch_solve_numpy_kta(prob, a[None, :], lams[i])[0]

            threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            _problem_cached.cache_clear()
            serial = regularized_problem(e)
            for i in range(8):
                np.testing.assert_allclose(out[i], _batch_solve_numpy_kta(serial, a[None, :], lams[i])[0], atol=1e-9)
    finally:
        sys.setswitchinterval(old)
        _problem_cached.cache_clear()
