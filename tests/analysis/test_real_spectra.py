"""Real spectra (MIT-licensed CdSe hot-injection series, data/real-cdse/LICENSE) and vendor exports.

The vendor files in ``data/vendor`` were written by flowqd from each vendor's published format description (no
vendor sample at hand; each file says so in its header). Every case of issue 8's list has a test here: multi-column
CSV, descending axis, header/trailer blocks, paired columns, quoted cells, saturated ceiling, short ranges, and a
file of the wrong kind given to the wrong command.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from flowqd.analysis.absorbance import AbsorbanceResult, analyze_absorbance
from flowqd.analysis.io import MAX_FILE_BYTES, read_spectra, read_spectrum
from flowqd.analysis.psd import diameter_grid_nm, forward_absorbance, psd_lognormal
from flowqd.analysis.spectrum import Spectrum
from flowqd.cli import app
from flowqd.errors import SpectrumError

DATA = Path(__file__).parent / "data"
REAL = DATA / "real-cdse"
VENDOR = DATA / "vendor"


@pytest.fixture(scope="module")
def cdse_results() -> dict[int, list[tuple[Spectrum, AbsorbanceResult]]]:
    """Every spectrum of runs 1-9 (156) analysed with defaults and ``material="CdSe"`` only: run -> (spectrum,
    result) per column, computed once for the tests that read them."""
    return {run: [(s, analyze_absorbance(s, material="CdSe")) for s in read_spectra(REAL / f"run{run}-uv-vis.csv")]
            for run in range(1, 10)}


class TestRealCdSe:
    def test_one_spectrum_per_column_descending_axis(self) -> None:
        spectra = read_spectra(REAL / "run1-uv-vis.csv")
        assert len(spectra) == 14
        assert spectra[0].metadata["label"] == "20 s" and spectra[-1].metadata["label"] == "300 s"
        assert all(s.metadata["reversed_axis"] for s in spectra)
        assert spectra[0].wavelength_nm[0] == pytest.approx(350.0107117)
        assert spectra[3].source.endswith("run1-uv-vis.csv [80 s]")

    def test_trailer_of_notes_is_not_data(self) -> None:
        spectra = read_spectra(REAL / "run5-uv-vis.csv")
        assert len(spectra) == 18 and spectra[0].n_points == 301
        assert any("Old:" in line for line in spectra[0].metadata["trailer"])

    def test_column_pick(self) -> None:
        (s,) = read_spectra(REAL / "run1-uv-vis.csv", column="220 s")
        assert s.metadata["label"] == "220 s"
        with pytest.raises(SpectrumError, match=r"no spectrum column named '999 s'"):
            read_spectra(REAL / "run1-uv-vis.csv", column="999 s")

    def test_cli_one_result_per_column_with_only_the_material(self) -> None:
        r = CliRunner().invoke(app, ["analyze", "absorbance", "--material", "CdSe", "--json", "--skip-bad",
                                     str(REAL / "run5-uv-vis.csv")])
        rows = json.loads(r.stdout)
        assert r.exit_code in (0, 1), r.output
        assert len(rows) >= 16  # at most the two earliest, near-featureless aliquots are refused
        assert [row["label"] for row in rows][-1] == "600 s"
        assert {row["sizing_curve"] for row in rows} == {"yu-2003"}
        assert {row["baseline"] for row in rows} <= {"measured", "fitted"}
        # the reported exciton is the spectrum's own maximum (or shoulder): it moves red as the dots grow
        peaks = [row["peak_wavelength_nm"] for row in rows]
        assert peaks[-1] > peaks[0] + 20

    def test_every_run_with_only_the_material(self, cdse_results) -> None:
        """All nine runs (156 spectra), defaults and ``material="CdSe"`` only: every spectrum with an exciton is fitted
        to a residual of at most 5 % of its absorbance at the exciton (measured: 153 of 153; the three aliquots
        without one are run 4 at 30 s and run 8 at 570/600 s, where the dots have dissolved). The size
        distributions are no longer the 40-60 % RSD and 8 nm pile-up the bulk-like kernel gave (most still carry
        some weight at the smallest solved size, and say so; docs/design.md §5a): RSD median 10 % (at most 15 %),
        x1,3 within 0.3 nm of Yu's curve applied to the peak for every spectrum whose 1S band is a maximum
        (measured: 82 spectra, x1,3 above it by 0.08-0.22 nm: the volume weighting and the blue shift of an
        ensemble's maximum)."""
        from flowqd.materials import get_material

        yu = get_material("CdSe")
        n = n_exciton = fitted = 0
        rsd, dx = [], []
        for run in range(1, 10):
            for _, r in cdse_results[run]:
                n += 1
                rsd.append(r.psd.rsd)
                if np.isfinite(r.peak_wavelength_nm):
                    n_exciton += 1
                    fitted += r.fit_residual_relative <= 0.05
                if r.peak_method == "maximum":
                    dx.append(r.x13_nm - float(yu.diameter_from_wavelength_nm(r.peak_wavelength_nm)))
        assert (n, n_exciton) == (156, 153)
        assert fitted == n_exciton, f"{fitted}/{n_exciton}"
        assert np.median(rsd) <= 0.15, np.median(rsd)
        assert max(np.abs(dx)) <= 0.3 and len(dx) >= 80, (max(np.abs(dx)), len(dx))

    def test_experimenters_readings_follow_three_conventions(self, cdse_results) -> None:
        """The readings ("UV-Vis Peak Values.csv") are not one quantity. Against flowqd's exciton peak (the maximum)
        and the steepest point of the red edge (``edge_wavelength_nm``):

        - run 2: the readings are the maxima (measured: 14 of 16 within 3 nm of flowqd's peak);
        - runs 1, 4, 5, 7, 8 (the Se-rich 1:3 and 1:5 runs, and run 1): the red edge (78 of 86 within 3 nm), 13-21 nm
          red of the maximum;
        - runs 3, 6, 9: neither, 7-9 nm red of the maximum (median).

        So no single reading of the spectra can be within 3 nm of 80 % of them."""
        import csv

        rows = list(csv.reader((REAL / "UV-Vis Peak Values.csv").open(encoding="utf-8-sig")))
        by_run: dict[int, tuple[list[float], list[float]]] = {}
        for run in range(1, 10):
            col = rows[0].index(f"Run {run}")
            tcol = 0 if run == 1 else 2
            readings = {float(r[tcol]): float(r[col]) for r in rows[1:] if r[tcol].strip() and r[col].strip()}
            d_peak, d_edge = [], []
            for s, r in cdse_results[run]:
                t = float(s.metadata["label"].split()[0])
                if t in readings:
                    d_peak.append(r.peak_wavelength_nm - readings[t])
                    d_edge.append(r.edge_wavelength_nm - readings[t])
            by_run[run] = (d_peak, d_edge)

        def within(runs: tuple[int, ...], which: int) -> tuple[int, int]:
            d = np.concatenate([np.asarray(by_run[k][which]) for k in runs])
            return int(np.sum(np.abs(d) <= 3.0)), d.size

        hits, total = within((2,), 0)
        assert hits / total >= 0.8, (hits, total)
        hits, total = within((1, 4, 5, 7, 8), 1)
        assert hits / total >= 0.85, (hits, total)
        for run in (3, 6, 9):
            assert -10.0 <= np.nanmedian(by_run[run][0]) <= -6.0, (run, np.nanmedian(by_run[run][0]))
        hits, total = within(tuple(range(1, 10)), 0)
        assert hits / total < 0.25  # the 80 % cannot hold for the maxima (nor for any one convention)

    def test_pl_file_given_to_absorbance_names_the_kind(self) -> None:
        (s, *_) = read_spectra(REAL / "run2-fl-emission.csv")
        with pytest.raises(SpectrumError, match=r"emission/intensity spectrum"):
            analyze_absorbance(s, material="CdSe")


class TestVendorFormats:
    def test_jasco_header_trailer_and_ceiling(self) -> None:
        s = read_spectrum(VENDOR / "jasco-v770.csv")
        assert s.metadata["XUNITS"] == "NANOMETERS" and s.metadata["reversed_axis"]
        assert any("Filter exchange" in t for t in s.metadata["trailer"])
        r = analyze_absorbance(s)
        assert r.masked_ranges_nm and r.masked_ranges_nm[0][1] < 330.0  # the 7.0 ceiling below 330 nm
        assert r.peak_wavelength_nm == pytest.approx(516.0, abs=4.0)

    def test_cary_paired_columns(self) -> None:
        a, b = read_spectra(VENDOR / "cary-paired.csv")
        assert (a.metadata["label"], b.metadata["label"]) == ("InP-A", "InP-B")
        np.testing.assert_allclose(b.values, 0.5 * a.values, atol=1e-4)
        assert any("Collection Time" in t for t in a.metadata["trailer"])

    @pytest.mark.parametrize("name", ["shimadzu-uvprobe.txt", "perkinelmer-uvwinlab.asc", "thermo-visionlite.csv"])
    def test_single_spectrum_exports(self, name: str) -> None:
        s = read_spectrum(VENDOR / name)
        assert s.n_points == 251 and s.wavelength_nm[0] == 300.0 and s.wavelength_nm[-1] == 800.0
        assert analyze_absorbance(s).peak_wavelength_nm == pytest.approx(516.0, abs=4.0)

    def test_percent_transmittance_named(self) -> None:
        with pytest.raises(SpectrumError, match=r"labelled '%T'.*transmittance"):
            read_spectrum(VENDOR / "percent-t.csv")
        s = read_spectrum(VENDOR / "percent-t-unlabelled.csv")
        with pytest.raises(SpectrumError, match=r"percent transmittance"):
            analyze_absorbance(s)

    def test_too_large_a_file_is_refused_at_once(self, tmp_path: Path) -> None:
        big = tmp_path / "big.csv"
        with big.open("wb") as fh:  # sparse: 50 MB on paper, nothing written
            fh.truncate(50 * 1024 * 1024)
        assert os.path.getsize(big) > MAX_FILE_BYTES
        with pytest.raises(SpectrumError, match=r"big\.csv: file is 52\.4 MB, over the 16 MB limit"):
            read_spectra(big)


class TestShortRanges:
    @pytest.mark.parametrize(("peak_nm", "x13_nm"), [(518.0, 2.7), (590.0, 3.4)])
    def test_paper_pairs_from_350_800_nm_with_defaults(self, peak_nm: float, x13_nm: float) -> None:
        from scipy.optimize import brentq

        from flowqd.analysis.exciton import find_exciton

        grid = diameter_grid_nm()
        wl = np.arange(350.0, 800.5, 0.5)

        def spec(x: float) -> np.ndarray:
            return forward_absorbance(grid, psd_lognormal(grid, x, 0.08), wavelength_nm=wl)

        x_gen = brentq(lambda x: find_exciton(Spectrum(wl, spec(x))).wavelength_nm - peak_nm, 2.0, 4.5, xtol=1e-4)
        rng = np.random.default_rng(3)
        a = spec(x_gen) * 0.6 + 0.01 + rng.normal(0, 0.002, wl.size)
        r = analyze_absorbance(Spectrum(wl, a, source="short.csv"))
        assert r.peak_wavelength_nm == pytest.approx(peak_nm, abs=4.0)  # a broad, weak 1S under 0.3 % noise
        assert r.x13_nm == pytest.approx(x13_nm, abs=0.1)
        assert r.sizing_curve == "wang-segets-2023" and r.baseline == "measured"

    def test_no_absorption_free_region_fits_the_baseline(self) -> None:
        grid = diameter_grid_nm("CdSe")
        wl = np.arange(350.0, 600.5, 1.0)
        a = forward_absorbance(grid, psd_lognormal(grid, 3.0, 0.06), wavelength_nm=wl, material="CdSe") + 0.02
        r = analyze_absorbance(Spectrum(wl, a, source="350-600.csv"), material="CdSe")
        assert r.baseline == "fitted" and r.baseline_window_nm is None
        assert r.x13_nm == pytest.approx(3.0, abs=0.1)
        assert r.psd.offset == pytest.approx(0.02 / float(np.max(a)) * float(np.max(a)), abs=0.01)

    def test_cdse_past_the_nk_table(self) -> None:
        grid = diameter_grid_nm("CdSe")
        wl = np.arange(400.0, 900.5, 1.0)  # the CdSe n, k table ends at 827 nm
        a = forward_absorbance(grid, psd_lognormal(grid, 4.0, 0.06), wavelength_nm=wl, material="CdSe")
        r = analyze_absorbance(Spectrum(wl, a, source="long.csv"), material="CdSe")
        assert r.x13_nm == pytest.approx(4.0, abs=0.1)

    def test_saturated_at_the_exciton_is_refused(self) -> None:
        grid = diameter_grid_nm()
        wl = np.arange(350.0, 800.5, 1.0)
        a = 10 * forward_absorbance(grid, psd_lognormal(grid, 3.0, 0.08), wavelength_nm=wl)
        with pytest.raises(SpectrumError, match=r"sat\.csv: absorbance saturated .* inside the exciton search window"):
            analyze_absorbance(Spectrum(wl, np.minimum(a, 4.0), source="sat.csv"))
