r"""The regularised problem of the inversion, everything that depends only on the energy grid (LRU-cached),
and the choice of λ by generalised cross-validation.

On a fixed size grid the problem is :math:`\min_{p \ge 0, c} \|K p + c - A\|^2 + \lambda \|L p\|^2` (see
:mod:`flowqd.analysis.psd`). :func:`regularized_problem` builds the scaled kernel, the regulariser L and the SVD of
:math:`K L^{-1}` once per energy grid, material and solvent; :func:`select_lambda_gcv` and the solvers
(:mod:`flowqd.analysis.psd.solvers`) only read it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from flowqd.analysis.preprocess import trapezoid_weights
from flowqd.analysis.psd.kernel import PSDKernel, diameter_grid_nm, kernel_matrix
from flowqd.errors import SpectrumError
from flowqd.materials import Material, get_material
from flowqd.units import HC_EV_NM

__all__ = ["RegularizedProblem", "reduced_system", "regularized_problem", "select_lambda_gcv"]

_RIDGE = 1e-6
#: log10 of the λ grid searched by GCV (relative to the largest singular value squared).
_LOG_LAMBDA_GRID = np.linspace(-9.0, 0.0, 46)
#: λ actually used is rounded to a 0.05-decade grid (181 values over the same range): GCV is flat at its minimum
#: (≤ 6 % change of λ), and a fixed set of λ values lets the batched solvers use a precomputed stack of H⁻¹.
_LAMBDA_STEP_DEC = 0.05
_N_LAMBDA_FINE = 181


class _Ref:
    """Identity-hashed holder, so that a (non-hashable) Material can key an lru_cache."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Ref) and other.obj is self.obj

# ---------------------------------------------------------------------------------------------------------------
# the regularised problem (precomputed per energy grid)
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class RegularizedProblem:
    """Everything that depends only on the energy grid, material and solvent (cached).

    ``diameter_nm`` holds the *active* classes: those of the material's grid (``grid_nm``) whose 1S transition
    lies inside the energy window (``active`` mask); the others are not determined by the data. The kernel is
    scaled to a maximum of 1 (``kernel_scale_cm`` is the factor) so that λ is dimensionless.
    """

    energy_ev: np.ndarray
    diameter_nm: np.ndarray
    kernel: np.ndarray  # (N, M + 1) scaled; last column: offset
    kernel_scale_cm: float
    reg: np.ndarray  # (M, M) upper-triangular L with L^T L = D2^T D2 + eps I
    gram: np.ndarray  # K^T K
    reg_gram: np.ndarray  # L^T L
    u: np.ndarray  # (N, M) left singular vectors of K L^-1
    s: np.ndarray  # (M,)
    vt: np.ndarray  # (M, M)
    lambdas: np.ndarray  # GCV grid
    weights: np.ndarray = field(repr=False, default_factory=lambda: np.ones(0))  # trapezoid weights of the grid
    grid_nm: np.ndarray = field(repr=False, default_factory=lambda: np.ones(0))  # the full size grid
    active: np.ndarray = field(repr=False, default_factory=lambda: np.ones(0, bool))  # classes in the problem
    n_classes: int = 0  # the first n_classes columns are size classes, the last one the offset
    vt_reg: np.ndarray = field(repr=False, default_factory=lambda: np.ones(0))  # V^T L (reduced system, C = w V^T L)
    vt_linv_t: np.ndarray = field(repr=False, default_factory=lambda: np.ones(0))  # V^T L^-T (unconstrained sol.)
    #: per-problem cache of device (JAX) copies of the constants and the learnt free-set width
    device_cache: dict[str, Any] = field(repr=False, default_factory=dict)
    #: guards the lazily filled entries of ``device_cache`` (the numpy H⁻¹ stack) against concurrent callers
    lock: Any = field(repr=False, default_factory=threading.Lock)

    @property
    def active_width(self) -> int:
        """Static width of the gathered active set used by the jit-compiled solver (grows when too small)."""
        return int(self.device_cache.get("active_width", min(64, self.kernel.shape[1])))

    @property
    def n_energy(self) -> int:
        return int(self.energy_ev.size)


@lru_cache(maxsize=16)
def _problem_cached(e_bytes: bytes, mref: _Ref, solvent: str | float) -> RegularizedProblem:
    e = np.frombuffer(e_bytes, dtype=float).copy()
    mat = mref.obj
    grid = diameter_grid_nm(mat)
    prm = PSDKernel.from_material(mat)
    # Only size classes whose 1S band lies inside the energy window (with a 1.5 w margin) are determined by the
    # data; smaller ones would only add unconstrained weight. They are reported as q3 = 0.
    # Classes whose 1S band lies red of the window are not determined either: inside the window they add only a
    # featureless continuum, which together with the offset can mimic a slowly varying background.
    gap = mat.gap_ev(grid)
    margin = 1.5 * prm.exciton_width_ev
    active = (gap <= float(e.max()) - margin) & (gap >= float(e.min()) + margin)
    if np.count_nonzero(active) < 8:
        raise SpectrumError(
            f"fit window {HC_EV_NM / e.max():.0f}-{HC_EV_NM / e.min():.0f} nm resolves fewer than 8 size classes"
        )
    d = grid[active]
    K = kernel_matrix(e, d, mat, solvent=solvent)
    scale = float(np.max(K))
    K = K / scale
    m = d.size
    # one offset column: a residual offset left by the baseline correction must not be explained by the continuum
    # of large particles. Every variable is non-negative, the offset too (a negative one plus the featureless
    # continuum of large particles mimics any slowly varying background); invert_psd shifts the data by its floor
    # first (3 noise below zero, or below a red end measured negative). A free slope as well was tried and rejected:
    # it is nearly degenerate with the featureless absorption of broad small-size distributions.
    K = np.hstack([K, 0.5 * np.ones((e.size, 1))])
    D2 = np.diff(np.eye(m), 2, axis=0)
    R = np.zeros((m + 1, m + 1))
    R[:m, :m] = D2.T @ D2
    R += _RIDGE * np.eye(m + 1)
    L = np.linalg.cholesky(R).T  # upper: R = L^T L
    Linv = np.linalg.inv(L)
    u, s, vt = np.linalg.svd(K @ Linv, full_matrices=False)
    lambdas = s[0] ** 2 * 10.0 ** _LOG_LAMBDA_GRID
    for a in (e, d, K, L, Linv, u, s, vt, lambdas, grid, active):
        a.setflags(write=False)
    gram = K.T @ K
    gram.setflags(write=False)
    R.setflags(write=False)
    wts = trapezoid_weights(grid)[active]
    wts.setflags(write=False)
    vt_reg = vt @ L
    vt_linv_t = vt @ Linv.T
    for a in (vt_reg, vt_linv_t):
        a.setflags(write=False)
    return RegularizedProblem(e, d, K, scale, L, gram, R, u, s, vt, lambdas, wts, grid, active, m,
                              vt_reg, vt_linv_t)


def regularized_problem(
    energy_ev: npt.ArrayLike, material: str | Material = "InP", *, solvent: str | float = "hexane"
) -> RegularizedProblem:
    """Build (or fetch from an LRU cache) the regularised problem for an energy grid."""
    e = np.ascontiguousarray(np.asarray(energy_ev, dtype=float).reshape(-1))
    return _problem_cached(e.tobytes(), _Ref(get_material(material)), solvent)


def _gcv_lambda(xp: Any, beta: Any, perp: Any, s: Any, lambdas: Any, n: int) -> Any:
    """GCV minimiser per row (grid + parabolic refinement in log λ), written once for numpy and jax.numpy."""
    f = lambdas[:, None] / (s[None, :] ** 2 + lambdas[:, None])  # (L, M)
    num = (beta * beta) @ (f * f).T + perp[:, None]
    den = (n - s.shape[0] + f.sum(axis=1)) ** 2
    g = xp.log(num / den[None, :])
    k = xp.clip(xp.argmin(g, axis=1), 1, lambdas.shape[0] - 2)[:, None]
    g0 = xp.take_along_axis(g, k - 1, axis=1)[:, 0]
    g1 = xp.take_along_axis(g, k, axis=1)[:, 0]
    g2 = xp.take_along_axis(g, k + 1, axis=1)[:, 0]
    curv = g0 - 2 * g1 + g2
    shift = xp.where(curv > 0, 0.5 * (g0 - g2) / xp.where(curv > 0, curv, 1.0), 0.0)
    shift = xp.clip(shift, -1.0, 1.0)
    step = float(_LOG_LAMBDA_GRID[1] - _LOG_LAMBDA_GRID[0])
    return 10.0 ** (xp.log10(lambdas[k[:, 0]]) + shift * step)


def select_lambda_gcv(problem: RegularizedProblem, absorbance: npt.ArrayLike) -> np.ndarray:
    r"""Regularisation parameter(s) by generalised cross-validation of the unconstrained problem.

    With :math:`K L^{-1} = U S V^\top`, :math:`\beta = U^\top a` and :math:`f_i = \lambda/(s_i^2 + \lambda)`:

    .. math:: G(\lambda) = \frac{\sum_i f_i^2 \beta_i^2 + \|a\|^2 - \|\beta\|^2}{(N - M + \sum_i f_i)^2}

    minimised over a log grid (46 points, 1e-9...1 × s_max²) with a parabolic refinement in log λ, then rounded
    to the 0.05-decade grid of the solvers. O(M · 46) per spectrum once β is known. Vectorised: ``absorbance``
    (scaled like the problem) may be (N,) or (B, N); returns a scalar array or (B,).
    """
    a = np.asarray(absorbance, dtype=float)
    a2 = np.atleast_2d(a)
    beta = a2 @ problem.u  # (B, M)
    perp = np.maximum(np.sum(a2 * a2, axis=1) - np.sum(beta * beta, axis=1), 0.0)
    out = _gcv_lambda(np, beta, perp, problem.s, problem.lambdas, problem.n_energy)
    out = _lambda_from_index(problem.s, _lambda_index(problem.s, out))
    return out if a.ndim > 1 else out[0]


def reduced_system(problem: RegularizedProblem, absorbance: npt.ArrayLike, lam: float) -> tuple[np.ndarray, np.ndarray]:
    r"""The M×M least-squares system with the same minimiser as the stacked ``[K; √λ L] x ≈ [a; 0]``.

    With :math:`K L^{-1} = U S V^\top` (cached per energy grid) the normal matrix is
    :math:`G_\lambda = K^\top K + \lambda L^\top L = C^\top C` with :math:`C = \mathrm{diag}(\sqrt{s^2+\lambda})\,
    V^\top L`, and :math:`K^\top a = C^\top d` with :math:`d = s\,U^\top a / \sqrt{s^2+\lambda}`. Hence
    :math:`\|Kx - a\|^2 + \lambda\|Lx\|^2 = \|Cx - d\|^2 + \text{const}` for every x: the same problem (and the same
    constrained minimiser) on an M×M matrix instead of (N+M)×M. Returns (C, d).
    """
    a = np.asarray(absorbance, dtype=float)
    w = np.sqrt(problem.s**2 + lam)
    return w[:, None] * problem.vt_reg, problem.s * (a @ problem.u) / w

def _lambda_index(s: Any, lam: Any, xp: Any = np) -> Any:
    """Index of λ on the fine grid ``s_max² · 10^(-9 + 0.05 j)``, j = 0..180 (the λ values the solvers use);
    ``s``: the singular values of the problem (numpy or jax.numpy through ``xp``)."""
    j = xp.round((xp.log10(lam / s[0] ** 2) - _LOG_LAMBDA_GRID[0]) / _LAMBDA_STEP_DEC)
    return xp.clip(j, 0, _N_LAMBDA_FINE - 1).astype(xp.int32)


def _lambda_from_index(s: Any, j: Any) -> Any:
    return s[0] ** 2 * 10.0 ** (_LOG_LAMBDA_GRID[0] + _LAMBDA_STEP_DEC * j)
