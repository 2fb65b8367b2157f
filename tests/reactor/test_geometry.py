"""Geometry: tubes, boxes, the paper's train and its validation."""

from __future__ import annotations

import pytest

from flowqd.errors import ConfigError, RangeError
from flowqd.reactor import (
    PAPER_COIL_DIAMETER_MM,
    BoxStage,
    HeatingBox,
    HeatingUnit,
    ReactorTrain,
    Tube,
    check_flow_ml_min,
    paper_train,
)


def test_unit_tube_volume_and_cross_section() -> None:
    t = Tube(0.9975, 4.6, 30.0)
    # notes §3.1: A = 7.815e-7 m², V = 3.595 mL per unit
    assert t.cross_section_m2 == pytest.approx(7.815e-7, rel=2e-4)
    assert t.volume_ml == pytest.approx(3.595, abs=1e-3)
    assert t.radius_m == pytest.approx(0.49875e-3, rel=1e-12)


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"inner_diameter_mm": 0.9975, "length_m": -4.6}, "length_m must be > 0, got -4.6"),
    ({"inner_diameter_mm": 0.0, "length_m": 4.6}, "inner_diameter_mm must be > 0, got 0.0"),
    ({"inner_diameter_mm": 0.9975, "length_m": 4.6, "coil_diameter_mm": 0.5}, "coil_diameter_mm 0.5"),
])
def test_bad_tubes_are_range_errors(kwargs: dict, needle: str) -> None:
    with pytest.raises(RangeError, match=needle):
        Tube(**kwargs)


def test_paper_train_layout() -> None:
    train = paper_train()
    assert train.section_names == ("HB1", "ddt-tee", "HB2")
    hb1, hb2 = train.boxes
    assert hb1.box.max_temperature_c == 350.0 and hb2.box.max_temperature_c == 220.0
    assert hb1.box.unit_names == ("HB1-1", "HB1-2", "HB1-3") and len(hb2.box.units) == 3
    # default core configuration: ONE unit of HB1 (paper's τ 12-72 min at 0.3-0.05 mL/min)
    assert hb1.units_in_use == ("HB1-1",)
    assert all(t.coil_diameter_mm == PAPER_COIL_DIAMETER_MM == 30.0 for t in hb1.tubes)
    assert paper_train(shell=False).volume_ml() == pytest.approx(3.595, abs=1e-3)
    assert train.volume_ml() == pytest.approx(7.190, abs=2e-3)
    assert train.with_units("HB1", 3).volume_ml() == pytest.approx(4 * 3.595, abs=4e-3)


def test_paper_train_with_inlet_line() -> None:
    train = paper_train(inlet_line_m=1.0, shell=False)
    assert train.section_names == ("inlet", "HB1")
    assert train.volume_ml() == pytest.approx(3.595 + 3.595 / 4.6, abs=2e-3)


def test_unknown_unit_and_bad_unit_counts() -> None:
    train = paper_train()
    with pytest.raises(ConfigError, match=r"heating box HB1: unknown unit 'HB1-9'"):
        train.with_units("HB1", ["HB1-9"])
    with pytest.raises(RangeError, match=r"heating box HB2: units 4 outside 1-3"):
        train.with_units("HB2", 4)
    with pytest.raises(ConfigError, match=r"not a heating box"):
        train.with_units("ddt-tee", 1)
    with pytest.raises(RangeError, match=r"core_units 0"):
        paper_train(core_units=0)


def test_temperature_above_box_limit() -> None:
    train = paper_train()
    with pytest.raises(RangeError, match=r"heating box HB2: temperature 230.0 °C above its limit 220 °C"):
        train.resolve(0.06, {"HB1": 200.0, "HB2": 230.0}, {"ddt": 0.03})
    with pytest.raises(RangeError, match=r"HB1: temperature 351"):
        train.resolve(0.1, {"HB1": 351.0, "HB2": 200.0}, {"ddt": 0.03})
    # a unit limit lower than the box limit wins
    tube = Tube(1.0, 1.0)
    box = HeatingBox("B", (HeatingUnit("u1", tube, 300.0), HeatingUnit("u2", tube, 150.0)), 300.0)
    stage = BoxStage(box, ("u1", "u2"))
    assert stage.check_temperature(150.0) == 150.0
    with pytest.raises(RangeError, match=r"limit 150"):
        stage.check_temperature(151.0)


def test_resolve_streams_after_the_mixer() -> None:
    segs = paper_train().resolve(0.06, {"HB1": 200.0, "HB2": 200.0}, {"ddt": 0.03})
    hb1, tee, hb2 = segs
    assert hb1.flow_ml_min == 0.06 and dict(hb1.stream_fractions) == {"stock": 1.0}
    assert tee.kind == "mixer" and tee.volume_ml == 0.0
    assert hb2.flow_ml_min == pytest.approx(0.09, abs=1e-15)
    assert hb2.stream_fractions["stock"] == pytest.approx(2 / 3, abs=1e-12)
    assert hb2.stream_fractions["ddt"] == pytest.approx(1 / 3, abs=1e-12)
    assert hb2.residence_time_min == pytest.approx(3.595 / 0.09, abs=0.02)


def test_resolve_errors() -> None:
    train = paper_train()
    with pytest.raises(ConfigError, match=r"mixer ddt-tee: no flow given for stream 'ddt'"):
        train.resolve(0.06, {"HB1": 200.0, "HB2": 200.0})
    with pytest.raises(ConfigError, match=r"no heating box 'HB3'"):
        train.resolve(0.06, {"HB3": 200.0})
    with pytest.raises(ConfigError, match=r"heating box HB1: no temperature set point"):
        paper_train(shell=False).resolve(0.1)
    with pytest.raises(ConfigError, match=r"no mixer takes stream 'toluene'"):
        train.resolve(0.06, {"HB1": 200.0, "HB2": 200.0}, {"ddt": 0.03, "toluene": 0.1})


def test_pump_range() -> None:
    assert check_flow_ml_min(0.03) == 0.03 and check_flow_ml_min(1.5) == 1.5
    for bad in (0.029, 1.51, 0.0, -0.1, float("nan")):
        with pytest.raises(RangeError, match=r"outside the pump range 0.03-1.5 mL/min"):
            check_flow_ml_min(bad)
    with pytest.raises(RangeError, match=r"ddt flow 2.0 mL/min"):
        paper_train().resolve(0.06, {"HB1": 200.0, "HB2": 200.0}, {"ddt": 2.0})


def test_duplicate_names() -> None:
    tube = Tube(1.0, 1.0)
    with pytest.raises(ConfigError, match=r"duplicate unit name 'u'"):
        HeatingBox("B", (HeatingUnit("u", tube, 100.0), HeatingUnit("u", tube, 100.0)), 100.0)
    stage = paper_train().boxes[0]
    with pytest.raises(ConfigError, match=r"duplicate section name 'HB1'"):
        ReactorTrain("t", (stage, stage))
