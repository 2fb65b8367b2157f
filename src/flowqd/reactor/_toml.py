"""TOML reading and pydantic-error translation shared by the reactor's config and recipe loaders."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from flowqd.errors import ConfigError

__all__ = ["read_toml", "validation_message"]


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file is a :class:`ConfigError` naming it."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError("file not found", source=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML ({exc})", source=str(path)) from exc


def validation_message(exc: Exception) -> str:
    """One line 'key.path: message (got value)' per pydantic error, joined by '; '."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return " ".join(str(exc).split())
    parts = []
    for err in errors():
        loc = ".".join(str(x) for x in err.get("loc", ()))
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        parts.append(f"{loc}: {msg}{shown}" if loc else f"{msg}{shown}")
    return "; ".join(parts)
