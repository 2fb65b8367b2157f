"""What every config model of the platform shares: strict validation and the file it came from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, PrivateAttr

__all__ = ["STRICT", "FromToml"]

#: Every model: unknown keys are errors, values are type-strict (``true`` is not a flow, ``"350"`` is not a
#: number; an integer is accepted for a float) and finite (``nan``/``inf`` are refused). Lists of the TOML file
#: become tuples where a field is a tuple (``Field(strict=False)`` on those fields only).
STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class FromToml(BaseModel):
    """Base of the TOML-backed configs: remembers the file and its text (provenance for the store)."""

    _source: str = PrivateAttr("<toml>")
    _text: str = PrivateAttr("")

    @property
    def source(self) -> str:
        """The file it was read from."""
        return self._source

    @property
    def text(self) -> str:
        """The TOML text it was read from (provenance)."""
        return self._text

    def remember(self, source: str, text: str) -> None:
        """Record the file and text it was read from (the loaders call this once, after validation)."""
        self._source = source
        self._text = text

