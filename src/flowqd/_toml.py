"""One way to read and validate a TOML configuration file, and one way to say what is wrong with it.

Every config of flowqd — material, reactor train, recipe, platform, campaign, optimisation campaign, device register
map — is a TOML file validated by a pydantic model whose unknown keys are errors (``extra="forbid"``). This module
is the only place that reads such a file and turns a problem into the one line a person sees:

- :func:`read_text` / :func:`parse` / :func:`read_toml`: a missing file, a folder, or a TOML syntax error is a
  :class:`~flowqd.errors.ConfigError` naming the file (and, for a syntax error, the line and column);
- :func:`validate` / :func:`from_text`: the model, or a ConfigError whose message is :func:`format_errors`;
- :func:`format_errors`: one ``KEY = VALUE: reason`` part per problem, joined by ``"; "``. An unknown key lists the
  allowed keys of its table, with "did you mean" for a near miss and a unit hint where only the unit suffix differs
  (units are part of every key, so ``max_psi`` is an unknown key, never a silently wrong number).

It sits beside :mod:`flowqd.errors`, outside the layers, so the lowest layer (materials) can use it. The HTTP
server and the command line use :func:`format_errors` for their pydantic errors too.

>>> from pydantic import BaseModel, ConfigDict
>>> class Kernel(BaseModel):
...     model_config = ConfigDict(extra="forbid")
...     fit_above_peak_ev: float = 1.0
...     margin_ev: float = 0.3
>>> try:
...     from_text(Kernel, "fit_above_peak_eV = 0.8", "k.toml")
... except ConfigError as exc:
...     print(exc)
k.toml: fit_above_peak_eV = 0.8: unknown key (did you mean fit_above_peak_ev?); allowed: fit_above_peak_ev, margin_ev
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from flowqd.errors import ConfigError

if typing.TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["UNIT_SUFFIXES", "KeysOf", "allowed_keys", "error_lines", "format_errors", "from_text", "parse", "read_text",
           "read_toml", "validate"]

#: Unit suffixes of flowqd's keys: a key that differs from an allowed one only here is a unit mistake.
UNIT_SUFFIXES = ("_c", "_k", "_ml_min", "_ul_min", "_ml", "_ul", "_l", "_bar", "_psi", "_pa", "_kpa", "_mpa", "_s",
                 "_ms", "_min", "_h", "_mm", "_nm", "_um", "_m", "_ev", "_j_k", "_bar_min", "_c_min", "_c_s",
                 "_mol_l", "_mg", "_g", "_g_mol", "_g_cm3", "_cm")

_ModelT = TypeVar("_ModelT", bound="BaseModel")
_TOML_POSITION = re.compile(r"^(?P<msg>.*) \((?P<where>at line \d+, column \d+|at end of document)\)$")
#: pydantic's names of union branches and wrapped validators in an error location (``list[float]``,
#: ``RangeSpec``, ``function-after[...]``): not keys of the file.
_BRANCH = re.compile(r".*\[.*|function-.*|(str|int|float|bool|none|dict|list|tuple)|[A-Z][a-z]+(?:[A-Z][a-z0-9]*)*")


@runtime_checkable
class _HasErrors(Protocol):
    """A pydantic ``ValidationError`` or FastAPI's ``RequestValidationError``."""

    def errors(self) -> Any: ...


# ------------------------------------------------------------------------------------------------------ reading
def read_text(path: str | Path) -> str:
    """The text of a config file; a missing, unreadable or non-text file is a :class:`ConfigError` naming it."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", source=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a TOML file", source=str(path)) from None
    except PermissionError:
        raise ConfigError("permission denied", source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", source=str(path)) from None


def parse(text: str, source: str) -> dict[str, Any]:
    """Parse TOML text; a syntax error is one line naming ``source``, the line and the column.

    >>> parse("a = 1\\nb = = 2", "x.toml")
    Traceback (most recent call last):
    ...
    flowqd.errors.ConfigError: x.toml: not valid TOML at line 2, column 5: invalid value
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POSITION.match(str(exc))
        if m is None:
            where, msg = "", str(exc)
        else:
            where = " at the end of the file" if m["where"] == "at end of document" else f" {m['where']}"
            msg = m["msg"]
        raise ConfigError(f"not valid TOML{where}: {msg[:1].lower() + msg[1:]}", source=source) from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read and parse a TOML file (:func:`read_text` + :func:`parse`)."""
    return parse(read_text(path), str(path))


# ---------------------------------------------------------------------------------------------------- validating
def validate(model: type[_ModelT], data: Any, *, source: str | None = None) -> _ModelT:
    """``model`` validated from ``data``; every problem in one :class:`ConfigError` line (:func:`format_errors`)."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, model), source=source) from None


def from_text(model: type[_ModelT], text: str, source: str) -> _ModelT:
    """``model`` from TOML text (:func:`parse` + :func:`validate`)."""
    return validate(model, parse(text, source), source=source)


# ---------------------------------------------------------------------------------------------------- formatting
class KeysOf:
    """Field metadata naming the model whose keys a free-form table may hold, for the error lines only:
    ``fixed: Annotated[dict[str, Any], KeysOf(ConditionDefaults)]`` (the field's validator checks them)."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model


def allowed_keys(model: type[BaseModel]) -> list[str]:
    """The keys a table of ``model`` may hold: its fields, or what its ``toml_keys()`` classmethod says (a model
    that reads a flat table into nested objects, e.g. a campaign condition holding a set point)."""
    hook: Callable[[], Iterable[str]] | None = getattr(model, "toml_keys", None)
    return sorted(hook() if hook is not None else model.model_fields)


def _models_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field's annotation holds (directly, in a list/tuple/dict/union/Annotated)."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, dict, typing.Annotated):
        args = typing.get_args(annotation)
        for arg in args[1:] if origin is dict else args:
            found = _models_in(arg)
            if found is not None:
                return found
    return None


def _is_dict(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is dict:
        return True
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return any(_is_dict(a) for a in typing.get_args(annotation))
    return False


def _walk(root: type[BaseModel] | None, loc: tuple[Any, ...], *,
          user_key: bool = False) -> tuple[str, type[BaseModel] | None]:
    """The key path of ``loc`` as the file writes it (``conditions[2].core_temperature_c``) and the model of the
    table holding its last part (``None`` when not known). ``user_key``: the last part is a key of the file (an
    unknown one), never one of pydantic's branch names."""
    text = ""
    model, in_dict = root, False
    for i, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        name = str(part)
        if in_dict:  # a key of a dict table (``[sizing_curves.<name>]``)
            in_dict = False
        elif model is not None and name in model.model_fields:
            if i < len(loc) - 1:
                field = model.model_fields[name]
                in_dict = _is_dict(field.annotation)
                model = next((m.model for m in field.metadata if isinstance(m, KeysOf)), _models_in(field.annotation))
        elif (i < len(loc) - 1 or not user_key) and _BRANCH.fullmatch(name):
            continue
        elif i < len(loc) - 1:
            model = None
        text += ("." if text else "") + name
    return text, model


def _unknown_key(key: str, allowed: list[str]) -> str:
    """'unknown key' with a unit hint or the nearest allowed key."""
    parts = key.lower().split("_")
    for cut in range(len(parts) - 1, 0, -1):
        stem = "_".join(parts[:cut])
        if "_" + "_".join(parts[cut:]) not in UNIT_SUFFIXES:
            continue
        for k in allowed:
            if k.startswith(stem + "_") and k[len(stem):] in UNIT_SUFFIXES and k != key.lower():
                return f"unknown key (wrong unit? did you mean {k}: units are part of the key)"
    by_lower = {k.lower(): k for k in allowed}
    near = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.75)
    return f"unknown key (did you mean {by_lower[near[0]]}?)" if near else "unknown key"


def error_lines(errors: Iterable[Mapping[str, Any]], root: type[BaseModel] | None = None, *,
                skip: Iterable[str] = (), values: bool = True) -> list[str]:
    """One ``KEY = VALUE: reason`` line per problem of pydantic's ``errors()``, one line per key.

    ``root`` is the validated model (for the allowed keys of an unknown key's table); location parts in ``skip``
    (``"body"`` of an HTTP request) are left out; ``values=False`` leaves the values out (``KEY: reason``: an HTTP
    answer does not echo what was sent, a password say).
    """
    dropped = set(skip)
    errs = [dict(e) for e in errors]
    walked = [_walk(root, tuple(p for p in e.get("loc", ()) if p not in dropped),
                    user_key=e.get("type") == "extra_forbidden") for e in errs]
    keys = [k for k, _ in walked]
    lines: list[str] = []
    for err, (key, table) in zip(errs, walked, strict=True):
        kind = err.get("type")
        if kind in ("list_type", "model_type", "dict_type", "tuple_type", "model_attributes_type") and any(
                k.startswith((key + ".", key + "[")) for k in keys):
            continue  # the other branch of a union (``list | {start, stop, num}``) explains it better
        value = err.get("input")
        shown = "" if not values or isinstance(value, dict | list | tuple) or value is None else f" = {value!r}"
        loc = tuple(err.get("loc", ()))
        if kind == "extra_forbidden":
            last = str(loc[-1]) if loc else ""
            allowed = allowed_keys(table) if table is not None else []
            msg = _unknown_key(last, allowed) + (f"; allowed: {', '.join(allowed)}" if allowed else "")
        elif kind == "missing":
            noun = getattr(table, "toml_item", None) if table is not None else None
            msg = f"missing {noun} (required)" if noun else "missing (required)"
            shown = ""
        else:
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        lines.append(f"{key}{shown}: {msg}" if key else msg)
    seen: dict[str, str] = {}  # pydantic reports every branch of a union; keep the first line per key
    for line in lines:
        seen.setdefault(line.split(":", 1)[0], line)
    return list(seen.values())


def format_errors(exc: Any, root: type[BaseModel] | None = None, *, skip: Iterable[str] = (),
                  values: bool = True) -> str:
    """A pydantic ``ValidationError`` (or anything with ``errors()``) as one line: :func:`error_lines` joined by
    ``"; "``; any other exception as its message on one line."""
    if not isinstance(exc, _HasErrors):
        return " ".join(str(exc).split())
    return "; ".join(" ".join(line.split()) for line in error_lines(exc.errors(), root, skip=skip, values=values))
