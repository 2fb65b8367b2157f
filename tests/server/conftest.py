"""Shared fixtures of the server tests: a database with a synthetic run and one token per role."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.store_fixtures import populate_demo_run

from flowqd.store import Store
from flowqd.store.auth import TokenStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def make_tokens(url: str) -> dict[str, str]:
    """One token per role in the database at ``url``."""
    with Store(url) as store:
        tokens = TokenStore(store)
        return {role: tokens.create(role, name=f"{role} of the tests")[1] for role in ("viewer", "operator", "admin")}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def surrogate_platform(folder: Path) -> Path:
    """The paper's platform with the fast surrogate twin behind the simulated devices (for engine tests)."""
    text = (EXAMPLES / "platform-wang-segets-2023.toml").read_text()
    assert 'twin = "default"' in text
    path = folder / "platform-surrogate.toml"
    path.write_text(text.replace('twin = "default"', 'twin = "surrogate"'))
    return path


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> tuple[str, dict[str, str]]:
    """A database with the synthetic demo run, and tokens for it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('srv') / 'runs.sqlite'}"
    with Store(url) as store:
        populate_demo_run(store)
    return url, make_tokens(url)
