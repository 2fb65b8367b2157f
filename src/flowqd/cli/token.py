"""``flowqd token``: API tokens of the lab console (create, list, revoke); stored hashed in the run database."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape

from flowqd.cli._common import console, print_json, print_table
from flowqd.cli.report import _DB_HELP, _DEFAULT_DB

__all__ = ["register"]

token_app = typer.Typer(help="API tokens for `flowqd serve`: create (secret shown once), list, revoke.",
                        no_args_is_help=True)

DbOption = Annotated[str, typer.Option("--db", envvar="FLOWQD_DB", help=_DB_HELP)]


def _tokens(db: str) -> tuple[Any, Any]:
    from flowqd.store import Store
    from flowqd.store.auth import TokenStore

    store = Store(db)
    return store, TokenStore(store)


def _when(t: datetime | None) -> str:
    return "–" if t is None else t.strftime("%Y-%m-%d %H:%M UTC")


@token_app.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help="viewer (read), operator (run control) or admin (tokens).")],
    name: Annotated[str, typer.Option("--name", help="Who or what uses it (shown in events).")] = "",
    expires: Annotated[str | None, typer.Option("--expires", help="Lifetime: 30d, 12h, 90m, 2w (default: none).")]
    = None,
    db: DbOption = _DEFAULT_DB,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a token; its secret is printed once and stored only as an Argon2id hash."""
    from flowqd.store.auth import parse_duration

    lifetime = None if expires is None else parse_duration(expires)
    store, tokens = _tokens(db)
    with store:
        row, secret = tokens.create(role, name=name, expires=lifetime)
    if json_out:
        print_json({"id": row.id, "key": row.key, "name": row.name, "role": row.role, "token": secret,
                    "expires_at": row.expires_at})
        return
    console.print(escape(f"token {row.key} ({row.role}{', ' + row.name if row.name else ''}), expires "
                         f"{_when(row.expires_at)}:"))
    console.print(secret, highlight=False, soft_wrap=True)
    console.print("[yellow]shown once: copy it now[/] (log in at /login, or send Authorization: Bearer TOKEN)")


@token_app.command("list")
def list_(
    db: DbOption = _DEFAULT_DB,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List tokens (never their secrets)."""
    from flowqd.store.models import utcnow

    store, tokens = _tokens(db)
    with store:
        rows = tokens.list()
    now = utcnow()

    def status(t: Any) -> str:
        if t.revoked_at is not None:
            return "revoked"
        return "expired" if t.expires_at is not None and t.expires_at <= now else "active"

    if json_out:
        print_json([{"id": t.id, "key": t.key, "name": t.name, "role": t.role, "created_at": t.created_at,
                     "expires_at": t.expires_at, "revoked_at": t.revoked_at, "status": status(t)} for t in rows])
        return
    print_table("API tokens", ["id", "key", "name", "role", "created", "expires", "status"],
                [[t.id, t.key, t.name, t.role, _when(t.created_at), _when(t.expires_at), status(t)] for t in rows],
                right=[0], fold=(2,))


@token_app.command("revoke")
def revoke(
    token: Annotated[str, typer.Argument(help="Token id or 8-character key.")],
    db: DbOption = _DEFAULT_DB,
) -> None:
    """Revoke a token: it and its browser sessions stop working at once."""
    store, tokens = _tokens(db)
    with store:
        row = tokens.revoke(token)
    console.print(escape(f"token {row.key} ({row.role}) revoked"))


def register(app: typer.Typer) -> None:
    """Add the ``token`` command group to ``app``."""
    app.add_typer(token_app, name="token")
