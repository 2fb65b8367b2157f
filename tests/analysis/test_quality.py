"""Quality gates of :mod:`flowqd.analysis.quality` (those not covered through the analysis functions)."""

from __future__ import annotations

import numpy as np
import pytest

from flowqd.analysis.quality import check_emission_band
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import SpectrumError


def _pl(step_nm: float, peak_counts: float, seed: int) -> Spectrum:
    wl = np.arange(400.0, 800.0 + step_nm / 2, step_nm)
    rng = np.random.default_rng(seed)
    y = 5.0 + peak_counts * np.exp(-0.5 * ((wl - 600.0) / 20.0) ** 2) + rng.normal(0.0, 1.0, wl.size)
    return Spectrum(wl, y, kind="intensity")


def test_blank_on_its_own_wavelength_grid_is_accepted() -> None:
    # sample at 1 nm steps, blank at 2 nm steps (two instruments or two exports): an emitting sample passes
    check_emission_band(_pl(1.0, 500.0, 1), _pl(2.0, 0.0, 2), (450.0, 750.0))


def test_blank_on_its_own_grid_still_refuses_a_sample_that_does_not_emit() -> None:
    with pytest.raises(SpectrumError, match="no emission band detected"):
        check_emission_band(_pl(1.0, 0.0, 3), _pl(2.0, 0.0, 4), (450.0, 750.0))


def test_excitation_file_given_to_absorbance_is_named_by_its_file_name(tmp_path) -> None:
    """A PL excitation series (counts rising to the blue, like the Imperial runs' "FL excitation" files) read as
    absorbance: without the name it would pass for %T or emission; the file name says what it is."""
    from flowqd.analysis import analyze_absorbance, read_spectra

    wl = np.arange(300.0, 500.0, 1.0)
    counts = 150.0 * np.exp(-(wl - 300.0) / 80.0) + 5.0
    f = tmp_path / "Run 4 FL excitation.csv"
    f.write_text("Wavelength (nm),30 s\n" + "".join(f"{w:g},{c:.3f}\n" for w, c in zip(wl, counts, strict=True)))
    (s,) = read_spectra(f)
    with pytest.raises(SpectrumError, match=r"PL excitation spectrum, as its file name says"):
        analyze_absorbance(s, material="CdSe")
    g = tmp_path / "sample.csv"
    g.write_text(f.read_text())
    (s,) = read_spectra(g)
    with pytest.raises(SpectrumError, match=r"emission/intensity spectrum \(counts\)"):
        analyze_absorbance(s, material="CdSe")
