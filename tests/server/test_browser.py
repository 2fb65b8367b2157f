"""The lab console in a real browser (Playwright driving Debian's chromium by path; no browser download).

One operator session logs in, pre-flights and starts the example campaign as fast as the simulation goes, sees
the spectrum and trace plots update, pauses, continues and stops it; a viewer sees the same page without the
control panel and gets 403 from a state change; a spectrum stored while a page is open is drawn (latency printed).
Screenshots go to ``$FLOWQD_SCREENSHOTS`` (default: ``screenshots/`` in pytest's temporary folder).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from tests.server.conftest import make_tokens, surrogate_platform

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)", allow_module_level=True)
from playwright import sync_api  # noqa: E402  (the test extra; CI installs it)

from flowqd.server import create_app  # noqa: E402
from flowqd.store import Store  # noqa: E402

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


class LiveServer:
    """uvicorn serving ``app`` on a free loopback port in a thread."""

    def __init__(self, app) -> None:
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        end = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < end, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("FLOWQD_SCREENSHOTS") or tmp_path_factory.getbasetemp() / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def login(page, base: str, token: str) -> None:
    page.goto(f"{base}/console")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console")


@pytest.mark.slow
def test_operator_runs_a_campaign_and_viewer_watches(tmp_path, shots):
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    Store(url).close()
    tok = make_tokens(url)
    app = create_app(url, trusted_hosts=["127.0.0.1"], state_dir=tmp_path / "state",
                     platform=surrogate_platform(tmp_path))
    store = app.state.store
    with LiveServer(app) as srv, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1700})
            login(page, srv.url, tok["operator"])
            page.fill("#speed", "1000")  # finite: at full speed the run can finish between pause and resume
            page.click("#preflight")
            sync_api.expect(page.locator("#preflight-out")).to_contain_text("pre-flight OK", timeout=30_000)
            page.click("#start")
            # the first absorbance spectrum is plotted (spectrum, fit, PSD), traces are drawn and keep coming
            page.wait_for_function("window.flowqd.plotted.absorbance !== undefined", timeout=120_000)
            run_id = page.evaluate("window.flowqd.runId")
            assert page.locator("#plot-abs canvas").count() == 1 and page.locator("#plot-temp canvas").count() == 1
            assert page.locator("#plot-psd canvas").count() == 1
            n = page.evaluate("window.flowqd.updates")
            page.wait_for_function(f"window.flowqd.updates > {n + 3}", timeout=30_000)
            page.wait_for_function("window.flowqd.plotted.absorbance.seq >= 2", timeout=60_000)  # a second one
            sync_api.expect(page.locator("#run-status")).to_have_text("running")
            page.screenshot(path=str(shots / "console-operator-running.png"), full_page=True)

            page.click("#pause")
            sync_api.expect(page.locator("#run-status")).to_have_text("paused", timeout=30_000)
            sync_api.expect(page.locator("#eta")).to_contain_text("PAUSED")
            page.screenshot(path=str(shots / "console-operator-paused.png"), full_page=True)
            page.click("#resume")
            sync_api.expect(page.locator("#run-status")).to_have_text("running", timeout=30_000)
            page.click("#stop")
            sync_api.expect(page.locator("#run-status")).to_have_text("tripped", timeout=30_000)
            sync_api.expect(page.locator("#interlock")).to_contain_text("emergency_stop")
            page.screenshot(path=str(shots / "console-operator-stopped.png"), full_page=True)
            kinds = [e.kind for e in store.events(run_id)]
            for kind in ("console.start", "console.pause", "run.paused", "console.resume", "run.continued",
                         "console.stop"):
                assert kind in kinds, kind

            # a viewer: the same page without controls, 403 on a state change, the e-stop button present
            viewer = browser.new_page(viewport={"width": 1400, "height": 1200})
            login(viewer, srv.url, tok["viewer"])
            viewer.goto(f"{srv.url}/console?run={run_id}")
            viewer.wait_for_function("window.flowqd.plotted.absorbance !== undefined", timeout=30_000)
            assert viewer.locator("#controls").count() == 0 and viewer.locator("#start").count() == 0
            assert viewer.locator("#estop").is_visible()
            status = viewer.evaluate("""async () => (await fetch('/api/engine/pause', {method: 'POST',
                headers: {'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}})).status""")
            assert status == 403

            # latency: a spectrum committed to the store → drawn in the open page
            last = store.spectra(run_id, kind="absorbance")[-1]
            payload = store.analyses(run_id, spectrum_id=last.id)[0].payload
            seq = store.next_seq(run_id)
            t0 = time.time()
            store.add_spectrum(run_id, seq, kind="absorbance", condition_id=last.condition_id, t_s=(last.t_s or 0) + 60,
                               wavelength_nm=last.processed_wavelength_nm, processed=last.processed)
            store.add_analysis(store.spectra(run_id, seq=seq)[0].id, "absorbance", payload)
            viewer.wait_for_function(f"window.flowqd.plotted.absorbance.seq === {seq}", timeout=10_000)
            latency_s = viewer.evaluate("window.flowqd.plotted.absorbance.at") / 1000 - t0
            print(f"store → browser plot latency: {latency_s * 1000:.0f} ms")
            viewer.screenshot(path=str(shots / "console-viewer.png"), full_page=True)
            docs = browser.new_page()
            login(docs, srv.url, tok["viewer"])
            docs.goto(f"{srv.url}/docs")
            docs.wait_for_selector(".opblock", timeout=30_000)  # Swagger UI rendered from the vendored bundle
            docs.screenshot(path=str(shots / "docs.png"))
        finally:
            app.state.slot.emergency_stop("test cleanup")
            app.state.slot.wait(30)
            browser.close()
    assert (shots / "console-operator-running.png").stat().st_size > 20_000
