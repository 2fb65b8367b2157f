"""Regenerate the SYNTHETIC example absorbance spectra in ``examples/spectra`` (reproducible, fixed seeds).

Every spectrum is made by flowqd's PSD forward model (:func:`flowqd.analysis.psd.forward_absorbance`) from a
log-normal volume distribution q3; the x13 of the first two is found by searching for the size whose first-exciton
maximum lands at the wavelength of the paper's temperature series (Wang & Segets 2023: 518 nm at 180 °C, 590 nm at
250 °C). They are NOT measurements.

Run:  python examples/make_example_spectra.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from flowqd.analysis.exciton import find_exciton
from flowqd.analysis.psd import diameter_grid_nm, forward_absorbance, psd_lognormal
from flowqd.analysis.spectrum import Spectrum

OUT = Path(__file__).parent / "spectra"
GRID = diameter_grid_nm("InP")
PHI = 2.0e-4  # volume fraction of InP in the cuvette
PATH_MM = 1.0  # the paper's path length


def x13_for_peak(peak_nm: float, rsd: float, wavelength_nm: np.ndarray) -> float:
    """x13 (nm) of a log-normal q3 whose forward-model first-exciton maximum is at ``peak_nm``."""

    def f(x: float) -> float:
        a = forward_absorbance(GRID, psd_lognormal(GRID, x, rsd), wavelength_nm=wavelength_nm)
        return find_exciton(Spectrum(wavelength_nm, a)).wavelength_nm - peak_nm

    return float(brentq(f, 2.0, 4.5, xtol=1e-5))


def write(name: str, wl: np.ndarray, a: np.ndarray, header: list[str]) -> None:
    lines = [f"# {h}" for h in header] + ["wavelength_nm,absorbance"]
    lines += [f"{w:.4f},{v:.6f}" for w, v in zip(wl, a, strict=True)]
    (OUT / name).write_text("\n".join(lines) + "\n")


def main() -> None:
    wl = np.linspace(400.0, 900.0, 2048)  # 2048-pixel CMOS, 400-900 nm (paper section 2.3)
    rng = np.random.default_rng(20230316)
    for name, peak, rsd, temp in (("inp-180C-518nm.csv", 518.0, 0.08, 180), ("inp-250C-590nm.csv", 590.0, 0.10, 250)):
        x13 = x13_for_peak(peak, rsd, wl)
        a = forward_absorbance(GRID, psd_lognormal(GRID, x13, rsd), wavelength_nm=wl, volume_fraction=PHI,
                               path_mm=PATH_MM)
        a = a + rng.normal(0.0, 0.002, wl.size)
        write(name, wl, a, [
            "SYNTHETIC example - not a measurement. flowqd PSD forward model (flowqd.analysis.psd).",
            f"InP QDs in hexane, like Wang & Segets 2023 at {temp} C: first exciton maximum at {peak:g} nm.",
            f"Generated from a log-normal q3 with x13 = {x13:.4f} nm, RSD = {100 * rsd:g} %, volume fraction "
            f"{PHI:g}, path {PATH_MM:g} mm; Gaussian noise sd 0.002; baseline already zero.",
            "Regenerate with: python examples/make_example_spectra.py",
        ])
    # A raw-looking 2048-pixel spectrum with noise and a sloped baseline (offset + scattering-like tilt).
    x13, rsd = 3.0, 0.12
    a = forward_absorbance(GRID, psd_lognormal(GRID, x13, rsd), wavelength_nm=wl, volume_fraction=PHI,
                           path_mm=PATH_MM)
    a = a + 0.02 + 1.0e-5 * (wl - 400.0) + rng.normal(0.0, 0.005 * float(np.max(a)), wl.size)
    write("inp-2048px-noisy-baseline.csv", wl, a, [
        "SYNTHETIC example - not a measurement. flowqd PSD forward model (flowqd.analysis.psd).",
        f"InP QDs in hexane, 2048 pixels 400-900 nm: log-normal q3 with x13 = {x13} nm, RSD = {100 * rsd:g} %, "
        f"volume fraction {PHI:g}, path {PATH_MM:g} mm.",
        "Plus a sloped baseline 0.02 + 1e-5 (wavelength - 400 nm) and Gaussian noise sd 0.5 % of the maximum.",
        "Analyse with the default baseline window (800-900 nm).",
        "Regenerate with: python examples/make_example_spectra.py",
    ])


if __name__ == "__main__":
    main()
