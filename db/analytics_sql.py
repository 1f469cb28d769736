"""SQL pieces the analytics share across SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import Session

__all__ = ["epoch"]


def epoch(session: Session, column: Any) -> ColumnElement[Any]:
    """Seconds since 1970 of a stored instant, in SQL (SQLite keeps UTC text)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0
