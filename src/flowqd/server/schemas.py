"""Request and error bodies of the HTTP API, and the documented error responses of each route kind."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_ID", "MAX_TOML_CHARS", "ErrorResponse", "StartRequest", "TokenRequest", "errors"]

#: Largest id or seq accepted in a path or body (SQL INTEGER; larger numbers are a 422, never a 500).
MAX_ID = 2**31 - 1
#: Largest campaign TOML accepted over HTTP, characters.
MAX_TOML_CHARS = 262_144


class ErrorResponse(BaseModel):
    """Every error: one line of text."""

    detail: str


_TEXT = {400: "bad request", 401: "not authenticated (log in, or send `Authorization: Bearer TOKEN`)",
         403: "authenticated but not allowed (role too low, or a missing CSRF token)", 404: "not found",
         409: "conflict with the engine's state", 422: "invalid request (names the field and the limit)"}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry documenting ``codes`` with :class:`ErrorResponse` bodies."""
    return {c: {"model": ErrorResponse, "description": _TEXT[c]} for c in codes}


class StartRequest(BaseModel):
    """Start (or pre-flight) a campaign: exactly one of ``campaign`` (a packaged example), ``campaign_toml``
    (an uploaded file's text) or ``from_run`` (the campaign stored with a run)."""

    model_config = ConfigDict(extra="forbid")

    campaign: Literal["campaign-temperature-series.toml", "campaign-core-shell.toml"] | None = None
    campaign_toml: str | None = Field(None, max_length=MAX_TOML_CHARS)
    from_run: int | None = Field(None, ge=1, le=MAX_ID)
    speed: float = Field(1000.0, ge=0.0, le=1e6, description="simulated seconds per real second (0: as fast as "
                         "possible); the simulated platform only")


class TokenRequest(BaseModel):
    """A new API token."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["viewer", "operator", "admin"]
    name: str = Field("", max_length=100)
    expires: str | None = Field(None, max_length=12, description="lifetime such as 30d, 12h, 90m (none: never)")
