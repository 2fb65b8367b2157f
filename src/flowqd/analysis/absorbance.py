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
from flowqd.analysis.exciton import SATURATION_ABSORBANCE, noise_level_estimate
from flowqd.analysis.psd import PSDResult, correct_linear_baseline, invert_psd
from flowqd.analysis.psd_checks import psd_warnings
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import FlowqdError, SpectrumError
from flowqd.materials import Material, get_material
from flowqd.units import HC_EV_NM

__all__ = [
    "ABSORBANCE_JSON_KEYS", "DEFAULT_BASELINE_WINDOW_NM", "AbsorbanceResult", "analyze_absorbance", "auto_baseline",
    "mask_saturated", "red_edge_nm",
]

#: Absorption-free window of InP spectra on the paper's 400-900 nm spectrometer (dots up to ~4.5 nm); used only when
#: given explicitly (``--baseline-window 800,900``): the default is chosen from each spectrum (:func:`auto_baseline`).
DEFAULT_BASELINE_WINDOW_NM: tuple[float, float] = (800.0, 900.0)

#: Keys of :meth:`AbsorbanceResult.to_dict` (stable; the CLI adds ``file``).
ABSORBANCE_JSON_KEYS: tuple[str, ...] = (
    "label", "peak_wavelength_nm", "peak_method", "edge_wavelength_nm", "x13_nm", "sigma_nm", "rsd",
    "x13_uncertainty_nm", "rsd_uncertainty", "psd", "fit_residual_rms", "fit_residual_relative", "volume_fraction",
    "concentration_mg_ml", "concentration_mol_l", "yield", "production_mg_h", "material", "sizing_curve",
    "sizing_curve_citation", "baseline", "baseline_window_nm", "masked_ranges_nm",
)

#: A flat run of at least this many identical readings at the top of the spectrum is a detector ceiling.
_FLAT_RUN = 5


@dataclass(frozen=True)
class AbsorbanceResult:
    """Everything :func:`analyze_absorbance` derives from one spectrum.

    ``peak_wavelength_nm`` is NaN and ``peak_method`` ``"none"`` for a featureless (very broad) spectrum.
    Concentration fields are NaN when they cannot be computed (λ* outside the spectrum or masked; no feed or flow
    given). ``baseline`` is ``"measured"`` (a line fitted in an absorption-free window of the spectrum, given or
    found), ``"fitted"`` (no absorption-free region: a constant offset is a free parameter of the PSD fit) or
    ``"none"`` (input declared corrected).
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
    material: str = "InP"
    sizing_curve: str = ""
    sizing_curve_citation: str = ""
    baseline: str = "measured"
    baseline_window_nm: tuple[float, float] | None = None
    masked_ranges_nm: tuple[tuple[float, float], ...] = ()
    label: str = ""
    edge_wavelength_nm: float = float("nan")

    @property
    def x13_nm(self) -> float:
        return self.psd.x13_nm

    @property
    def rsd(self) -> float:
        return self.psd.rsd

    @property
    def fit_residual_relative(self) -> float:
        """Fit residual RMS relative to the absorbance at the exciton (NaN without an exciton)."""
        if not np.isfinite(self.peak_wavelength_nm):
            return float("nan")
        wl = self.corrected.wavelength_nm
        a_pk = float(np.interp(self.peak_wavelength_nm, wl, self.corrected.values))
        return self.psd.fit_residual_rms / abs(a_pk) if a_pk else float("nan")

    @property
    def psd_warnings(self) -> list[str]:
        """PSD artefacts (mass at the edges of the solved size range, isolated spikes:
        :func:`flowqd.analysis.psd_checks.psd_warnings`), and a PSD fitted without an exciton."""
        out = psd_warnings(self.psd.diameter_nm, self.psd.q3, self.psd.solved_range_nm)
        if not np.isfinite(self.peak_wavelength_nm):
            out.insert(0, "no exciton found: the size distribution was fitted to a featureless spectrum, so x13 and "
                          "RSD rest on the shape of the absorption edge alone")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary with the keys of :data:`ABSORBANCE_JSON_KEYS` (NaN -> None)."""

        def f(v: float) -> float | None:
            return None if not np.isfinite(v) else float(v)

        p = self.psd
        return {
            "label": self.label,
            "peak_wavelength_nm": f(self.peak_wavelength_nm),
            "peak_method": self.peak_method,
            "edge_wavelength_nm": f(self.edge_wavelength_nm),
            "x13_nm": p.x13_nm,
            "sigma_nm": p.sigma_nm,
            "rsd": p.rsd,
            "x13_uncertainty_nm": f(p.x13_uncertainty_nm),
            "rsd_uncertainty": f(p.rsd_uncertainty),
            "psd": {"diameter_nm": p.diameter_nm.tolist(), "q3": p.q3.tolist(), "warnings": self.psd_warnings},
            "fit_residual_rms": p.fit_residual_rms,
            "fit_residual_relative": f(self.fit_residual_relative),
            "volume_fraction": f(self.volume_fraction),
            "concentration_mg_ml": f(self.concentration_mg_ml),
            "concentration_mol_l": f(self.concentration_mol_l),
            "yield": f(self.yield_fraction),
            "production_mg_h": f(self.production_mg_h),
            "material": self.material,
            "sizing_curve": self.sizing_curve,
            "sizing_curve_citation": self.sizing_curve_citation,
            "baseline": self.baseline,
            "baseline_window_nm": list(self.baseline_window_nm) if self.baseline_window_nm else None,
            "masked_ranges_nm": [list(r) for r in self.masked_ranges_nm],
        }

    def summary(self) -> str:
        """A few readable lines: peak, size, distribution, concentration, how the baseline and size were got."""
        d = self.to_dict()
        ux = d["x13_uncertainty_nm"]
        lines = [
            f"{self.label or self.source or 'spectrum'} ({self.material}, sizing curve {self.sizing_curve})",
            f"  first exciton  {self.peak_wavelength_nm:.1f} nm ({self.peak_method})",
            f"  x13            {self.x13_nm:.3f}" + (f" ± {ux:.3f}" if ux is not None else "") + " nm",
            f"  sigma, RSD     {self.psd.sigma_nm:.3f} nm, {100 * self.rsd:.1f} %",
            f"  fit residual   {self.psd.fit_residual_rms:.2g} (RMS; {100 * self.fit_residual_relative:.1f} % of "
            "A at the exciton)",
            f"  concentration  {self.concentration_mg_ml:.4g} mg/mL (λ* = {self.wavelength_star_nm:g} nm)",
            f"  baseline       {self.baseline}"
            + (" in {:.0f}-{:.0f} nm".format(*self.baseline_window_nm) if self.baseline_window_nm else ""),
        ]
        if self.masked_ranges_nm:
            lines.append("  masked         " + ", ".join(f"{a:.0f}-{b:.0f} nm" for a, b in self.masked_ranges_nm))
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Any:
        """Spectrum, fit and residual on ``ax`` (a new figure when None); returns the axes."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots()
        wl = self.corrected.wavelength_nm
        ax.plot(wl, self.corrected.values, lw=1, color="0.4", label="data (baseline-corrected)")
        ax.plot(self.psd.wavelength_nm, self.psd.fitted, lw=1.5, color="C1", label=f"fit ({self.sizing_curve})")
        ax.plot(self.psd.wavelength_nm, self.psd.residual, lw=0.8, color="C3", label="residual")
        if np.isfinite(self.peak_wavelength_nm):
            ax.axvline(self.peak_wavelength_nm, ls=":", color="C0", label=f"exciton {self.peak_wavelength_nm:.0f} nm")
        for a, b in self.masked_ranges_nm:
            ax.axvspan(a, b, color="0.9", label="masked")
        ax.set_xlabel("wavelength (nm)")
        ax.set_ylabel("absorbance")
        ax.set_title(f"{self.label or self.source}: x13 = {self.x13_nm:.2f} nm, RSD {100 * self.rsd:.1f} %")
        ax.legend(fontsize="small")
        return ax


def red_edge_nm(spectrum: Spectrum, peak_nm: float, *, smooth_nm: float = 9.0, reach_nm: float = 80.0) -> float:
    """Wavelength of the steepest fall of absorbance on the red side of the first exciton (the inflection of its red
    edge), nm; NaN without an exciton. Many labs read "the peak" there; it lies red of the maximum by about the
    band's half width, so the two are reported apart.

    >>> wl = np.arange(450.0, 650.0, 1.0)
    >>> round(red_edge_nm(Spectrum(wl, np.exp(-0.5 * ((wl - 520.0) / 12.0) ** 2)), 520.0))
    532
    """
    if not np.isfinite(peak_nm):
        return float("nan")
    from scipy.signal import savgol_filter

    wl, y = spectrum.wavelength_nm, spectrum.values
    step = float(np.median(np.diff(wl)))
    n = max(5, round(smooth_nm / step) | 1)
    if wl.size <= n:
        return float("nan")
    d1 = np.asarray(savgol_filter(y, n, 2, deriv=1, delta=step), dtype=float)
    sel = np.flatnonzero((wl > peak_nm) & (wl <= peak_nm + reach_nm))
    if sel.size < 3:
        return float("nan")
    i = int(sel[np.argmin(d1[sel])])
    return float(wl[i]) if i not in (sel[0], sel[-1]) else float("nan")


def mask_saturated(spectrum: Spectrum, saturation: float = SATURATION_ABSORBANCE
                   ) -> tuple[Spectrum, tuple[tuple[float, float], ...]]:
    """Remove saturated readings: absorbance above ``saturation`` and flat-topped runs at the detector ceiling.

    Returns the spectrum without those points and the masked wavelength ranges (nm). Pure.

    >>> wl = np.arange(300.0, 420.0, 5.0)
    >>> a = np.where(wl < 330, 7.0, 2.0 * np.exp(-(wl - 330) / 40))
    >>> s, masked = mask_saturated(Spectrum(wl, a))
    >>> masked, s.n_points
    (((300.0, 325.0),), 18)
    """
    y = spectrum.values
    bad = y > saturation
    top = float(np.max(y))
    at_top = np.isclose(y, top, rtol=0, atol=1e-9 + 1e-6 * abs(top))
    run = np.flatnonzero(at_top)
    if run.size >= _FLAT_RUN:  # a plateau of identical maxima: the instrument's ceiling
        for grp in np.split(run, np.flatnonzero(np.diff(run) > 1) + 1):
            if grp.size >= _FLAT_RUN:
                bad[grp] = True
    if not np.any(bad):
        return spectrum, ()
    wl = spectrum.wavelength_nm
    idx = np.flatnonzero(bad)
    ranges = tuple((float(wl[g[0]]), float(wl[g[-1]])) for g in np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1))
    keep = ~bad
    if np.count_nonzero(keep) < 8:
        raise SpectrumError(f"absorbance saturated almost everywhere ({np.count_nonzero(bad)} of {y.size} points "
                            f"above {saturation:g} or at the detector ceiling); dilute the sample",
                            source=spectrum.source or None)
    md = {**spectrum.metadata, "masked_ranges_nm": ranges}
    return Spectrum(wl[keep], y[keep], kind=spectrum.kind, source=spectrum.source, metadata=md), ranges


def auto_baseline(spectrum: Spectrum, material: Material, *, search_nm: tuple[float, float]
                  ) -> tuple[Spectrum, str, tuple[float, float] | None]:
    """Choose the absorption-free reference region from the spectrum itself and subtract its baseline.

    The region is the red end of the spectrum past the absorption onset, taken as ``onset_margin_ev`` (material
    ``[psd_kernel]``) below the first exciton. With at least 100 nm there a straight line is fitted and
    subtracted, with at least 20 nm a constant; otherwise the spectrum has no absorption-free region and is
    returned as it is (``"fitted"``: the PSD fit's offset absorbs a constant baseline).

    Returns ``(spectrum, "measured" | "fitted", window_nm or None)``.
    """
    from flowqd.analysis.exciton import NoExcitonError, find_exciton
    from flowqd.analysis.preprocess import correct_baseline
    from flowqd.analysis.psd import PSDKernel

    prm = PSDKernel.from_material(material)
    wl = spectrum.wavelength_nm
    try:
        exc = find_exciton(spectrum, search_nm=search_nm)
        onset_nm = HC_EV_NM / (exc.energy_ev - prm.onset_margin_ev)
    except NoExcitonError as err:
        if not err.absorbing:
            raise
        return spectrum, "fitted", None
    width = float(wl[-1] - onset_nm)
    window = (float(onset_nm), float(wl[-1]))
    n_in = int(np.count_nonzero(wl >= onset_nm))
    if width >= 100.0 and n_in >= 10:
        corrected, fit = correct_baseline(spectrum, window_nm=window, method="linear")
    elif width >= 20.0 and n_in >= 5:
        corrected, fit = correct_baseline(spectrum, window_nm=window, method="constant")
    else:
        return spectrum, "fitted", None
    # the region must really be free of absorption: a baseline that does not follow it (the red tail of a broad
    # band reaching into it) is not measured; leave it to the fit's offset instead
    a_exc = abs(exc.absorbance - float(fit.evaluate(np.array([exc.wavelength_nm]))[0]))
    if fit.rms_residual > max(0.02 * a_exc, 3.0 * noise_level_estimate(spectrum.values[wl >= onset_nm])):
        return spectrum, "fitted", None
    return corrected, "measured", window


def analyze_absorbance(
    spectrum: Spectrum,
    *,
    material: str | Material = "InP",
    solvent: str | float = "hexane",
    path_mm: float = 1.0,
    dilution: float = 1.0,
    wavelength_star_nm: float | None = None,
    in_feed_mol_l: float | None = None,
    outlet_flow_ml_min: float | None = None,
    baseline_window_nm: tuple[float, float] | str | None = "auto",
    psd_method: str = "pdas",
    search_nm: tuple[float, float] | None = None,
    sizing_curve: str | None = None,
    check_quality: bool = True,
) -> AbsorbanceResult:
    """Analyse one absorbance spectrum of QDs.

    Steps: quality gates (:func:`flowqd.analysis.quality.check_absorbance`: the values must look like an
    absorbance spectrum); saturated and flat-topped readings masked (:func:`mask_saturated`); baseline
    (``"auto"``: :func:`auto_baseline`; a ``(min, max)`` window: a straight line fitted there; ``None``: the input
    is already corrected); first exciton (:func:`~flowqd.analysis.exciton.find_exciton`); PSD
    (:func:`~flowqd.analysis.psd.invert_psd`); volume fraction and mass concentration from A(λ*); yield when
    ``in_feed_mol_l`` is given; production rate when ``outlet_flow_ml_min`` is given.

    ``wavelength_star_nm`` and ``search_nm`` default to the material's ``[analysis]`` table (InP: 413.3 nm and
    420-750 nm; CdSe: 350 nm and 400-680 nm); ``sizing_curve`` picks one of the material's curves (default: its
    first); the result names the curve.

    Raises
    ------
    SpectrumError
        One line naming ``spectrum.source`` and the problem (not absorbance, saturated, no exciton, too few points).
    """
    src = spectrum.source or "<spectrum>"
    try:
        mat = get_material(material).with_sizing_curve(sizing_curve)
        lam_star = float(wavelength_star_nm if wavelength_star_nm is not None
                         else mat.default("wavelength_star_nm", DEFAULT_WAVELENGTH_STAR_NM))
        search = tuple(search_nm if search_nm is not None
                       else mat.default("exciton_search_nm", (420.0, 750.0)))  # type: ignore[arg-type]
        if check_quality:
            from flowqd.analysis.quality import check_absorbance

            check_absorbance(spectrum)
        work, masked = mask_saturated(spectrum)
        for a, b in masked:
            if b >= search[0] and a <= search[1]:
                raise SpectrumError(
                    f"absorbance saturated (above {SATURATION_ABSORBANCE:g} or at the detector ceiling) at "
                    f"{a:.0f}-{b:.0f} nm, inside the exciton search window {search[0]:g}-{search[1]:g} nm; "
                    "dilute the sample")
        window: tuple[float, float] | None = None
        if isinstance(baseline_window_nm, str):
            if baseline_window_nm != "auto":
                raise SpectrumError(f"baseline_window_nm must be 'auto', None or (min, max), got "
                                    f"{baseline_window_nm!r}")
            corrected, baseline, window = auto_baseline(work, mat, search_nm=search)  # type: ignore[arg-type]
        elif baseline_window_nm is None:
            corrected, baseline = work, "none"
        else:
            window = (float(baseline_window_nm[0]), float(baseline_window_nm[1]))
            corrected, baseline = correct_linear_baseline(work, window), "measured"
        # the exciton search is the PSD inversion's first step: its result comes back with the PSD
        psd = invert_psd(corrected, mat, method=psd_method, solvent=solvent, search_nm=search,  # type: ignore[arg-type]
                         require_onset=baseline != "fitted")
        peak_nm, peak_method = psd.exciton_wavelength_nm, psd.exciton_method
        wl = corrected.wavelength_nm
        star_masked = any(a <= lam_star <= b for a, b in masked)
        if wl[0] <= lam_star <= wl[-1] and not star_masked:
            a_star = float(np.interp(lam_star, wl, corrected.values))
            if baseline == "fitted":
                a_star -= psd.offset
            phi = float(volume_fraction(a_star, lam_star, mat, solvent, path_mm, dilution))
            c_mg = float(mass_concentration_mg_ml(phi, mat))
            c_mol = float(molar_concentration_mol_l(phi, mat))
        else:
            if in_feed_mol_l is not None or outlet_flow_ml_min is not None:
                why = "masked (saturated)" if star_masked else f"outside the spectrum ({wl[0]:.0f}-{wl[-1]:.0f} nm)"
                raise SpectrumError(f"λ* = {lam_star:g} nm is {why}; cannot compute concentration")
            phi = c_mg = c_mol = float("nan")
        y = float(chemical_yield(c_mol, in_feed_mol_l)) if in_feed_mol_l is not None else float("nan")
        prod = (float(production_rate_mg_h(c_mg, outlet_flow_ml_min)) if outlet_flow_ml_min is not None
                else float("nan"))
    except FlowqdError as err:
        raise err.with_source(src) from err
    return AbsorbanceResult(
        source=spectrum.source, peak_wavelength_nm=float(peak_nm), peak_method=peak_method, psd=psd,
        corrected=corrected, wavelength_star_nm=lam_star, volume_fraction=phi,
        concentration_mg_ml=c_mg, concentration_mol_l=c_mol, yield_fraction=y, production_mg_h=prod,
        material=mat.name, sizing_curve=mat.sizing.name, sizing_curve_citation=mat.sizing.citation,
        baseline=baseline, baseline_window_nm=window, masked_ranges_nm=masked,
        label=str(spectrum.metadata.get("label", "")),
        edge_wavelength_nm=red_edge_nm(corrected, float(peak_nm)),
    )
