"""Reactor-train TOML: the example file and clear errors on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowqd.errors import ConfigError, RangeError
from flowqd.reactor import TrainConfig, load_train, paper_train, train_from_mapping

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "reactor-wang-segets-2023.toml"


def test_example_matches_paper_train() -> None:
    train = load_train(EXAMPLE)
    ref = paper_train(core_temperature_c=200.0, shell_temperature_c=200.0)
    assert train.section_names == ref.section_names
    assert train.volume_ml() == pytest.approx(ref.volume_ml(), rel=1e-12)
    assert [b.units_in_use for b in train.boxes] == [("HB1-1",), ("HB2-1",)]
    assert [b.box.max_temperature_c for b in train.boxes] == [350.0, 220.0]
    # default set points from the file are used by resolve()
    segs = train.resolve(0.06, side_flows_ml_min={"ddt": 0.03})
    assert [s.temperature_c for s in segs if s.kind == "box"] == [200.0, 200.0]


def test_embedded_table_and_reusable_model(tmp_path: Path) -> None:
    p = tmp_path / "platform.toml"
    p.write_text("[pump]\nmax_flow_ml_min = 1.5\n\n" + EXAMPLE.read_text().replace("[[", "[[reactor.").replace(
        'name = "wang-segets-2023"\nsequence', '[reactor]\nname = "wang-segets-2023"\nsequence'))
    train = load_train(p, table="reactor")
    assert train.section_names == ("HB1", "ddt-tee", "HB2")
    with pytest.raises(ConfigError, match=r"platform.toml: no \[nothing\] table"):
        load_train(p, table="nothing")
    cfg = TrainConfig.model_validate({"sequence": ["L"], "line": [{"name": "L", "inner_diameter_mm": 1.0,
                                                                    "length_m": 2.0}]})
    assert cfg.to_train().volume_ml() == pytest.approx(1.5708, abs=1e-4)


def _bad(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    p = tmp_path / "reactor.toml"
    p.write_text(EXAMPLE.read_text().replace(old, new, count))
    return p


def test_unknown_key(tmp_path: Path) -> None:
    p = _bad(tmp_path, "length_m = 4.6", "lenght_m = 4.6")
    with pytest.raises(ConfigError, match=r"heating_box\[0\].units\[0\].lenght_m = 4.6: unknown key \(did you mean "
                                          r"length_m\?\); allowed: coil_diameter_mm, inner_diameter_mm, length_m, "
                                          r"max_temperature_c, name") as exc:
        load_train(p)
    assert str(exc.value).startswith(f"{p}: ") and "\n" not in str(exc.value)


def test_negative_length(tmp_path: Path) -> None:
    p = _bad(tmp_path, "length_m = 4.6", "length_m = -4.6")
    with pytest.raises(ConfigError, match=r"heating_box\[0\].units\[0\].length_m = -4.6: Input should be greater "
                                          r"than 0"):
        load_train(p)


def test_temperature_above_box_limit(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    i = text.index('name = "HB2"')
    p = tmp_path / "reactor.toml"
    p.write_text(text[:i] + text[i:].replace("temperature_c = 200.0", "temperature_c = 250.0", 1))
    with pytest.raises(ConfigError, match=r"heating_box\[1\]: heating box HB2: temperature_c 250 above "
                                          r"max_temperature_c 220 °C"):
        load_train(p)
    # and at run time the resolved set point is checked against the limit too
    with pytest.raises(RangeError, match=r"heating box HB2: temperature 250.0 °C above its limit 220 °C"):
        load_train(EXAMPLE).resolve(0.06, {"HB2": 250.0}, {"ddt": 0.03})


def test_unknown_unit_and_section(tmp_path: Path) -> None:
    p = _bad(tmp_path, 'units_in_use = ["HB1-1"]', 'units_in_use = ["HB1-9"]')
    with pytest.raises(ConfigError, match=r"heating box HB1: units_in_use names unknown unit 'HB1-9'"):
        load_train(p)
    p = _bad(tmp_path, '"ddt-tee", "HB2"]', '"ddt-tee", "HB3"]')
    with pytest.raises(ConfigError, match=r"sequence names unknown section 'HB3'"):
        load_train(p)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing.toml: file not found"):
        load_train(tmp_path / "missing.toml")
    p = tmp_path / "broken.toml"
    p.write_text("name = \n")
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML"):
        load_train(p)
    with pytest.raises(ConfigError, match=r"<reactor table>: sequence: missing \(required\)"):
        train_from_mapping({"name": "x"})
