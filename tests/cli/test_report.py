"""``flowqd report``, ``flowqd runs`` and ``flowqd export``."""

from __future__ import annotations

import typer

from flowqd.cli._common import run_cli
from flowqd.cli.report import register
from flowqd.store import Store
from tests.store_fixtures import populate_demo_run


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
