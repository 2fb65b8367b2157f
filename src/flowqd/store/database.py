"""Engine creation for the run database: SQLite (default, WAL) or PostgreSQL by URL.

Every SQLite connection gets, in this order, ``busy_timeout`` (before WAL, so a locked file waits instead of
failing), ``journal_mode=WAL``, ``synchronous`` (NORMAL by default: a committed transaction survives a crash of the
process, ``kill -9`` included; only an OS crash or power loss can lose the last commits — use ``"FULL"`` where that
matters) and ``foreign_keys=ON``. ``:memory:`` databases cannot use WAL and keep the default journal.
"""

from __future__ import annotations

import errno
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from flowqd.errors import ConfigError, FlowqdError, StorageError

__all__ = ["DEFAULT_URL", "SYNCHRONOUS_MODES", "engine_options", "make_engine", "mask_url", "parse_url",
           "sqlite_path", "storage_error"]

#: Where runs are stored when no URL is given (relative to the working directory).
DEFAULT_URL = "sqlite:///flowqd-data/flowqd.sqlite"
SYNCHRONOUS_MODES: tuple[str, ...] = ("OFF", "NORMAL", "FULL", "EXTRA")
BUSY_TIMEOUT_MS = 10_000


def parse_url(url: str | URL) -> URL:
    """Parse a database URL; only SQLite and PostgreSQL back ends are accepted.

    Examples
    --------
    >>> parse_url("sqlite:///runs/flowqd.sqlite").database
    'runs/flowqd.sqlite'
    >>> parse_url("postgresql+psycopg://lab@db.local/flowqd").get_backend_name()
    'postgresql'
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        raise ConfigError(f"not a database URL: {mask_url(str(url))!r} (expected sqlite:///PATH or "
                          "postgresql+psycopg://...)") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"unsupported database back end {backend!r} in {mask_url(parsed)!r} (use sqlite or "
                          "postgresql)")
    return parsed


def mask_url(url: str | URL) -> str:
    """``url`` with its password replaced by ``***`` — the only form in which a database URL is ever shown.

    A text that is not a URL is returned with anything between ``://USER:`` and ``@`` masked.

    Examples
    --------
    >>> mask_url("postgresql+psycopg://lab:s3cret@db.local:5432/flowqd")
    'postgresql+psycopg://lab:***@db.local:5432/flowqd'
    >>> mask_url("sqlite:///runs/flowqd.sqlite")
    'sqlite:///runs/flowqd.sqlite'
    >>> mask_url("postgresql://lab:p@ss@x/db")
    'postgresql://lab:***@x/db'
    """
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    import re

    text = str(url)
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError):
        parsed = None
    if parsed is not None and parsed.password is not None and "@" not in str(parsed.host or ""):
        masked = parsed.render_as_string(hide_password=True)
        if str(parsed.password) not in masked:
            return masked
    # not parseable, or an '@' inside the password: mask up to the last '@' of the authority
    return re.sub(r"(://[^:/@]*:)[^/]*@", r"\1***@", text)


#: SQLite / PostgreSQL / OS messages → the cause shown to the operator.
_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("disk is full", "no space left", "could not extend file", "diskfull", "disk full"), "disk full"),
    (("readonly database", "read-only", "read only", "permission denied"), "read-only (no write permission)"),
    (("unable to open database file",), "cannot open the file (folder missing or read-only?)"),
    (("disk i/o error",), "disk I/O error"),
    (("connection", "could not connect", "server closed", "terminating"), "database server unreachable"),
)


def storage_error(exc: BaseException, url: str | URL) -> StorageError:
    """A one-line :class:`StorageError` for a failed database operation: the masked URL and the cause.

    >>> str(storage_error(OSError(28, "No space left on device"), "sqlite:///x.sqlite"))
    'database sqlite:///x.sqlite: disk full (No space left on device)'
    """
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, OSError) and orig.strerror:
        detail = orig.strerror
    else:
        detail = " ".join(str(orig).split()) or type(orig).__name__
    low = detail.lower()
    if isinstance(orig, OSError) and orig.errno in (errno.ENOSPC, errno.EDQUOT):
        cause = "disk full"
    elif isinstance(orig, OSError) and orig.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        cause = "read-only (no write permission)"
    else:
        cause = next((c for keys, c in _CAUSES if any(k in low for k in keys)), "storage error")
    # a driver message may quote the URL or a connection string: never let a password through
    detail = mask_url(detail) if "://" in detail else detail
    if cause.startswith(("cannot open", "database server unreachable")):
        return StorageError(f"cannot open the database: {mask_url(url)}: {cause} ({detail[:200]})")
    return StorageError(f"database {mask_url(url)}: {cause} ({detail[:200]})")


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, or ``None`` for in-memory databases and other back ends."""
    if url.get_backend_name() != "sqlite":
        return None
    db = url.database or ""
    if db in ("", ":memory:") or db.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(db)


def engine_options(url: URL) -> dict[str, Any]:
    """Keyword arguments for :func:`sqlalchemy.create_engine` for this back end.

    Examples
    --------
    >>> engine_options(parse_url("postgresql+psycopg://lab@db/flowqd"))["pool_pre_ping"]
    True
    >>> engine_options(parse_url("sqlite://"))["poolclass"].__name__
    'StaticPool'
    """
    if url.get_backend_name() == "sqlite":
        options: dict[str, Any] = {"connect_args": {"timeout": BUSY_TIMEOUT_MS / 1000}}
        if sqlite_path(url) is None:
            # One shared connection, or every connection would see its own empty in-memory database.
            options["poolclass"] = StaticPool
            options["connect_args"]["check_same_thread"] = False
        return options
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL (persistent), retrying while another connection holds the lock.

    Changing the journal mode needs an exclusive lock and SQLite answers ``database is locked`` at once, without
    the busy handler, when another connection (a second process opening the same new file) holds one. WAL is a
    property of the file, so once any connection has switched it the others only read ``wal`` back.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay_s = 0.005
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay_s)
            delay_s = min(2 * delay_s, 0.2)


def _install_sqlite_pragmas(engine: Engine, *, wal: bool, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if wal:
                _enable_wal(cursor)
            cursor.execute(f"PRAGMA synchronous = {synchronous}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()


def make_engine(url: str | URL, *, synchronous: str = "NORMAL", create: bool = True, echo: bool = False) -> Engine:
    """Create the engine for ``url``; SQLite files get their parent directory and the PRAGMAs above.

    Parameters
    ----------
    url : str or URL
        ``sqlite:///PATH`` (relative to the working directory), ``sqlite://`` (in memory) or
        ``postgresql+psycopg://USER@HOST/DB``.
    synchronous : {"NORMAL", "FULL", "OFF", "EXTRA"}
        SQLite ``synchronous`` PRAGMA.
    create : bool
        If false, a missing SQLite file is an error instead of a new empty database.
    echo : bool
        Log SQL statements.
    """
    parsed = parse_url(url)
    sync = synchronous.upper()
    if sync not in SYNCHRONOUS_MODES:
        raise ConfigError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)} (got {synchronous!r})")
    path = sqlite_path(parsed)
    if path is not None:
        if not path.exists():
            if not create:
                raise FlowqdError(f"no flowqd database at {path}")
            path.parent.mkdir(parents=True, exist_ok=True)
        elif path.is_dir():
            raise FlowqdError(f"{path} is a directory, not a database file")
    try:
        engine = create_engine(parsed, echo=echo, **engine_options(parsed))
    except ImportError as exc:  # ModuleNotFoundError, or a driver blocked/broken at import
        raise ConfigError(
            f"the database driver for {parsed.drivername!r} is not installed ({exc.name or exc}); "
            "for PostgreSQL: pip install 'flowqd[postgres]'"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        _install_sqlite_pragmas(engine, wal=path is not None, synchronous=sync)
    return engine
