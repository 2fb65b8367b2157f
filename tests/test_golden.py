"""Behaviour pinned across refactors: the analysis of the example spectra and the twin's predictions.

The values in ``tests/data/golden.json`` were computed on main before the issue-7 refactor (one set-point type,
typed results, the ``analysis.psd`` package). A refactor must leave every number unchanged; the test allows a
relative difference of 1e-10 (far below any physical or numerical change — a changed algorithm moves these
numbers by 1e-6 or more) so that a CPU with other BLAS kernels passes, and reports how many values are
bit-identical. An array element is compared relative to its array's largest magnitude: a distribution's far tail
(1e-5 of its peak, or 1e-15 in the twin's first class) moves by 1e-9 of itself with another numpy/BLAS build.
Regenerate only for an intended change of behaviour, and say so in the commit:

    .venv/bin/python tests/test_golden.py --write
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECTRA = ROOT / "examples" / "spectra"
GOLDEN = Path(__file__).resolve().parent / "data" / "golden.json"
RTOL = 1e-10

#: Twin conditions: core-only across the paper's range, several units, and core/shell.
TWIN_CONDITIONS: list[dict[str, Any]] = [
    {"core_temperature_c": 180.0, "core_flow_ml_min": 0.1},
    {"core_temperature_c": 250.0, "core_flow_ml_min": 0.3},
    {"core_temperature_c": 300.0, "core_flow_ml_min": 0.05, "core_units": 2},
    {"core_temperature_c": 230.0, "core_flow_ml_min": 0.15, "shell": True, "shell_temperature_c": 200.0,
     "ddt_flow_ml_min": 0.05},
]


def _flatten(prefix: str, value: Any, out: dict[str, float | str | None]) -> None:
    if isinstance(value, dict):
        for k in sorted(value):
            _flatten(f"{prefix}.{k}", value[k], out)
    elif isinstance(value, (list, tuple, np.ndarray)):
        for i, v in enumerate(np.asarray(value, dtype=object).ravel().tolist()):
            _flatten(f"{prefix}[{i}]", v, out)
    elif value is None or isinstance(value, str):
        out[prefix] = value
    elif isinstance(value, (bool, np.bool_)):
        out[prefix] = float(value)
    else:
        out[prefix] = float(value)


def compute() -> dict[str, float | str | None]:
    """Every number the example spectra and the twin give today, flattened to ``key -> value``."""
    from flowqd.analysis import analyze_absorbance, analyze_pl, read_spectrum
    from flowqd.analysis.plqy import plqy_from_spectra
    from flowqd.reactor.conditions import Conditions
    from flowqd.twin import Twin

    out: dict[str, float | str | None] = {}
    for name in ("inp-180C-518nm.csv", "inp-250C-590nm.csv", "inp-2048px-noisy-baseline.csv"):
        res = analyze_absorbance(read_spectrum(SPECTRA / name), material="InP")
        d = res.to_dict()
        d.pop("label", None)
        _flatten(f"absorbance:{name}", d, out)
    pl = analyze_pl(read_spectrum(SPECTRA / "pl-inp-zns-607nm.csv", kind="intensity"))
    _flatten("pl", {k: getattr(pl, k) for k in ("peak_wavelength_nm", "fwhm_nm", "fwhm_mev", "half_max_left_nm",
                                                "half_max_right_nm", "peak_height", "integrated_intensity",
                                                "cie_x", "cie_y", "dominant_wavelength_nm")}, out)
    q = plqy_from_spectra(blank=read_spectrum(SPECTRA / "plqy-blank.csv", kind="intensity"),
                          sample=read_spectrum(SPECTRA / "plqy-sample.csv", kind="intensity"))
    _flatten("plqy", {"plqy": q.plqy, "absorptance": q.absorptance}, out)
    twin = Twin.default()
    for i, c in enumerate(TWIN_CONDITIONS):
        p = twin.predict(Conditions(**c))
        d = p.to_dict(arrays=True)
        d.pop("conditions")
        _flatten(f"twin[{i}]", d, out)
    return out


def _array_scales(values: dict[str, float | str | None]) -> dict[str, float]:
    """Largest finite magnitude of each array (keys ``name[i]``), by array name."""
    scales: dict[str, float] = {}
    for k, v in values.items():
        if k.endswith("]") and isinstance(v, float) and math.isfinite(v):
            name = k[: k.rindex("[")]
            scales[name] = max(scales.get(name, 0.0), abs(v))
    return scales


def _same(a: float | str | None, b: float | str | None, scale: float = 0.0) -> bool:
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= RTOL * max(abs(a), abs(b), scale)


def _differ(now: dict[str, float | str | None], golden: dict[str, float | str | None]) -> list[str]:
    scales = _array_scales(golden)
    return [k for k in golden if k in now and not _same(now[k], golden[k], scales.get(k[: k.rfind("[")], 0.0)
                                                          if k.endswith("]") else 0.0)]


@pytest.mark.slow
def test_example_spectra_and_twin_predictions_are_unchanged() -> None:
    golden = json.loads(GOLDEN.read_text())
    now = compute()
    assert sorted(now) == sorted(golden), "the set of result fields changed"
    differ = _differ(now, golden)
    assert not differ, f"{len(differ)} values changed, e.g. " + ", ".join(
        f"{k}: {golden[k]!r} -> {now[k]!r}" for k in differ[:5])
    assert len(golden) > 1000  # the arrays (PSDs, spectra) are part of it, not only the headline numbers


def main() -> int:
    now = compute()
    if "--write" in sys.argv:
        GOLDEN.write_text(json.dumps(now, indent=0, sort_keys=True) + "\n")
        print(f"wrote {len(now)} values to {GOLDEN}")
        return 0
    golden = json.loads(GOLDEN.read_text())
    exact = sum(1 for k in golden if k in now and (now[k] == golden[k] or (
        isinstance(now[k], float) and isinstance(golden[k], float) and math.isnan(now[k]) and math.isnan(golden[k]))))
    print(f"{exact} of {len(golden)} values bit-identical; "
          f"{len(_differ(now, golden))} differ beyond rtol {RTOL:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
