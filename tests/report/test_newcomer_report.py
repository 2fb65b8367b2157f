"""Issue 13 items 1-5 and 8 in the report: what a chemist sees.

A 2 × 2 temperature × flow sweep is written into a store by hand (absorbance analyses with uncertainties, one
flagged PSD, one superseded spectrum, PL spectra in which no emission was detected), then reported.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from tests.store_fixtures import WAVELENGTH_NM, demo_absorbance

from flowqd.report import figures
from flowqd.report.html import condition_label, write_report
from flowqd.store import Store

D = np.linspace(1.5, 6.0, 181)


def _psd(x13: float, spike: bool) -> dict:
    q = np.exp(-0.5 * ((D - x13) / 0.25) ** 2)
    warnings = []
    if spike:
        q[16] = 0.8  # 1.9 nm
        q[-1] = 0.3  # rise at the 6 nm edge
        # what flowqd.analysis.psd_checks.psd_warnings says of it (tested in tests/analysis/test_psd_checks.py)
        warnings = ["mass at the upper grid edge (6.0 nm): 1.4 % of the volume within 0.14 nm of it, q3 there 30 % "
                    "of its maximum", "isolated spike at 1.90 nm: 1.4 % of the volume, the inversion may be fitting "
                    "noise"]
    return {"diameter_nm": D.tolist(), "q3": (q / np.trapezoid(q, D)).tolist(), "warnings": warnings}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """(store, run id, html text, calls to the figure functions)."""
    tmp = tmp_path_factory.mktemp("sweep")
    calls: dict[str, list] = {}
    mp = pytest.MonkeyPatch()
    for name in ("plot_size_rsd", "plot_absorbance_pl"):
        real = getattr(figures, name)

        def spy(*a, _real=real, _name=name, **k):
            calls.setdefault(_name, []).append((a, k))
            return _real(*a, **k)

        mp.setattr(figures, name, spy)
    store = Store(f"sqlite:///{tmp}/db.sqlite")
    run_id = store.create_run("sweep")
    seq = 0
    # condition order as a sweep writes it: temperature outermost -> a zig-zag if drawn in order
    for index, (temp, flow) in enumerate([(180.0, 0.1), (180.0, 0.2), (220.0, 0.1), (220.0, 0.2)]):
        cid = store.start_condition(run_id, index, core_temperature_c=temp, core_flow_ml_min=flow,
                                    residence_time_s=2157.0 * 0.1 / flow, n_spectra=3)
        peak = 518.0 + (temp - 180.0) - 40.0 * (flow - 0.1) / 0.1
        x13 = 2.65 + 0.008 * (temp - 180.0) - 0.3 * (flow - 0.1) / 0.1
        n = 4 if index == 3 else 3
        for k in range(n):
            sid = store.add_spectrum(run_id, seq, condition_id=cid, kind="absorbance", wavelength_nm=WAVELENGTH_NM,
                                     processed=demo_absorbance(peak))
            store.add_analysis(sid, "absorbance", {
                "peak_wavelength_nm": peak, "x13_nm": x13 + (0.5 if (index == 3 and k == 0) else 0.0),
                "sigma_nm": 0.25, "rsd": 0.08, "x13_uncertainty_nm": 0.02, "rsd_uncertainty": 0.005,
                "yield": 0.6 + 0.1 * index, "production_mg_h": 40.0 * flow / 0.1,
                "psd": _psd(x13, spike=index == 1)})
            seq += 1
            sid = store.add_spectrum(run_id, seq, condition_id=cid, kind="pl", wavelength_nm=WAVELENGTH_NM,
                                     processed=np.random.default_rng(seq).normal(0, 1, WAVELENGTH_NM.size))
            store.add_analysis(sid, "pl", {"emission_detected": False, "plqy_upper_limit": 0.004,
                                           "note": "no emission above noise"})
            seq += 1
        if index == 3 and hasattr(store, "supersede_spectra"):  # its first spectra: before an interruption
            store.supersede_spectra(run_id, 3, "taken before the run was interrupted; not averaged")
            for _ in range(3):
                sid = store.add_spectrum(run_id, seq, condition_id=cid, kind="absorbance",
                                         wavelength_nm=WAVELENGTH_NM, processed=demo_absorbance(peak))
                store.add_analysis(sid, "absorbance", {"peak_wavelength_nm": peak, "x13_nm": x13, "sigma_nm": 0.25,
                                                       "rsd": 0.08, "yield": 0.9, "production_mg_h": 80.0,
                                                       "psd": _psd(x13, spike=False)})
                seq += 1
        store.finish_condition(cid)
    store.add_trace_points(run_id, [(t, "pressure_bar", -0.003 + 0.001 * t, "reading") for t in range(5)]
                           + [(t, "core_pump.volume_ml", 2.5 - 0.1 * t, "reading") for t in range(5)])
    store.finish_run(run_id)
    path = write_report(store, run_id, tmp / "out")
    mp.undo()
    yield store, run_id, path.read_text(), calls
    store.close()


def test_item1_no_emission_is_said_not_plotted(sweep):
    _, _, html, calls = sweep
    pl_calls = calls["plot_absorbance_pl"]
    assert len(pl_calls) == 3  # condition 3's PL spectra are all superseded (before its interruption)
    for args, kwargs in pl_calls:
        assert args[1] is None  # no PL curve: the spectra hold noise only
        assert kwargs["pl_note"].startswith("no emission detected") and "PLQY < 0.4 %" in kwargs["pl_note"]
    assert html.count("no emission above the noise") == 6  # caption and image alt text of 3 panels


def test_item2_yield_and_production_in_the_table(sweep):
    store, run_id, html, _ = sweep
    rows = store.results_table(run_id)
    assert [r["conversion"] for r in rows] == pytest.approx([0.6, 0.7, 0.8, 0.9])
    assert [r["production_rate_mg_h"] for r in rows] == pytest.approx([40.0, 80.0, 40.0, 80.0])
    assert "Yield (%)" in html and "Production (mg/h)" in html and "Conversion = chemical yield" in html
    assert "<td>70.0</td>" in html and "Hens" in html


def test_item2_yield_and_production_in_the_csv_export(sweep, tmp_path):
    import csv

    from flowqd.store.export import export_run_csv

    store, run_id, _, _ = sweep
    paths = export_run_csv(store, run_id, tmp_path)
    table = next(p for p in paths if p.name.startswith("conditions"))
    rows = list(csv.DictReader(table.open()))
    assert [float(r["conversion"]) for r in rows] == pytest.approx([0.6, 0.7, 0.8, 0.9])
    assert [float(r["production_rate_mg_h"]) for r in rows] == pytest.approx([40.0, 80.0, 40.0, 80.0])


def test_item3_size_rsd_grouped_by_flow_with_error_bars_and_peak_panel(sweep):
    _, _, _, calls = sweep
    (args, kwargs), = calls["plot_size_rsd"]
    assert list(args[0]) == [180.0, 180.0, 220.0, 220.0]
    assert kwargs["xlabel"].startswith("Core temperature")
    assert kwargs["groups"] == ["0.1 mL/min", "0.2 mL/min", "0.1 mL/min", "0.2 mL/min"]  # one line per flow
    assert kwargs["x13_uncertainty_nm"][:3] == pytest.approx([0.02] * 3)
    assert kwargs["rsd_uncertainty_percent"][:3] == pytest.approx([0.5] * 3)
    assert kwargs["peak_nm"] == pytest.approx([518.0, 478.0, 558.0, 518.0])


def test_item3_figure_draws_one_line_per_group(tmp_path):
    """Drawn for real: two groups → two x1,3 lines, each sorted along x (no zig-zag), plus the peak panel."""
    from matplotlib.figure import Figure

    drawn: list = []
    real_save = figures._save

    def keep(fig, path):
        drawn.append(fig)
        return real_save(fig, path)

    mp = pytest.MonkeyPatch()
    mp.setattr(figures, "_save", keep)
    try:
        out = figures.plot_size_rsd([220.0, 180.0, 220.0, 180.0], [3.0, 2.6, 2.8, 2.3], [9.0, 8.0, 8.5, 12.0],
                                    tmp_path / "c.png", groups=["0.1", "0.1", "0.2", "0.2"],
                                    x13_uncertainty_nm=[0.02] * 4, peak_nm=[556.0, 518.0, 540.0, 475.0])
    finally:
        mp.undo()
    assert out is not None and out.read_bytes()[:4] == b"\x89PNG"
    fig: Figure = drawn[0]
    size_ax, peak_ax = fig.axes[0], fig.axes[1]
    lines = [ln for ln in size_ax.get_lines() if ln.get_marker() == "s"]
    assert len(lines) == 2 and all(list(ln.get_xdata()) == [180.0, 220.0] for ln in lines)
    assert len(peak_ax.get_lines()) == 2


def test_item4_flagged_psd_is_marked(sweep):
    _, _, html, _ = sweep
    assert "⚠ PSD warnings" in html
    assert "mass at the upper grid edge (6.0 nm) (3/3 spectra)" in html
    assert "#1: isolated spike at 1.90 nm (3/3 spectra)" in html
    assert html.count("⚠ 2 warning(s)") == 1  # only condition 1 in the table


def test_item5_superseded_spectra_kept_not_averaged(sweep):
    store, run_id, html, _ = sweep
    row = store.results_table(run_id)[3]
    assert row["n_absorbance"] == 3 and row["n_superseded"] == 8  # 4 absorbance + 4 PL before the interruption
    assert row["x13_nm"] == pytest.approx(2.65 + 0.32 - 0.3)  # the outlier before the interruption is not in it
    assert row["conversion"] == pytest.approx(0.9)
    assert "superseded" in html


def test_item8_labels_traces_and_timestamps(sweep):
    _, _, html, _ = sweep
    assert condition_label({"index": 2, "core_temperature_c": 200.0, "core_flow_ml_min": 0.1, "shell": False}) \
        == "#2 200 °C · 0.1 mL/min"
    assert figures.trace_group("core_pump.volume_ml") == "Syringe volume left (mL)"
    assert figures.trace_group("pressure_bar") == "Pressure, gauge (bar)"
    assert not __import__("re").search(r"\d{2}:\d{2}:\d{2}\.\d+", html)  # no microseconds for people


def test_item8_negative_pressure_is_explained(tmp_path):

    drawn: list = []
    real_save = figures._save
    mp = pytest.MonkeyPatch()
    mp.setattr(figures, "_save", lambda fig, path: (drawn.append(fig), real_save(fig, path))[1])
    try:
        figures.plot_traces({("pressure_bar", "reading"): ([0, 10, 20], [-0.004, 0.002, 0.5])}, tmp_path / "t.png")
    finally:
        mp.undo()
    texts = [t.get_text() for t in drawn[0].axes[0].texts]
    assert any("below 0 bar" in t and "-0.004" in t for t in texts)
    assert drawn[0].axes[0].get_ylim()[0] < 0  # shown as read, not clipped


def test_item8_server_overview_time_without_microseconds():
    from flowqd.server.auth import LOCAL
    from flowqd.server.pages import overview_page

    with Store("sqlite://") as store:
        run = {"id": 1, "name": "x", "status": "completed", "n_conditions": 0, "n_spectra": 0,
               "started_at": datetime(2026, 12, 3, 10, 26, 27, 123456, tzinfo=UTC)}
        store.create_run("x")
        page = overview_page(store, [run], LOCAL, "")
    assert "started 2026-12-03 10:26:27 UTC" in page and "123456" not in page
