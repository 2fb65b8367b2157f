"""Request and error bodies of the HTTP API, and the documented error responses of each route kind."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flowqd.store.auth import DURATION_PATTERN

__all__ = ["MAX_ID", "MAX_TOML_CHARS", "ErrorResponse", "StartFromRun", "StartPackaged", "StartRequest",
           "StartUpload", "TokenRequest", "errors"]

#: Largest id or seq accepted in a path or body (SQL INTEGER; larger numbers are a 422, never a 500).
MAX_ID = 2**31 - 1
#: Largest campaign TOML accepted over HTTP, characters.
MAX_TOML_CHARS = 262_144


class ErrorResponse(BaseModel):
    """Every error: one line of text."""

    detail: str


_TEXT = {400: "malformed request body (not JSON)",
         401: "not authenticated (log in, or send `Authorization: Bearer TOKEN`)",
         403: "authenticated but not allowed (role too low, or a missing CSRF token)", 404: "not found",
         409: "conflict with the engine's state", 422: "invalid request (names the field and the limit)",
         429: "too many heavy requests (twin predictions, reports) at once: retry in a few seconds"}


def errors(*codes: int, html: bool = False) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry documenting ``codes`` with :class:`ErrorResponse` JSON bodies (``html``: for a
    route whose success is an HTML page, the errors are still JSON)."""
    if not html:
        return {c: {"model": ErrorResponse, "description": _TEXT[c]} for c in codes}
    ref = {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
    return {c: {"description": _TEXT[c], "content": {"application/json": ref}} for c in codes}


class _Start(BaseModel):
    model_config = ConfigDict(extra="forbid")

    speed: float = Field(1000.0, ge=0.0, le=1e6, strict=True,
                         description="simulated seconds per real second (0: as fast as possible); the simulated "
                         "platform only")


class StartPackaged(_Start):
    """A packaged example campaign."""

    campaign: Literal["campaign-temperature-series.toml", "campaign-core-shell.toml"]


class StartUpload(_Start):
    """An uploaded campaign file's text (TOML)."""

    campaign_toml: str = Field(min_length=1, max_length=MAX_TOML_CHARS)


class StartFromRun(_Start):
    """The campaign stored with a run."""

    from_run: int = Field(ge=1, le=MAX_ID)


#: Start (or pre-flight) a campaign: exactly one source (the body matches exactly one of the three).
StartRequest = StartPackaged | StartUpload | StartFromRun


class TokenRequest(BaseModel):
    """A new API token."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["viewer", "operator", "admin"]
    name: str = Field("", max_length=100)
    expires: str | None = Field(None, pattern=DURATION_PATTERN,
                                description="lifetime such as 30d, 12h, 90m, 2w (none: never)")
