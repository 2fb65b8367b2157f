"""CdSe absorbance spectra written from published numbers only (independent of flowqd's PSD kernel).

Per dot of diameter d (nm):

- first-exciton position: Yu et al., Chem. Mater. 2003, 15, 2854 (eq 1, the d(λ) polynomial), inverted numerically;
- first-exciton molar extinction at the peak: ε_1S = 5857 d^2.65 M⁻¹cm⁻¹ (Yu 2003), a Gaussian band in energy with
  HWHM 0.06 eV (the width Jasieniak et al., J. Phys. Chem. C 2009, 113, 19468, normalise to);
- extinction at 350 nm: Leatherdale et al., J. Phys. Chem. B 2002, 106, 7619: C_abs = 5.501e5 a³ cm⁻¹ per dot
  (a = radius in cm), ε_350 = C_abs N_A / (1000 ln 10);
- continuum between: a square-root onset 0.15 eV above the 1S energy, E·sqrt(E − E_1S − 0.15), scaled to ε_350
  (a generic band-edge shape, deliberately not flowqd's erf-onset kernel).

The dispersion is a log-normal number distribution of diameters; absorbance A = Σ ε_i c_i L.
"""

from __future__ import annotations

import numpy as np

NA = 6.02214076e23
HC = 1239.841984
YU = (1.6122e-9, -2.6575e-6, 1.6242e-3, -0.4277, 41.57)
_LAM = np.linspace(380.0, 700.0, 32001)
_D = np.polyval(YU, _LAM)


def peak_nm(d: np.ndarray) -> np.ndarray:
    return np.interp(d, _D, _LAM)


def eps_350(d: np.ndarray) -> np.ndarray:
    a_cm = 0.5 * d * 1e-7
    return 5.501e5 * a_cm**3 * NA / (1000.0 * np.log(10.0))


def eps_dot(wl: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Molar extinction (M⁻¹cm⁻¹), shape (len(wl), len(d))."""
    e = HC / wl[:, None]
    e1 = HC / peak_nm(d)[None, :]
    sig = 0.06 / np.sqrt(2 * np.log(2))
    band = 5857.0 * d[None, :] ** 2.65 * np.exp(-0.5 * ((e - e1) / sig) ** 2)
    cont = lambda ee: ee * np.sqrt(np.clip(ee - e1 - 0.15, 0.0, None))  # noqa: E731
    c350 = cont(np.full_like(e, HC / 350.0))
    band350 = 5857.0 * d[None, :] ** 2.65 * np.exp(-0.5 * ((HC / 350.0 - e1) / sig) ** 2)
    return band + (eps_350(d)[None, :] - band350) * cont(e) / c350


def spectrum(d_mean: float, rsd: float, conc_umol_l: float, wl: np.ndarray, *, path_cm: float = 1.0,
             noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, float, float]:
    """Absorbance on ``wl``; returns (A, true volume-weighted mean x13, true mass concentration mg/mL)."""
    d = np.linspace(max(1.7, d_mean * (1 - 5 * rsd)), d_mean * (1 + 5 * rsd), 201)
    s = np.sqrt(np.log(1 + rsd**2))
    q0 = np.exp(-0.5 * ((np.log(d) - np.log(d_mean) + 0.5 * s * s) / s) ** 2) / d  # mean number diameter = d_mean
    w = q0 / q0.sum()  # number fractions
    c = conc_umol_l * 1e-6 * w  # mol/L per class
    a = eps_dot(wl, d) @ c * path_cm
    v = w * d**3
    x13 = float(np.sum(v * d) / np.sum(v))
    mass_mg_ml = float(np.sum(c * np.pi / 6 * (d * 1e-7) ** 3) * NA * 5.81 / 1000.0 * 1000.0)  # g/L -> mg/mL
    rng = np.random.default_rng(seed)
    return a + rng.normal(0.0, noise, wl.size), x13, mass_mg_ml
