"""One pipeline for a QD absorbance spectrum: baseline, first exciton, PSD (Segets), concentration, yield.

:func:`analyze_absorbance` is what the platform and the ``flowqd analyze absorbance`` command call; its result
serialises with stable keys (:data:`ABSORBANCE_JSON_KEYS`).

References
----------
- D. Segets et al., ACS Nano 2009, 3, 1703; ACS Nano 2012, 6, 9021 (PSD from absorbance).
- Z. Hens and I. Moreels, J. Mater. Chem. 2012, 22, 10406 (concentration from μ_i).
- Z. Wang and D. Segets, React. Chem. Eng. 2023, 8, 316.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flowqd.analysis.concentration import (
    DEFAULT_WAVELENGTH_STAR_NM,
    chemical_yield,
    mass_concentration_mg_ml,
    molar_concentration_mol_l,
    production_rate_mg_h,
    volume_fraction,
)
from flowqd.analysis.psd import PSDResult, correct_linear_baseline, invert_psd
from flowqd.analysis.psd_checks import psd_warnings
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import FlowqdError, SpectrumError
from flowqd.materials import Material

__all__ = ["ABSORBANCE_JSON_KEYS", "DEFAULT_BASELINE_WINDOW_NM", "AbsorbanceResult", "analyze_absorbance"]

#: Absorption-free window of InP spectra on the paper's 400-900 nm spectrometer (dots up to ~4.5 nm).
DEFAULT_BASELINE_WINDOW_NM: tuple[float, float] = (800.0, 900.0)

#: Keys of :meth:`AbsorbanceResult.to_dict` (stable; the CLI adds ``file``).
ABSORBANCE_JSON_KEYS: tuple[str, ...] = (
    "peak_wavelength_nm", "peak_method", "x13_nm", "sigma_nm", "rsd", "x13_uncertainty_nm", "rsd_uncertainty",
    "psd", "fit_residual_rms", "volume_fraction", "concentration_mg_ml", "concentration_mol_l", "yield",
    "production_mg_h",
)


@dataclass(frozen=True)
class AbsorbanceResult:
    """Everything :func:`analyze_absorbance` derives from one spectrum.

    ``peak_wavelength_nm`` is NaN and ``peak_method`` ``"none"`` for a featureless (very broad) spectrum.
    Concentration fields are NaN when they cannot be computed (λ* outside the spectrum; no feed or flow given).
    """

    source: str
    peak_wavelength_nm: float
    peak_method: str
    psd: PSDResult
    corrected: Spectrum
    wavelength_star_nm: float
    volume_fraction: float
    concentration_mg_ml: float
    concentration_mol_l: float
    yield_fraction: float
    production_mg_h: float

    @property
    def x13_nm(self) -> float:
        return self.psd.x13_nm

    @property
    def rsd(self) -> float:
        return self.psd.rsd

    @property
    def psd_warnings(self) -> list[str]:
        """PSD artefacts (grid-edge mass, isolated spikes): :func:`flowqd.analysis.psd_checks.psd_warnings`."""
        return psd_warnings(self.psd.diameter_nm, self.psd.q3)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary with the keys of :data:`ABSORBANCE_JSON_KEYS` (NaN -> None)."""

        def f(v: float) -> float | None:
            return None if not np.isfinite(v) else float(v)

        p = self.psd
        return {
            "peak_wavelength_nm": f(self.peak_wavelength_nm),
            "peak_method": self.peak_method,
            "x13_nm": p.x13_nm,
            "sigma_nm": p.sigma_nm,
            "rsd": p.rsd,
            "x13_uncertainty_nm": f(p.x13_uncertainty_nm),
            "rsd_uncertainty": f(p.rsd_uncertainty),
            "psd": {"diameter_nm": p.diameter_nm.tolist(), "q3": p.q3.tolist(), "warnings": self.psd_warnings},
            "fit_residual_rms": p.fit_residual_rms,
            "volume_fraction": f(self.volume_fraction),
            "concentration_mg_ml": f(self.concentration_mg_ml),
            "concentration_mol_l": f(self.concentration_mol_l),
            "yield": f(self.yield_fraction),
            "production_mg_h": f(self.production_mg_h),
        }


def analyze_absorbance(
    spectrum: Spectrum,
    *,
    material: str | Material = "InP",
    solvent: str | float = "hexane",
    path_mm: float = 1.0,
    dilution: float = 1.0,
    wavelength_star_nm: float = DEFAULT_WAVELENGTH_STAR_NM,
    in_feed_mol_l: float | None = None,
    outlet_flow_ml_min: float | None = None,
    baseline_window_nm: tuple[float, float] | None = DEFAULT_BASELINE_WINDOW_NM,
    psd_method: str = "pdas",
    search_nm: tuple[float, float] = (420.0, 750.0),
) -> AbsorbanceResult:
    """Analyse one absorbance spectrum of QDs.

    Steps: straight-line baseline fitted in ``baseline_window_nm`` and subtracted (``None``: the input is already
    corrected); first exciton (:func:`~flowqd.analysis.exciton.find_exciton`); PSD
    (:func:`~flowqd.analysis.psd.invert_psd`); volume fraction and mass concentration from A(λ*) (always, with
    ``path_mm`` and ``dilution``); yield when ``in_feed_mol_l`` is given; production rate when
    ``outlet_flow_ml_min`` is given.

    Raises
    ------
    SpectrumError
        One line naming ``spectrum.source`` and the problem (saturated, no exciton, no onset, too few points).
    """
    src = spectrum.source or "<spectrum>"
    try:
        corrected = (spectrum if baseline_window_nm is None
                     else correct_linear_baseline(spectrum, baseline_window_nm))
        # the exciton search is the PSD inversion's first step: its result comes back with the PSD
        psd = invert_psd(corrected, material, method=psd_method, solvent=solvent, search_nm=search_nm)
        peak_nm, peak_method = psd.exciton_wavelength_nm, psd.exciton_method
        wl = corrected.wavelength_nm
        if wl[0] <= wavelength_star_nm <= wl[-1]:
            a_star = float(np.interp(wavelength_star_nm, wl, corrected.values))
            phi = float(volume_fraction(a_star, wavelength_star_nm, material, solvent, path_mm, dilution))
            c_mg = float(mass_concentration_mg_ml(phi, material))
            c_mol = float(molar_concentration_mol_l(phi, material))
        else:
            if in_feed_mol_l is not None or outlet_flow_ml_min is not None:
                raise SpectrumError(
                    f"λ* = {wavelength_star_nm:g} nm is outside the spectrum ({wl[0]:.0f}-{wl[-1]:.0f} nm); "
                    "cannot compute concentration"
                )
            phi = c_mg = c_mol = float("nan")
        y = float(chemical_yield(c_mol, in_feed_mol_l)) if in_feed_mol_l is not None else float("nan")
        prod = (float(production_rate_mg_h(c_mg, outlet_flow_ml_min)) if outlet_flow_ml_min is not None
                else float("nan"))
    except FlowqdError as err:
        raise err.with_source(src) from err
    return AbsorbanceResult(
        source=spectrum.source, peak_wavelength_nm=float(peak_nm), peak_method=peak_method, psd=psd,
        corrected=corrected, wavelength_star_nm=float(wavelength_star_nm), volume_fraction=phi,
        concentration_mg_ml=c_mg, concentration_mol_l=c_mol, yield_fraction=y, production_mg_h=prod,
    )
