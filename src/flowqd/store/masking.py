"""Database URLs safe to show: the password replaced by ``***``."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["mask_url"]


def mask_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``; text that is not a URL is returned masked whole.

    Examples
    --------
    >>> mask_url("postgresql+psycopg://lab:s3cret@db.local/flowqd")
    'postgresql+psycopg://lab:***@db.local/flowqd'
    >>> mask_url("sqlite:///flowqd-data/flowqd.sqlite")
    'sqlite:///flowqd-data/flowqd.sqlite'
    """
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "***"
