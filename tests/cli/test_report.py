"""``flowqd report``, ``flowqd runs`` and ``flowqd export``."""

from __future__ import annotations

import typer
from tests.store_fixtures import populate_demo_run

from flowqd.cli._common import run_cli
from flowqd.cli.report import register
from flowqd.store import Store


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _db(tmp_path) -> tuple[str, int]:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    with Store(url) as store:
        run_id = populate_demo_run(store, temperatures_c=(180.0, 250.0), n_spectra=1, shell=False)
    return url, run_id


def test_runs_report_export(tmp_path, capsys):
    url, run_id = _db(tmp_path)
    app = _app()
    assert run_cli(app, ["runs", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "demo" in out and "tripped" in out
    assert run_cli(app, ["report", str(run_id), "--db", url, "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / f"run{run_id}-report.html").exists()
    for fmt, pattern in (("csv", "*.csv"), ("jcamp", "*.jdx"), ("parquet", "*.parquet")):
        out = tmp_path / fmt
        assert run_cli(app, ["export", str(run_id), "--format", fmt, "--db", url, "--out", str(out)]) == 0
        assert list(out.glob(pattern))


def test_env_var_and_uuid(tmp_path, monkeypatch, capsys):
    url, run_id = _db(tmp_path)
    monkeypatch.setenv("FLOWQD_DB", url)
    with Store(url) as store:
        uuid = store.get_run(run_id).uuid
    assert run_cli(_app(), ["export", uuid[:8], "--out", str(tmp_path / "x")]) == 0


def test_errors_are_one_line(tmp_path, capsys):
    url, _ = _db(tmp_path)
    app = _app()
    assert run_cli(app, ["report", "999", "--db", url, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no run '999'" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert run_cli(app, ["export", "1", "--format", "xlsx", "--db", url]) == 2
    assert "unknown export format" in capsys.readouterr().err
    missing = f"sqlite:///{tmp_path}/missing.sqlite"
    assert run_cli(app, ["runs", "--db", missing]) == 2
    assert "no flowqd database" in capsys.readouterr().err
    assert not (tmp_path / "missing.sqlite").exists()


def test_report_defaults_to_the_demo_folder_beside_the_database(tmp_path, capsys):
    """Without --out the report goes to report/ next to a SQLite database (flowqd-data/report, like the demo)."""
    from pathlib import Path

    from flowqd.cli.platform import DEFAULT_DB_URL, DEFAULT_REPORT_DIR, default_report_dir

    assert default_report_dir(DEFAULT_DB_URL) == DEFAULT_REPORT_DIR == Path("flowqd-data") / "report"
    assert default_report_dir("postgresql+psycopg://u@h/db") == DEFAULT_REPORT_DIR
    assert default_report_dir("sqlite://") == DEFAULT_REPORT_DIR
    data = tmp_path / "flowqd-data"
    data.mkdir()
    url = f"sqlite:///{data}/flowqd.sqlite"
    with Store(url) as store:
        run_id = populate_demo_run(store, temperatures_c=(180.0, 250.0), n_spectra=1, shell=False)
    assert run_cli(_app(), ["report", str(run_id), "--db", url]) == 0
    html_path = data / "report" / f"run{run_id}-report.html"
    assert html_path.exists()
    assert str(html_path) in "".join(capsys.readouterr().out.split())  # the path is printed (rich may wrap it)
    text = html_path.read_text()
    assert "τ (min)" in text and "τ (s)" not in text
