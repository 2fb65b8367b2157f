"""Security of the lab console: token hashing, expiry, revocation, roles, CSRF, trusted hosts, masking, binding."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import bearer

from flowqd.server import LOOPBACK_HOSTS, create_app
from flowqd.store import Store
from flowqd.store.auth import ApiToken, TokenStore, parse_duration
from flowqd.store.database import mask_url

#: POST routes that change nothing (a computation or the login flow) or that every role may call (emergency stop).
NOT_STATE_CHANGING = {"/login", "/logout", "/api/simulate"}
EVERY_ROLE = {"/api/engine/emergency-stop"}
OPEN = {("GET", "/login"), ("POST", "/login"), ("GET", "/api/health")}


@pytest.fixture(scope="module")
def app(demo_db, tmp_path_factory):
    url, _ = demo_db
    return create_app(url, trusted_hosts=["testserver"], state_dir=tmp_path_factory.mktemp("state"))


def concrete(path: str) -> str:
    return path.replace("{run}", "1").replace("{seq}", "0").replace("{key}", "deadbeef")


def routes(app) -> list[tuple[str, str]]:
    """Every (method, path) the application serves, static files aside."""
    out = []

    def walk(items) -> None:
        for r in items:
            path = getattr(r, "path", None)
            if path is None and hasattr(r, "original_router"):  # an included router (FastAPI >= 0.16x)
                walk(r.original_router.routes)
                continue
            if path is None and hasattr(r, "routes"):
                walk(r.routes)
                continue
            if path is None or path.startswith("/static"):
                continue
            out.extend((m, path) for m in sorted(getattr(r, "methods", None) or ()) if m != "HEAD")

    walk(app.routes)
    return out


def test_tokens_are_stored_as_argon2id_hashes_only(demo_db, tmp_path):
    url = f"sqlite:///{tmp_path / 'tok.sqlite'}"
    with Store(url) as store:
        tokens = TokenStore(store)
        row, secret = tokens.create("operator", name="hash check")
        assert re.fullmatch(r"fqd_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", secret)
        stored = tokens.list()[0].secret_hash
        assert stored.startswith("$argon2id$") and secret.split("_", 2)[2] not in stored
        assert tokens.verify(secret).role == "operator"
        assert tokens.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None  # one character off
        assert tokens.verify(f"fqd_{row.key}_" + "x" * 43) is None  # right key, wrong secret
        assert tokens.verify("not a token") is None
    raw = (tmp_path / "tok.sqlite").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("tok.sqlite-*"))
    assert secret.split("_", 2)[2].encode() not in raw  # the secret is nowhere in the database files


def test_token_cli_shows_the_secret_once_and_lists_without_it(tmp_path, capsys):
    import json

    from flowqd.cli import main

    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert main(["token", "create", "--role", "viewer", "--name", "wall screen", "--expires", "30d", "--db", db,
                 "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["token"].startswith(f"fqd_{created['key']}_")
    assert main(["token", "list", "--db", db, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["status"] == "active" and "token" not in listed[0] and created["token"] not in str(listed)
    assert main(["token", "create", "--role", "boss", "--db", db]) == 2
    assert main(["token", "create", "--role", "viewer", "--expires", "soon", "--db", db]) == 2
    assert main(["token", "revoke", created["key"], "--db", db]) == 0
    capsys.readouterr()
    assert main(["token", "list", "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "revoked"


def test_parse_duration():
    assert parse_duration("30d") == timedelta(days=30) and parse_duration("90m") == timedelta(minutes=90)
    for bad in ("0d", "30", "d", "-1h", "1y"):
        with pytest.raises(Exception, match="duration"):
            parse_duration(bad)


def test_expiry_and_revocation_end_tokens_and_their_sessions(app):
    tokens: TokenStore = app.state.tokens
    _, secret = tokens.create("operator", name="short-lived")
    client = TestClient(app)
    assert client.get("/api/runs", headers=bearer(secret)).status_code == 200  # verified (and cached)
    login = client.post("/login", data={"token": secret}, follow_redirects=False)
    assert login.status_code == 303
    assert client.get("/api/runs").status_code == 200  # the session cookie
    with tokens.store._session() as s:  # the token expires now
        s.get(ApiToken, tokens.verify(secret).token_id).expires_at = tokens.list()[0].created_at
    r = client.get("/api/runs", headers=bearer(secret))
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    assert client.get("/api/runs").status_code == 401  # its session too

    _, secret2 = tokens.create("viewer", name="to revoke")
    client2 = TestClient(app)
    client2.post("/login", data={"token": secret2})
    assert client2.get("/api/runs").status_code == 200
    tokens.revoke(secret2.split("_")[1])
    assert client2.get("/api/runs").status_code == 401
    assert client2.get("/api/runs", headers=bearer(secret2)).status_code == 401


def test_login_cookie_and_csrf(app, demo_db):
    _, tok = demo_db
    client = TestClient(app)
    bad = client.post("/login", data={"token": "fqd_00000000_" + "x" * 43}, follow_redirects=False)
    assert bad.status_code == 401 and "invalid" in bad.text
    r = client.post("/login", data={"token": tok["operator"]}, follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert r.status_code == 303 and "httponly" in cookie and "samesite=strict" in cookie
    csrf = re.search(r"name='csrf-token' content='([^']+)'", client.get("/console").text).group(1)
    assert client.post("/api/engine/clear-stop").status_code == 403  # the cookie alone is not enough
    assert client.post("/api/engine/clear-stop", headers={"X-CSRF-Token": "forged"}).status_code == 403
    evil = client.post("/api/engine/clear-stop", headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert evil.status_code == 403 and "cross-origin" in evil.json()["detail"]
    assert client.post("/api/engine/clear-stop", headers={"X-CSRF-Token": csrf}).status_code == 200
    cross_login = client.post("/login", data={"token": tok["operator"]}, headers={"Origin": "http://evil.example"})
    assert cross_login.status_code == 403
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/api/runs").status_code == 401  # logged out


def test_anonymous_gets_401_everywhere_but_login_and_health(app):
    client = TestClient(app)
    checked = 0
    for method, path in routes(app):
        r = client.request(method, concrete(path))
        if (method, path) in OPEN:
            assert r.status_code in (200, 401, 422), (method, path)  # POST /login without a token: 401
            continue
        assert r.status_code == 401, (method, path, r.status_code)
        checked += 1
    assert checked >= 25
    assert client.get("/api/health").status_code == 200 and client.get("/login").status_code == 200
    page = client.get("/console", headers={"Accept": "text/html"})
    assert page.status_code == 401 and "name='token'" in page.text  # a browser gets the login form
    assert client.get("/static/vendor/uplot/uPlot.iife.min.js").status_code == 200  # public library files


def test_viewer_gets_403_from_every_state_changing_route(app, demo_db):
    _, tok = demo_db
    client = TestClient(app, headers=bearer(tok["viewer"]))
    posts = [p for m, p in routes(app) if m in ("POST", "PUT", "PATCH", "DELETE")]
    state_changing = [p for p in posts if p not in NOT_STATE_CHANGING | EVERY_ROLE]
    assert {"/api/runs", "/api/engine/pause", "/api/engine/resume", "/api/engine/stop", "/api/engine/clear-stop",
            "/api/tokens", "/api/tokens/{key}/revoke", "/api/preflight"} <= set(state_changing)
    for path in state_changing:
        r = client.post(concrete(path), json={"campaign": "campaign-temperature-series.toml", "role": "admin"})
        assert r.status_code == 403 and "needs the" in r.json()["detail"], (path, r.status_code)
    operator = TestClient(app, headers=bearer(tok["operator"]))
    assert operator.post("/api/tokens", json={"role": "admin"}).status_code == 403  # tokens are the admin's
    # emergency stop: every authenticated role; it sets the flag every engine reads
    r = client.post("/api/engine/emergency-stop")
    assert r.status_code == 200 and r.json()["emergency_stop"] is True
    assert app.state.slot.stop_file.exists()
    assert operator.post("/api/engine/clear-stop").json()["emergency_stop"] is False


def test_admin_manages_tokens_over_http(app, demo_db):
    _, tok = demo_db
    admin = TestClient(app, headers=bearer(tok["admin"]))
    made = admin.post("/api/tokens", json={"role": "viewer", "name": "screen", "expires": "12h"})
    assert made.status_code == 201 and made.json()["token"].startswith("fqd_")
    listed = admin.get("/api/tokens").json()
    assert all("token" not in t and "secret_hash" not in t for t in listed)
    assert TestClient(app).get("/api/runs", headers=bearer(made.json()["token"])).status_code == 200
    assert admin.post(f"/api/tokens/{made.json()['key']}/revoke").json()["revoked_at"] is not None
    assert TestClient(app).get("/api/runs", headers=bearer(made.json()["token"])).status_code == 401
    assert admin.post("/api/tokens/00000000/revoke").status_code == 404
    assert admin.post("/api/tokens", json={"role": "viewer", "expires": "forever"}).status_code == 422


def test_untrusted_host_headers_are_refused(demo_db, tmp_path):
    url, tok = demo_db
    app = create_app(url, state_dir=tmp_path)  # loopback defaults
    client = TestClient(app, base_url="http://localhost:8000")
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/health", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    for host in ("evil.example", "evil.example:8000", "192.168.1.20"):
        r = client.get("/api/runs", headers={"Host": host, **bearer(tok["viewer"])})
        assert r.status_code == 400, host


def test_database_passwords_are_masked(app, demo_db):
    _, tok = demo_db
    assert mask_url("postgresql+psycopg://lab:s3cret@db.local:5432/flowqd") == \
        "postgresql+psycopg://lab:***@db.local:5432/flowqd"
    store = app.state.store
    real = store.url
    store.url = "postgresql+psycopg://lab:s3cret@db.local/flowqd"  # as a PostgreSQL-backed server would show it
    try:
        client = TestClient(app, headers=bearer(tok["viewer"]))
        for path in ("/api/health", "/", "/console", "/api/runs"):
            text = client.get(path).text
            assert "s3cret" not in text, path
        assert "lab:***@db.local" in client.get("/api/health").json()["database"]
    finally:
        store.url = real


def test_non_loopback_bind_needs_auth_and_trusted_hosts(tmp_path):
    from flowqd.cli import main
    from flowqd.cli.serve import LOOPBACK_HOSTS as CLI_LOOPBACK
    from flowqd.cli.serve import check_bind, is_loopback

    assert CLI_LOOPBACK == LOOPBACK_HOSTS
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5") and not is_loopback("lab-pc")
    db = f"sqlite:///{tmp_path / 'absent.sqlite'}"
    assert main(["serve", "--host", "0.0.0.0", "--no-auth", "--trusted-host", "lab-pc", "--db", db]) == 2
    assert main(["serve", "--host", "0.0.0.0", "--db", db]) == 2
    assert main(["serve", "--host", "0.0.0.0", "--trusted-host", "*", "--db", db]) == 2
    assert check_bind("0.0.0.0", auth=True, trusted_hosts=["lab-pc.local"])[-1] == "lab-pc.local"
    assert set(check_bind("127.0.0.1", auth=False, trusted_hosts=[])) == set(LOOPBACK_HOSTS)


def test_odd_run_references_are_404_not_500(app, demo_db):
    """Found by the schema fuzz: '²' passes str.isdigit() but is no int; a 30-digit id overflows SQL INTEGER."""
    _, tok = demo_db
    client = TestClient(app, headers=bearer(tok["viewer"]))
    for ref in ("%C2%B2", "9" * 30, "٣"):
        assert client.get(f"/api/runs/{ref}/results").status_code == 404, ref
