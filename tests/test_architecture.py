"""The layering of the package (import-linter contracts in pyproject.toml) and a light, fast-starting CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_cli_help_does_not_import_heavy_modules() -> None:
    # `flowqd --help` must start fast: no JAX, SciPy, matplotlib or SQLAlchemy at import time.
    code = (
        "import sys, json; from flowqd.cli import app; "
        "print(json.dumps(sorted(m for m in ('jax', 'scipy', 'matplotlib', 'sqlalchemy', 'colour') "
        "if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == []


def test_every_command_group_registers() -> None:
    from typer.main import get_command

    from flowqd.cli import app

    names = set(get_command(app).commands)  # type: ignore[attr-defined]
    assert {"analyze", "simulate", "twin", "plan", "run", "demo", "stop", "report", "runs", "export",
            "materials", "serve", "optimize", "suggest"} <= names


def test_cli_default_database_is_the_stores() -> None:
    from flowqd.cli.platform import DEFAULT_DB_URL
    from flowqd.store.database import DEFAULT_URL

    assert DEFAULT_DB_URL == DEFAULT_URL


def test_every_subpackage_has_its_test_folder() -> None:
    """docs/design.md § Tests: tests/ has one folder per subpackage of src/flowqd."""
    src = ROOT / "src" / "flowqd"
    subpackages = {p.parent.name for p in src.glob("*/__init__.py")}
    assert len(subpackages) >= 12
    missing = sorted(name for name in subpackages if not (ROOT / "tests" / name).is_dir())
    assert missing == [], f"subpackages without a tests/ folder: {missing}"
