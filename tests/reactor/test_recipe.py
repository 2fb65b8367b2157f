"""Stock and shell concentrations vs the notes (§0, §4.2), production rates, syringe schedule, recipe TOML."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from flowqd.errors import ConfigError, RangeError
from flowqd.reactor import (
    in_feed_mmol_h,
    load_recipe,
    max_inp_production_mg_h,
    paper_recipe,
    paper_stock,
    shell_stream_concentrations,
    stock_consumed_ml,
    syringe_duration_min,
    syringe_schedule,
    syringe_swaps,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "recipe-wang-segets-2023.toml"


def test_stock_amounts_and_concentrations_match_notes() -> None:
    s = paper_stock()
    amounts = {c.name: c.amount_mmol for c in s.components}
    assert amounts["InCl3"] == pytest.approx(4.0, abs=1e-3)
    assert amounts["ZnCl2"] == pytest.approx(20.0, abs=2e-3)
    assert amounts["P(NEt2)3"] == pytest.approx(4.4 * 0.903 / 247.32 * 1e3, rel=1e-12)
    assert amounts["P(NEt2)3"] == pytest.approx(16.07, abs=0.01)
    assert s.volume_ml == pytest.approx(45.6, rel=0.005)
    c = s.concentrations_m
    assert c["indium"] == pytest.approx(0.088, rel=0.02)
    assert c["zinc"] == pytest.approx(0.44, rel=0.02)
    assert c["phosphorus"] == pytest.approx(0.35, rel=0.02)
    r = s.ratios
    assert (r["indium"], r["zinc"], r["phosphorus"]) == pytest.approx((1.0, 5.0, 4.016), abs=2e-3)
    assert s.max_inp_mg_per_ml == pytest.approx(12.8, rel=0.02)
    assert s.hnet2_mole_fraction_max == pytest.approx(0.26, abs=0.01)


def test_production_rates() -> None:
    s = paper_stock()
    assert in_feed_mmol_h(s, 0.1) == pytest.approx(0.526, rel=0.005)
    # notes §0: P = 565·Q mg/h at X = 0.736, so 107 mg/h <-> Q ≈ 0.19 mL/min
    assert max_inp_production_mg_h(s, 0.19, 0.736) == pytest.approx(107.0, rel=0.01)
    assert max_inp_production_mg_h(s, 1.0) == pytest.approx(767.0, rel=0.005)
    assert stock_consumed_ml(0.1, 60.0) == pytest.approx(6.0, abs=1e-12)
    with pytest.raises(RangeError, match=r"conversion 1.2 outside 0-1"):
        max_inp_production_mg_h(s, 0.1, 1.2)


def test_shell_stream_matches_notes() -> None:
    c = shell_stream_concentrations(paper_stock(), 0.06, 0.03, core_conversion=0.74)
    assert c.zinc_m == pytest.approx(0.29, rel=0.02)
    assert c.thiol_m == pytest.approx(1.39, rel=0.02)
    assert c.inp_m == pytest.approx(0.043, rel=0.02)
    assert c.core_fraction == pytest.approx(2 / 3, abs=1e-12)
    assert c.s_to_zn == pytest.approx(4.7, rel=0.02)
    assert paper_recipe().shell_feed.concentration_m == pytest.approx(4.17, rel=0.005)


def test_syringe_durations() -> None:
    assert syringe_duration_min(0.03) == pytest.approx(83.333, abs=1e-3)
    assert syringe_duration_min(1.5) == pytest.approx(1.6667, abs=1e-4)
    assert syringe_swaps(0.1, 60.0) == 2
    assert syringe_swaps(0.1, 25.0) == 0
    assert syringe_swaps(0.1, 25.01) == 1


@pytest.mark.parametrize(("q", "duration", "refill"), [(0.1, 60.0, 2.5), (1.5, 30.0, 2.5), (0.03, 500.0, 0.05)])
def test_syringe_schedule_has_no_flow_gap(q: float, duration: float, refill: float) -> None:
    steps = syringe_schedule(q, duration, 2.5, refill)
    disp = [s for s in steps if s.action == "dispense"]
    assert disp[0].start_min == 0.0 and disp[-1].end_min == pytest.approx(duration, abs=1e-12)
    for a, b in itertools.pairwise(disp):
        assert b.start_min == a.end_min  # contiguous: no flow gap
        assert a.syringe != b.syringe  # alternating
    assert sum((s.end_min - s.start_min) * q for s in disp) == pytest.approx(q * duration, rel=1e-12)
    # every syringe is full again before it dispenses, and never fills while it dispenses
    for s in disp[1:]:
        fills = [f for f in steps if f.action == "fill" and f.syringe == s.syringe and f.end_min <= s.start_min]
        assert fills, f"syringe {s.syringe} dispensing at {s.start_min} was never refilled"
        last = max(fills, key=lambda f: f.end_min)
        assert last.end_min - last.start_min == pytest.approx(2.5 / refill, rel=1e-12)
    for f in (f for f in steps if f.action == "fill"):
        for s in disp:
            if s.syringe == f.syringe:
                assert f.end_min <= s.start_min or f.start_min >= s.end_min
    assert len(disp) - 1 == syringe_swaps(q, duration)


def test_syringe_refill_must_be_faster_than_dispense() -> None:
    with pytest.raises(RangeError, match=r"refill 0.1 mL/min is not faster than the dispense flow 0.1 mL/min"):
        syringe_schedule(0.1, 60.0, refill_ml_min=0.1)


def test_example_recipe_toml_matches_paper_stock() -> None:
    r = load_recipe(EXAMPLE)
    for role, value in paper_stock().concentrations_m.items():
        assert r.stock.concentrations_m[role] == pytest.approx(value, rel=1e-12)
    assert r.syringe.volume_ml == 2.5 and r.syringe.pressure_limit_bar == 20.0
    assert r.shell_feed is not None and r.shell_feed.density_g_ml == 0.845


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "recipe.toml"
    p.write_text(text)
    return p


def test_bad_recipes_are_config_errors(tmp_path: Path) -> None:
    base = EXAMPLE.read_text()
    p = _write(tmp_path, base.replace("mass_mg = 884.72", "mass_g = 0.88472"))
    with pytest.raises(ConfigError, match=r"recipe.toml: stock.components\[0\].mass_g = 0.88472: unknown key "
                                          r"\(wrong unit\? did you mean mass_mg: units are part of the key\)"):
        load_recipe(p)
    p = _write(tmp_path, base.replace("mass_mg = 884.72", "mass_mg = -884.72"))
    with pytest.raises(ConfigError,
                       match=r"stock.components\[0\].mass_mg = -884.72: Input should be greater than 0"):
        load_recipe(p)
    p = _write(tmp_path, base.replace("mass_mg = 884.72", "mass_mg = 884.72\n  volume_ml = 0.3"))
    with pytest.raises(ConfigError, match=r"component InCl3: give exactly one of mass_mg or volume_ml"):
        load_recipe(p)
    p = _write(tmp_path, base.replace('role = "indium"', 'role = "gallium"'))
    with pytest.raises(ConfigError, match=r"stock.components\[0\].role = 'gallium': Input should be"):
        load_recipe(p)
    with pytest.raises(ConfigError, match=r"file not found"):
        load_recipe(tmp_path / "missing.toml")
