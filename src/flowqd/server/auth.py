"""Authentication and roles of ``flowqd serve``: API tokens (Bearer), browser sessions (cookie + CSRF).

- API clients send ``Authorization: Bearer fqd_…`` (a token from ``flowqd token create``); no cookie, no CSRF.
- Browsers log in on ``/login`` with a token: the server answers with an HttpOnly, ``SameSite=Strict`` session
  cookie (``Secure`` behind HTTPS). Every state-changing request made with the cookie must carry the session's
  CSRF token in ``X-CSRF-Token`` (the pages read it from a ``<meta>`` tag) and, if the browser sends ``Origin``,
  come from this server's origin; otherwise 403.
- Roles: viewer (read) < operator (run control) < admin (tokens). A route asks for the least role it needs by
  the type of its ``who`` parameter (:data:`Viewer`, :data:`Operator`, :data:`Admin`); emergency stop asks only
  for an authenticated caller (:data:`Anyone`). The app's :class:`Authenticator` is ``app.state.auth``.
- ``auth=False`` (``flowqd serve --no-auth``, loopback only) makes every caller the local admin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from flowqd.store.auth import Identity, TokenStore

__all__ = ["COOKIE", "CSRF_HEADER", "LOCAL", "Admin", "Anyone", "AuthConfig", "Authenticator", "Operator", "Viewer"]

COOKIE = "flowqd_session"
CSRF_HEADER = "X-CSRF-Token"
#: The caller when authentication is off (loopback only).
LOCAL = Identity(0, "local", "local user", "admin")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

_bearer = HTTPBearer(auto_error=False, description="an API token: `flowqd token create --role viewer|operator|admin`")
_cookie = APIKeyCookie(name=COOKIE, auto_error=False, description="browser session from POST /login")


@dataclass(frozen=True)
class AuthConfig:
    """``enabled``: tokens required; ``session_lifetime``: how long a browser login lasts."""

    enabled: bool = True
    session_lifetime: timedelta = timedelta(hours=12)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


class Authenticator:
    """The dependencies that routes declare (``Depends(auth.viewer)``, ``auth.operator``, ``auth.admin``,
    ``auth.anyone``) and the session helpers of the login routes."""

    def __init__(self, tokens: TokenStore, config: AuthConfig) -> None:
        self.tokens = tokens
        self.config = config

    def identify(self, request: Request, bearer: HTTPAuthorizationCredentials | None, cookie: str | None
                 ) -> Identity | None:
        """The caller, from the Bearer token or the session cookie (``None``: anonymous or invalid)."""
        if not self.config.enabled:
            return LOCAL
        if bearer is not None:
            return self.tokens.verify(bearer.credentials)
        if cookie:
            return self.tokens.session(cookie)
        return None

    def require(self, request: Request, bearer: HTTPAuthorizationCredentials | None, cookie: str | None,
                role: str) -> Identity:
        """The caller if it has ``role`` (and, for a cookie session's state change, the CSRF token); else
        401 or 403."""
        who = self.identify(request, bearer, cookie)
        if who is None:
            what = "invalid, expired or revoked token" if bearer is not None else (
                "session expired or logged out" if cookie else "not authenticated")
            raise _unauthorized(f"{what}: log in at /login or send Authorization: Bearer TOKEN")
        if bearer is None and who.csrf is not None and request.method not in _SAFE_METHODS:
            self.check_csrf(request, who)
        if not who.allows(role):
            raise HTTPException(403, f"{request.method} {request.url.path} needs the {role} role "
                                     f"(this token: {who.role})")
        return who

    def check_csrf(self, request: Request, who: Identity) -> None:
        """403 unless a cookie-authenticated state change carries the CSRF token and a same-origin ``Origin``."""
        if not self.tokens.csrf_ok(who, request.headers.get(CSRF_HEADER)):
            raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header (reload the page)")
        if not same_origin(request):
            raise HTTPException(403, f"cross-origin request from {request.headers.get('origin')!r} refused")

    def page_identity(self, request: Request) -> Identity | None:
        """The caller of an HTML page (cookie or Bearer); ``None`` when anonymous."""
        if not self.config.enabled:
            return LOCAL
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return self.tokens.verify(header[7:].strip())
        return self.tokens.session(request.cookies.get(COOKIE, ""))


def same_origin(request: Request) -> bool:
    """True when the request has no ``Origin`` header or it names this server (scheme, host and port)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"{request.url.scheme}://{host}",)


def _dependency(role: str) -> Callable[..., Identity]:
    def dependency(request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                   cookie: Annotated[str | None, Depends(_cookie)]) -> Identity:
        return request.app.state.auth.require(request, bearer, cookie, role)

    dependency.__name__ = f"require_{role}"
    return dependency


#: Route parameter types: the caller, who must have at least this role (401/403 otherwise).
Viewer = Annotated[Identity, Depends(_dependency("viewer"))]
Operator = Annotated[Identity, Depends(_dependency("operator"))]
Admin = Annotated[Identity, Depends(_dependency("admin"))]
#: Every authenticated role (emergency stop).
Anyone = Viewer
