"""Spectrum readers and writers: every format, every bad input -> SpectrumError naming the file."""

from __future__ import annotations

from pathlib import Path

import jcamp
import numpy as np
import pytest

from flowqd.analysis.io import READERS, read_spectra, read_spectrum, write_jcamp, write_spectrum_csv
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import SpectrumError

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).parents[2] / "examples" / "spectra"


def _absorb(wl: np.ndarray) -> np.ndarray:
    return 0.05 + 0.6 * np.exp(-(wl - 400) / 120) + 0.25 * np.exp(-0.5 * ((wl - 560) / 18) ** 2)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _csv(rows: list[tuple[str, str]], header: str = "wavelength_nm,A") -> str:
    return header + "\n" + "".join(f"{a},{b}\n" for a, b in rows)


GOOD = [(f"{400 + 10 * i}", f"{0.5 - 0.01 * i:.3f}") for i in range(12)]


class TestReaders:
    def test_registry(self) -> None:
        assert set(READERS) == {"csv", "jcamp", "oceanview", "avantes"}

    def test_tsv(self) -> None:
        s = read_spectrum(DATA / "abs-toluene.tsv")
        assert s.n_points == 31 and s.kind == "absorbance"
        assert s.metadata["format"] == "csv"
        assert s.metadata["columns"] == ("Wavelength (nm)", "Abs")
        np.testing.assert_allclose(s.values, _absorb(s.wavelength_nm), atol=1e-5)

    def test_jcamp_nm(self) -> None:
        s = read_spectrum(DATA / "uvvis-abs.jdx")
        assert s.metadata["format"] == "jcamp" and s.n_points == 31
        np.testing.assert_allclose(s.values, _absorb(s.wavelength_nm), atol=1e-5)

    def test_jcamp_wavenumber_converted_and_reordered(self) -> None:
        s = read_spectrum(DATA / "abs-wavenumber.jdx")
        assert s.wavelength_nm[0] == pytest.approx(400.0) and s.wavelength_nm[-1] == pytest.approx(1e7 / 14500)
        assert np.all(np.diff(s.wavelength_nm) > 0)
        np.testing.assert_allclose(s.values, _absorb(s.wavelength_nm), atol=1e-5)

    def test_jcamp_transmittance_to_absorbance(self, tmp_path: Path) -> None:
        wl = np.arange(400.0, 500.0, 10.0)
        body = "".join(f"{a:g}, {10 ** -0.3:.6f}\n" for a in wl)
        p = _write(tmp_path, "t.jdx", "##TITLE=t\n##JCAMP-DX=5.01\n##XUNITS=MICROMETERS\n##YUNITS=TRANSMITTANCE\n"
                   f"##NPOINTS={wl.size}\n##XYPOINTS=(XY..XY)\n" + body.replace(f"{wl[0]:g},", "0.4,")
                   .replace("\n4", "\n0.4") + "##END=\n")
        s = read_spectrum(p)
        assert s.wavelength_nm[0] == pytest.approx(400.0)
        np.testing.assert_allclose(s.values, 0.3, atol=1e-6)

    def test_jcamp_counts_not_absorbance(self, tmp_path: Path) -> None:
        s = read_spectrum(DATA / "uvvis-abs.jdx")
        p = tmp_path / "pl.jdx"
        write_jcamp(Spectrum(s.wavelength_nm, s.values, kind="intensity"), p, title="pl")
        with pytest.raises(SpectrumError, match=r"pl\.jdx.*COUNTS.*absorbance"):
            read_spectrum(p)
        assert read_spectrum(p, kind="intensity").kind == "intensity"

    def test_oceanview(self) -> None:
        s = read_spectrum(DATA / "oceanview-pl.txt", kind="intensity")
        assert s.metadata["format"] == "oceanview"
        assert s.metadata["Integration Time (sec)"] == "1.000000E-1"
        assert s.metadata["Scans to average"] == "10"
        assert s.n_points == 44 and s.wavelength_nm[0] == pytest.approx(500.137)

    def test_avantes_absorbance_from_counts(self) -> None:
        s = read_spectrum(DATA / "avantes-abs.txt")
        assert s.metadata["format"] == "avantes" and s.metadata["computed"] == "-log10((S-D)/(R-D))"
        assert s.metadata["Integration time [ms]"] == "12.000"
        np.testing.assert_allclose(s.values, _absorb(s.wavelength_nm), atol=1e-5)
        t = read_spectrum(DATA / "avantes-abs.txt", kind="transmittance")
        np.testing.assert_allclose(t.values, 10 ** -s.values, rtol=1e-9)

    def test_avantes_dark_above_sample(self, tmp_path: Path) -> None:
        text = (DATA / "avantes-abs.txt").read_text().replace("  6085.888", "   999.000")
        with pytest.raises(SpectrumError, match=r"bad-ava\.txt: Sample-Dark = -1 <= 0 at 400\.21 nm"):
            read_spectrum(_write(tmp_path, "bad-ava.txt", text))

    def test_comments_and_columns(self, tmp_path: Path) -> None:
        text = "# synthetic\n# second\nwavelength_nm;A1;A2\n" + "".join(
            f"{400 + i};{0.1 * i:.1f};{0.2 * i:.1f}\n" for i in range(10))
        p = _write(tmp_path, "multi.csv", text)
        with pytest.raises(SpectrumError, match=r"multi\.csv: 3 columns .*y_column"):
            read_spectrum(p)
        s = read_spectrum(p, y_column="a2")
        assert s.values[1] == pytest.approx(0.2) and s.metadata["comments"] == ("synthetic", "second")
        assert read_spectrum(p, y_column=1).values[1] == pytest.approx(0.1)

    def test_whitespace_and_no_header(self, tmp_path: Path) -> None:
        p = _write(tmp_path, "ws.dat", "".join(f"{400 + i}   {0.1 * i:.2f}\n" for i in range(10)))
        assert read_spectrum(p).n_points == 10

    def test_decimal_comma_declared(self, tmp_path: Path) -> None:
        p = _write(tmp_path, "dc.csv", "".join(f"{400 + i},5;0,{i}\n" for i in range(10)))
        with pytest.raises(SpectrumError, match=r"dc\.csv: line 1, column 1: '400,5' is not a number.*decimal"):
            read_spectrum(p)
        s = read_spectrum(p, decimal=",")
        assert s.wavelength_nm[0] == 400.5 and s.values[3] == pytest.approx(0.3)

    def test_declared_units(self, tmp_path: Path) -> None:
        um = _write(tmp_path, "um.csv", _csv([(f"{0.4 + 0.01 * i:.2f}", "0.1") for i in range(10)]))
        assert read_spectrum(um, wavelength_unit="um").wavelength_nm[0] == pytest.approx(400.0)
        ev = _write(tmp_path, "ev.csv", _csv([(f"{2.1 + 0.1 * i:.1f}", f"{i}") for i in range(10)], "E,I"))
        s = read_spectrum(ev, wavelength_unit="ev", kind="intensity")  # ascending energy -> reversed
        assert s.wavelength_nm[0] == pytest.approx(1239.841984 / 3.0) and s.values[0] == 9.0
        assert np.all(np.diff(s.wavelength_nm) > 0)

    def test_descending_axis_reversed_unless_refused(self, tmp_path: Path) -> None:
        p = _write(tmp_path, "desc.csv", _csv(GOOD[::-1]))
        with pytest.raises(SpectrumError, match=r"desc\.csv: wavelength decreases"):
            read_spectrum(p, reverse_descending=False)
        s = read_spectrum(p)
        assert s.wavelength_nm[0] == 400.0 and s.metadata["reversed_axis"]

    def test_read_spectra_and_example(self) -> None:
        spectra = read_spectra([EXAMPLES / "pl-inp-zns-607nm.csv", EXAMPLES / "plqy-blank.csv"], kind="intensity")
        assert [s.n_points for s in spectra] == [451, 501]
        assert "SYNTHETIC" in spectra[0].metadata["comments"][0]


BAD_CASES = {
    "empty": ("", r"empty file"),
    "blank-lines": ("\n\n  \n", r"empty file"),
    "only-header": ("wavelength_nm,A\n", r"no numeric data rows"),
    "truncated": (_csv([*GOOD[:5], ("450", ""), *GOOD[6:]]), r"line 7: truncated row, 1 of 2 cells"),
    "non-numeric": (_csv([*GOOD[:3], ("430", "abc"), *GOOD[4:]]), r"line 5, column 2: 'abc' is not a number"),
    "decreasing": (_csv([*GOOD[:4], ("425", "0.1"), *GOOD[4:]]), r"wavelength decreases"),
    "duplicate": (_csv([*GOOD[:4], ("430", "0.1"), *GOOD[4:]]), r"duplicate wavelength 430"),
    "nan": (_csv([*GOOD[:2], ("420", "nan"), *GOOD[3:]]), r"line 4, column 2: NaN or infinite"),
    "inf": (_csv([*GOOD[:2], ("420", "-inf"), *GOOD[3:]]), r"NaN or infinite value '-inf'"),
    "micrometres": (_csv([(f"{0.4 + 0.01 * i:.2f}", "0.1") for i in range(10)]), r"looks like µm.*'um'"),
    "electronvolts": (_csv([(f"{3.0 - 0.1 * i:.1f}", "0.1") for i in range(10)]), r"looks like photon energy in eV"),
    "ev-header": (_csv([(f"{1.5 + 0.1 * i:.1f}", "0.1") for i in range(10)], "Energy (eV),PL"), r"eV.*'ev'"),
    "wavenumbers": (_csv([(f"{15000 + 500 * i}", "0.1") for i in range(10)]), r"wavenumbers in cm-1"),
    "too-short": (_csv(GOOD[:4]), r"only 4 data points"),
    "one-column": ("400\n410\n420\n430\n440\n450\n460\n470\n", r"only one column"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_csv_names_file(tmp_path: Path, case: str) -> None:
    text, pattern = BAD_CASES[case]
    p = _write(tmp_path, f"bad-{case}.csv", text)
    with pytest.raises(SpectrumError, match=rf"^{tmp_path}/bad-{case}\.csv: .*{pattern}") as info:
        read_spectrum(p)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "text", "pattern"),
    [
        ("ov-nobegin.txt", "Spectrometer: X\nIntegration Time (sec): 1\n>>>>>Begin\n", r"no spectral data"),
        ("ov-nan.txt", "XAxis mode: Wavelengths\n>>>>>Begin Spectral Data<<<<<\n"
         + "".join(f"{400 + i}\t{'NaN' if i == 3 else 1.0}\n" for i in range(10)), r"line 6, column 2: NaN"),
        ("ov-raman.txt", "XAxis mode: Raman Shifts\n>>>>>Begin Spectral Data<<<<<\n"
         + "".join(f"{400 + i}\t1\n" for i in range(10)), r"XAxis mode is 'Raman Shifts'"),
        ("ava-short.txt", "Wave;Sample;Dark;Reference\n" + "".join(f"{400 + i};2;1\n" for i in range(10)),
         r"line 2: truncated row, 3 of 4 cells"),
        ("j-trunc.jdx", "##TITLE=x\n##JCAMP-DX=5.01\n##XUNITS=NANOMETERS\n##YUNITS=ABSORBANCE\n##NPOINTS=12\n"
         "##XYPOINTS=(XY..XY)\n" + "".join(f"{400 + i}, 0.1\n" for i in range(10)) + "##END=\n",
         r"NPOINTS=12 but 10 points"),
        ("j-text.jdx", "##TITLE=x\n##JCAMP-DX=5.01\n##XUNITS=NANOMETERS\n##YUNITS=ABSORBANCE\n"
         "##XYPOINTS=(XY..XY)\n" + "".join(f"{400 + i}, {'x1' if i == 2 else 0.1}\n" for i in range(10)),
         r"line 8, value 2: 'x1' is not a number"),
        ("j-units.jdx", "##TITLE=x\n##JCAMP-DX=5.01\n##XUNITS=NANOMETERS\n##YUNITS=ABSORBANCE\n"
         "##XYPOINTS=(XY..XY)\n" + "".join(f"{400 + i}, 0.1\n" for i in range(10)), None),
    ],
)
def test_bad_other_formats(tmp_path: Path, name: str, text: str, pattern: str | None) -> None:
    p = _write(tmp_path, name, text)
    if pattern is None:  # contradicting declarations
        with pytest.raises(SpectrumError, match=r"j-units\.jdx: ##XUNITS=NANOMETERS contradicts"):
            read_spectrum(p, wavelength_unit="ev")
        return
    with pytest.raises(SpectrumError, match=rf"{name}: .*{pattern}"):
        read_spectrum(p)


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(SpectrumError, match=r"nope\.csv: no such file"):
        read_spectrum(tmp_path / "nope.csv")
    with pytest.raises(SpectrumError, match=r"unknown format 'xls'"):
        read_spectrum(DATA / "abs-toluene.tsv", format="xls")
    with pytest.raises(SpectrumError, match=r"the jcamp reader takes no option decimal"):
        read_spectrum(DATA / "uvvis-abs.jdx", decimal=",")
    with pytest.raises(SpectrumError, match=r"unknown spectrum kind"):
        read_spectrum(DATA / "abs-toluene.tsv", kind="fluorescence")


class TestWriters:
    def _spectrum(self) -> Spectrum:
        wl = np.sort(400.0 + np.random.default_rng(1).uniform(0, 300, 60))  # non-uniform grid
        return Spectrum(wl, _absorb(wl) * 1e-3 + 1e-7, source="x.csv")

    def test_jcamp_round_trip_with_jcamp_package(self, tmp_path: Path) -> None:
        s = self._spectrum()
        p = write_jcamp(s, tmp_path / "rt.jdx", title="round trip")
        assert p.read_text().startswith("##TITLE=round trip\n##JCAMP-DX=5.01\n")
        d = jcamp.readfile(str(p))
        np.testing.assert_allclose(d["x"], s.wavelength_nm, rtol=1e-9)
        np.testing.assert_allclose(d["y"], s.values, rtol=1e-9)
        back = read_spectrum(p)
        np.testing.assert_allclose(back.values, s.values, rtol=1e-9)

    def test_csv_round_trip(self, tmp_path: Path) -> None:
        s = self._spectrum()
        back = read_spectrum(write_spectrum_csv(s, tmp_path / "rt.csv"))
        np.testing.assert_allclose(back.wavelength_nm, s.wavelength_nm, rtol=1e-9)
        np.testing.assert_allclose(back.values, s.values, rtol=1e-9)
