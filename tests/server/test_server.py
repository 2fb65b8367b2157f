"""The HTTP API (`flowqd serve`) against a synthetic run and the live twin."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import bearer, make_tokens
from tests.store_fixtures import populate_demo_run

from flowqd.server import create_app
from flowqd.store import Store


@pytest.fixture(scope="module")
def client(demo_db, tmp_path_factory):
    url, tokens = demo_db
    with Store(url) as store:
        uuid = store.list_runs()[0].uuid
    app = create_app(url, trusted_hosts=["testserver"], state_dir=tmp_path_factory.mktemp("state"))
    with TestClient(app, headers=bearer(tokens["viewer"])) as c:
        c.run_uuid = uuid  # type: ignore[attr-defined]
        yield c


def test_runs_results_and_provenance(client):
    assert client.get("/api/health").json()["status"] == "ok"
    schema = client.get("/openapi.json").json()  # what /docs renders
    body = schema["components"]["schemas"]["SimulateRequest"]["properties"]
    assert {"core_temperature_c", "core_flow_ml_min", "shell", "bands"} <= set(body)
    runs = client.get("/api/runs").json()
    assert len(runs) == 1 and runs[0]["n_conditions"] == 5 and runs[0]["n_spectra"] > 0
    detail = client.get(f"/api/runs/{client.run_uuid[:8]}").json()  # a UUID prefix resolves like the CLI
    assert detail["id"] == runs[0]["id"] and len(detail["platform_sha256"]) == 64
    rows = client.get("/api/runs/1/results").json()
    peaks = [r["peak_nm"] for r in rows[:4]]  # the fixture's temperature series, 180 → 250 °C
    assert round(peaks[0]) == 518 and round(peaks[-1]) == 590 and peaks == sorted(peaks)
    shell = rows[-1]
    assert shell["plqy"] == pytest.approx(0.309) and shell["pl_peak_nm"] == pytest.approx(607.0)


def test_spectra_traces_events_and_report(client):
    meta = client.get("/api/runs/1/spectra", params={"kind": "absorbance"}).json()
    assert meta and {m["kind"] for m in meta} == {"absorbance"}
    one = client.get(f"/api/runs/1/spectra/{meta[0]['seq']}").json()
    assert len(one["wavelength_nm"]) == len(one["values"]) == meta[0]["n_points"]
    assert one["analyses"] and "peak_wavelength_nm" in one["analyses"][0]["payload"]
    traces = client.get("/api/runs/1/traces").json()
    assert "hb1.temperature_c" in traces and len(traces["hb1.temperature_c"]["t_s"]) > 10
    assert any(e["level"] in ("error", "critical") for e in client.get("/api/runs/1/events").json())  # the trip
    html = client.get("/runs/1/report")
    assert html.status_code == 200 and "<html" in html.text.lower() and "data:image/png;base64" in html.text
    page = client.get("/")
    assert "demo temperature series" in page.text and "/console?run=1" in page.text
    assert not any(c.isdigit() for c in page.text.split("started ")[1].split(" UTC")[0][-7:].split(":")[-1][2:])


def test_errors_are_one_line_json(client):
    r = client.get("/api/runs/99/results")
    assert r.status_code == 404 and "no run '99'" in r.json()["detail"]
    r = client.get("/api/runs/1/spectra/100000")
    assert r.status_code == 404 and "seq 100000" in r.json()["detail"]
    r = client.get("/api/runs/1/traces", params={"channel": "nope"})
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    r = client.post("/api/simulate", json={"core_temperature_c": 400, "core_flow_ml_min": 0.1})
    assert r.status_code == 422  # the field and the limit, from the published schema bound
    assert r.json()["detail"] == "core_temperature_c: Input should be less than or equal to 350"
    r = client.post("/api/simulate", json={"core_temperature_c": 200, "core_flow_ml_min": 0.1, "colour": "red"})
    assert r.status_code == 422 and "colour" in r.json()["detail"]


def test_simulate_equals_the_twin(client):
    from flowqd.twin import Conditions, Twin

    got = client.post("/api/simulate", json={"core_temperature_c": 200, "core_flow_ml_min": 0.1}).json()
    ref = Twin.default().predict(Conditions(200.0, 0.1), bands=False)
    assert got["peak_wavelength_nm"] == pytest.approx(ref.peak_wavelength_nm, abs=1e-9)
    assert got["x13_nm"] == pytest.approx(ref.x13_nm, abs=1e-12)
    assert got["residence_time_min"] == pytest.approx(35.9, abs=0.1)


def test_heavy_requests_beyond_the_bound_get_429(client):
    from flowqd.server import MAX_HEAVY_REQUESTS

    sem = client.app.state.heavy
    for _ in range(MAX_HEAVY_REQUESTS):  # as if that many predictions/reports were running
        assert sem.acquire(blocking=False)
    try:
        r = client.post("/api/simulate", json={"core_temperature_c": 200, "core_flow_ml_min": 0.1})
        assert r.status_code == 429 and "retry" in r.json()["detail"]
        assert client.get(f"/runs/{client.run_uuid}/report").status_code == 429
    finally:
        for _ in range(MAX_HEAVY_REQUESTS):
            sem.release()
    assert client.post("/api/simulate", json={"core_temperature_c": 200, "core_flow_ml_min": 0.1}).status_code == 200


def test_missing_database_is_an_error(tmp_path):
    from flowqd.errors import FlowqdError

    with pytest.raises(FlowqdError, match=r"no flowqd database at .*absent\.sqlite"):
        create_app(f"sqlite:///{tmp_path / 'absent.sqlite'}")


def test_flowqd_serve_end_to_end(tmp_path):
    """`flowqd serve` in its own process answers over real HTTP; a missing database is one red line, exit 2."""
    import json
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from flowqd.cli import main

    assert main(["serve", "--db", f"sqlite:///{tmp_path / 'absent.sqlite'}"]) == 2
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    with Store(url) as store:
        populate_demo_run(store, shell=False, trip=False)
    token = make_tokens(url)["viewer"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from flowqd.cli import main; sys.exit(main())",
                             "serve", "--db", url, "--port", str(port), "--state-dir", str(tmp_path / "state")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/runs", headers=bearer(token))
                with urllib.request.urlopen(req, timeout=2) as r:
                    runs = json.loads(r.read())
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "server did not answer within 30 s"
                time.sleep(0.2)
        assert [r["name"] for r in runs] == ["demo temperature series"]
    finally:
        proc.terminate()
        proc.wait(10)
