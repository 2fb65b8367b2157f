"""The self-contained HTML report of a stored run."""

from __future__ import annotations

import re

import pytest
from tests.store_fixtures import populate_demo_run

from flowqd.errors import FlowqdError
from flowqd.report import figures
from flowqd.report.html import find_psd, write_report
from flowqd.store import Store


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    with Store(f"sqlite:///{tmp}/db.sqlite") as store:
        run_id = populate_demo_run(store, temperatures_c=(180.0, 215.0, 250.0), n_spectra=1)
        path = write_report(store, run_id, tmp / "out")
        yield store, run_id, path


def test_written_with_pngs(report):
    _, run_id, path = report
    assert path.name == f"run{run_id}-report.html"
    pngs = sorted(p.name for p in path.parent.glob("*.png"))
    assert pngs == [f"run{run_id}_{k}.png" for k in (
        "fig3a_spectra", "fig3b_psd", "fig3c_size_rsd", "fig4a_abs_pl_3", "fig4b_cie", "traces")]
    for p in path.parent.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_self_contained(report):
    html = report[2].read_text()
    images = re.findall(r"<img [^>]*src='([^']*)'", html)
    assert len(images) == 6 and all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:|//)", html)
    assert "<link" not in html and "<script" not in html


def test_contents(report):
    store, run_id, path = report
    html = path.read_text()
    run = store.get_run(run_id)
    for text in (run.name, run.uuid, run.platform_sha256, run.campaign_sha256, "tripped", "[platform]",
                 "518.0", "590.0", "2.70", "3.40", "7.7", "607.0", "90.0", "30.9", "0.553", "0.441",
                 "interlock.overpressure", "<details>"):
        assert text in html, text
    assert html.count("class='trip'") == 1


def test_minimal_run_without_data(tmp_path):
    with Store(f"sqlite:///{tmp_path}/db.sqlite") as store:
        run_id = store.create_run("empty")
        path = write_report(store, run_id, tmp_path / "out")
    html = path.read_text()
    assert "No conditions recorded" in html and "No events recorded" in html and "<img" not in html


def test_unknown_run(tmp_path):
    with Store(f"sqlite:///{tmp_path}/db.sqlite") as store, pytest.raises(FlowqdError, match="no run with id 7"):
        write_report(store, 7, tmp_path)


def test_psd_lookup_and_empty_figures(tmp_path):
    assert find_psd({"psd": {"diameter_nm": [1, 2, 3], "q3": [0, 1, 0]}})[0].tolist() == [1, 2, 3]
    assert find_psd({"psd": {"diameter_nm": [1, 2], "q3": [0, 1]}}) is None
    assert find_psd({"diameter_nm": [1, 2, 3], "q0": [0, 1, 0]}) is None
    assert figures.plot_spectra({}, tmp_path / "a.png") is None
    assert figures.plot_traces({}, tmp_path / "b.png") is None
    assert figures.plot_size_rsd([1.0], [None], [None], tmp_path / "c.png") is None
