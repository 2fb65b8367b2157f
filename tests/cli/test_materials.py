"""``flowqd materials``: every built-in material and sizing curve, whatever the curve's form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowqd.cli import main


def test_table_lists_every_material_and_curve(capsys: pytest.CaptureFixture[str]) -> None:
    """CdSe's default curve is Yu's polynomial (five coefficients): the table printed it as a hyperbola's three and
    failed with a traceback until issue 8's second round."""
    assert main(["materials"]) == 0
    out = capsys.readouterr().out
    for name in ("yu-2003 (default)", "jasieniak-2009", "wang-segets-2023 (default)", "almeida-2023",
                 "doi:10.1021/cm034081k", "wavelength-polynomial", "hyperbolic"):
        assert name in out


def test_json_gives_each_default_curve_with_its_form(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["materials", "CdSe", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (row,) = data["materials"]
    assert row["sizing_curve"] == "yu-2003" and row["sizing_form"] == "wavelength-polynomial"
    assert row["sizing_coefficients"] == pytest.approx([1.6122e-9, -2.6575e-6, 1.6242e-3, -0.4277, 41.57])
    yu = {c["curve"]: c for c in data["sizing_curves"]}["yu-2003"]
    # Yu et al. 2003 eq 1 at 515 nm gives 2.50 nm, at 569 nm 3.50 nm: the printed peaks of 2.5 and 3.5 nm dots
    assert yu["peak_nm_at_2_5_3_5_nm"] == pytest.approx([515.0, 569.0], abs=1.0)


def test_plot_and_bad_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "curves.png"
    assert main(["materials", "InP", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(["materials", "GaAs"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "GaAs" in err
