"""Timestamps for people: UTC to the second (no microseconds, no ``+00:00``). Machines get ISO 8601 from
:mod:`flowqd._json`."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["for_people"]


def for_people(value: datetime | None) -> str:
    """``"2026-12-03 10:26:27 UTC"``; an en dash for ``None``. A naive time is taken as UTC (how the store keeps it).

    >>> for_people(datetime(2026, 12, 3, 10, 26, 27, 123456, tzinfo=UTC))
    '2026-12-03 10:26:27 UTC'
    >>> for_people(None)
    '–'
    """
    if value is None:
        return "–"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")
