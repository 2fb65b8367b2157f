"""API tokens and browser sessions for ``flowqd serve`` (tables ``api_tokens`` and ``web_sessions``).

A token is ``fqd_<key>_<secret>``: ``key`` (8 hex characters) is stored in clear to find the row, ``secret``
(32 random bytes, URL-safe base64) is stored only as an Argon2id hash (argon2-cffi, RFC 9106 parameters). The
secret is shown once, when the token is created; listing shows key, name, role and dates, never a secret. A token
can expire (``expires_at``) and be revoked (``revoked_at``); either ends every browser session made from it.

A browser session (login with a token) is a random 32-byte id in an HttpOnly cookie; the table keeps its SHA-256
only (a random id needs no slow hash), its CSRF token, the token it came from and its expiry.

Argon2 is imported when a token is created or checked (``flowqd[server]`` installs it): the core install does not
need it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from flowqd.errors import FlowqdError
from flowqd.store.models import Base, UTCDateTime, utcnow

__all__ = [
    "DURATION_PATTERN",
    "ROLES",
    "ApiToken",
    "Identity",
    "TokenStore",
    "WebSession",
    "parse_duration",
]

#: Roles, least to most privileged: viewer (read), operator (run control), admin (tokens, platform files).
ROLES: tuple[str, ...] = ("viewer", "operator", "admin")
_TOKEN_RE = re.compile(r"^fqd_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
#: A lifetime: 1-999999 of s, m, h, d or w (the API publishes the same pattern).
DURATION_PATTERN = r"^([1-9][0-9]{0,5})([smhdw])$"
_DURATION_RE = re.compile(DURATION_PATTERN)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ApiToken(Base):
    """An API token: public key, Argon2id hash of the secret, role, dates."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(8), unique=True, index=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebSession(Base):
    """A browser session: SHA-256 of its cookie value, its CSRF token, the token it was made from."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Identity:
    """Who is calling: the token's id, key, name and role; ``csrf`` for a browser session (else ``None``)."""

    token_id: int
    key: str
    name: str
    role: str
    csrf: str | None = None

    @property
    def user(self) -> str:
        """How events name this caller: ``name (key)``."""
        return f"{self.name or 'token'} ({self.key})"

    def allows(self, role: str) -> bool:
        """Whether this identity has ``role`` or a more privileged one."""
        return ROLES.index(self.role) >= ROLES.index(role)


def parse_duration(text: str) -> timedelta:
    """``"30d"``, ``"12h"``, ``"90m"``, ``"2w"``, ``"45s"`` as a :class:`~datetime.timedelta`.

    Examples
    --------
    >>> parse_duration("30d")
    datetime.timedelta(days=30)
    >>> parse_duration("12h").total_seconds()
    43200.0
    """
    m = _DURATION_RE.match(text.strip())
    if m is None:
        raise FlowqdError(f"duration {text!r}: give a positive number and a unit s, m, h, d or w (e.g. 30d)")
    return timedelta(seconds=int(m.group(1)) * _UNIT_S[m.group(2)])


def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:
        raise FlowqdError("tokens need argon2-cffi: pip install 'flowqd[server]'") from exc
    return PasswordHasher()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class TokenStore:
    """Tokens and sessions in a :class:`~flowqd.store.Store`'s database (tables created on first use).

    Examples
    --------
    >>> from flowqd.store import Store
    >>> with Store("sqlite://") as store:
    ...     tokens = TokenStore(store)
    ...     row, secret = tokens.create("operator", name="bench")
    ...     tokens.verify(secret).role, tokens.verify(secret + "x")
    ('operator', None)
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        Base.metadata.create_all(store.engine, tables=[Base.metadata.tables[ApiToken.__tablename__],
                                                        Base.metadata.tables[WebSession.__tablename__]])
        self._verified: dict[str, int] = {}  # sha256(token) -> token id, after one Argon2 check

    # ------------------------------------------------------------------ tokens
    def create(self, role: str, *, name: str = "", expires: timedelta | None = None) -> tuple[ApiToken, str]:
        """A new token with ``role``; returns the row and the secret token text (shown once, never stored)."""
        if role not in ROLES:
            raise FlowqdError(f"role {role!r}: choose one of {', '.join(ROLES)}")
        if len(name) > 100:
            raise FlowqdError(f"token name: {len(name)} characters, at most 100")
        secret = secrets.token_urlsafe(32)
        with self.store._session() as s:
            while True:
                key = secrets.token_hex(4)
                if s.scalar(select(ApiToken.id).where(ApiToken.key == key)) is None:
                    break
            row = ApiToken(key=key, secret_hash=_hasher().hash(secret), name=name, role=role,
                           created_at=utcnow(), expires_at=None if expires is None else utcnow() + expires)
            s.add(row)
            s.flush()
        return row, f"fqd_{key}_{secret}"

    def list(self) -> list[ApiToken]:
        """Every token (revoked and expired ones included), oldest first."""
        with self.store._session() as s:
            return list(s.scalars(select(ApiToken).order_by(ApiToken.id)))

    def get(self, ref: str | int) -> ApiToken:
        """A token by id or key."""
        with self.store._session() as s:
            q = select(ApiToken).where(ApiToken.id == int(ref)) if str(ref).isdigit() and len(str(ref)) < 8 \
                else select(ApiToken).where(ApiToken.key == str(ref))
            row = s.scalar(q)
        if row is None:
            raise FlowqdError(f"no token {ref!r} (give its id or 8-character key; `flowqd token list`)")
        return row

    def revoke(self, ref: str | int) -> ApiToken:
        """Revoke a token (by id or key): it and its browser sessions stop working at once."""
        row = self.get(ref)
        with self.store._session() as s:
            tok = s.get(ApiToken, row.id)
            assert tok is not None
            if tok.revoked_at is None:
                tok.revoked_at = utcnow()
            s.execute(delete(WebSession).where(WebSession.token_id == tok.id))
            row = tok
        self._verified = {k: v for k, v in self._verified.items() if v != row.id}
        return row

    def verify(self, token: str) -> Identity | None:
        """The identity of a valid (well-formed, matching, unexpired, unrevoked) token, else ``None``.

        The Argon2 check runs once per token and process; afterwards the row is still read on every call, so
        expiry and revocation take effect at once.
        """
        m = _TOKEN_RE.match(token)
        if m is None:
            return None
        digest = _sha256(token)
        with self.store._session() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.key == m.group(1)))
            if row is None or not _usable(row):
                return None
            if self._verified.get(digest) != row.id:
                from argon2.exceptions import VerificationError

                try:
                    _hasher().verify(row.secret_hash, m.group(2))
                except VerificationError:
                    return None
                if len(self._verified) > 1000:
                    self._verified.clear()
                self._verified[digest] = row.id
            return Identity(row.id, row.key, row.name, row.role)

    # ------------------------------------------------------------------ browser sessions
    def open_session(self, identity: Identity, lifetime: timedelta) -> tuple[str, str]:
        """A browser session for ``identity``: returns ``(cookie value, csrf token)``. The session ends at
        ``lifetime`` or at the token's expiry, whichever comes first."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.store._session() as s:
            tok = s.get(ApiToken, identity.token_id)
            end = utcnow() + lifetime
            if tok is not None and tok.expires_at is not None:
                end = min(end, tok.expires_at)
            s.add(WebSession(id_sha256=_sha256(sid), csrf=csrf, token_id=identity.token_id, expires_at=end))
        return sid, csrf

    def session(self, sid: str) -> Identity | None:
        """The identity of a live browser session (its token still usable), else ``None``."""
        if not sid or len(sid) > 100:
            return None
        with self.store._session() as s:
            ws = s.scalar(select(WebSession).where(WebSession.id_sha256 == _sha256(sid)))
            if ws is None or ws.expires_at <= utcnow():
                return None
            tok = s.get(ApiToken, ws.token_id)
            if tok is None or not _usable(tok):
                return None
            return Identity(tok.id, tok.key, tok.name, tok.role, csrf=ws.csrf)

    def close_session(self, sid: str) -> None:
        """End a browser session (logout)."""
        with self.store._session() as s:
            s.execute(delete(WebSession).where(WebSession.id_sha256 == _sha256(sid)))

    @staticmethod
    def csrf_ok(identity: Identity, header: str | None) -> bool:
        """Whether ``header`` carries this session's CSRF token (constant-time comparison)."""
        return identity.csrf is not None and header is not None and hmac.compare_digest(identity.csrf, header)


def _usable(row: ApiToken) -> bool:
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > utcnow())
