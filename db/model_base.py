"""The declarative base every model shares: one metadata, the column types for datetimes
(always UTC), money (exact decimals) and JSON documents."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import JSON, Table
from sqlalchemy.orm import DeclarativeBase

from db.types import ExactDecimal, UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), Decimal: ExactDecimal(), dict[str, Any]: JSON}


def table(model: type[Base]) -> Table:
    """The Core table behind a model, for statements where the ORM's per-call cost shows
    (a decision's writes, exports): typed as a Table, which ``__table__`` is not."""
    return cast(Table, model.__table__)
