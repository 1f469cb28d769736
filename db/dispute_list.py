"""The dispute list: its filters, its search, its orders and its keyset pages — the query
behind ``GET /api/v1/disputes`` and the list page."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, or_, select
from sqlalchemy.orm import Session

from db.models import Account, Dispute
from domain.money import MINOR_UNITS

__all__ = ["SORTS", "ListFilter", "decode_cursor", "encode_cursor", "list_views", "text_match"]


@dataclass
class ListFilter:
    """``min_amount``/``max_amount`` (inclusive) bound the disputed amount in each dispute's
    own currency: 100 matches 100.00 USD and 100 JPY alike (no FX conversion). Pass
    ``account_id`` (one currency per account) when one currency is meant."""

    status: str | None = None
    account_id: str | None = None
    breached: bool | None = None
    reason_code: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    root_cause: str | None = None
    opened_from: datetime | None = None  # inclusive
    opened_to: datetime | None = None  # exclusive
    open_at: datetime | None = None  # opened before it and not closed by then
    text: str | None = None  # dispute id, invoice or account (prefix), account name, words


def _minor_bound(bound: Decimal, *, lower: bool) -> ColumnElement[int]:
    """``bound`` in the minor units of each row's currency (``disputed_minor`` has no fixed
    scale): an integer per exponent group, rounded inwards so a lower bound of 0.5 JPY
    means 1 and an upper bound of 0.5 JPY means 0."""
    rounding = ROUND_CEILING if lower else ROUND_FLOOR
    by_places: dict[int, list[str]] = {}
    for currency, places in MINOR_UNITS.items():
        by_places.setdefault(places, []).append(currency)

    def scaled(places: int) -> int:
        return int(bound.scaleb(places).to_integral_value(rounding=rounding))

    return case(*[(Dispute.currency.in_(currencies), scaled(places))
                  for places, currencies in sorted(by_places.items()) if places != 2],
                else_=scaled(2))


def text_match(text: str) -> ColumnElement[bool]:
    """The list's search: a dispute whose id, invoice number or account id starts with
    ``text``, whose account's name contains it, or whose description contains it — all
    ignoring case; ``%`` and ``_`` are matched as themselves."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    prefix, inside = f"{escaped}%", f"%{escaped}%"
    named = select(Account.id).where(Account.name.ilike(inside, escape="\\"))
    return or_(Dispute.id.ilike(prefix, escape="\\"),
               Dispute.invoice_number.ilike(prefix, escape="\\"),
               Dispute.account_id.ilike(prefix, escape="\\"),
               Dispute.account_id.in_(named),
               Dispute.description.ilike(inside, escape="\\"))


# The list's orders: (key column, descending?). Each pages by keyset on (key, id), so a page
# costs the same wherever it is and a dispute opened meanwhile shifts nothing.
SORTS: dict[str, tuple[Any, bool]] = {
    "newest": (Dispute.opened_at, True),
    "oldest": (Dispute.opened_at, False),
    "amount": (Dispute.disputed_minor, True),  # in each dispute's own currency
}


def encode_cursor(row: Dispute, sort: str = "newest") -> str:
    key = row.disputed_minor if sort == "amount" else row.opened_at.isoformat()
    raw = f"{key}|{row.id}" if sort == "newest" else f"{sort}|{key}|{row.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str = "newest") -> tuple[Any, str]:
    """The (key, id) after which the next page starts. Raises ValueError for a cursor we did
    not issue, or one issued for another order."""
    padded = cursor + "=" * (-len(cursor) % 4)
    parts = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
    if sort != "newest":
        if len(parts) != 3 or parts[0] != sort:
            raise ValueError("cursor of another order")
        parts = parts[1:]
    if len(parts) != 2 or not parts[1]:
        raise ValueError("malformed cursor")
    key, ident = parts
    if sort == "amount":
        return int(key), ident
    parsed = datetime.fromisoformat(key)
    if parsed.tzinfo is None:
        raise ValueError("malformed cursor")
    return parsed, ident


def list_views(
    session: Session, *, filters: ListFilter, limit: int, cursor: str | None,
    sort: str = "newest",
) -> tuple[list[dict[str, Any]], str | None]:
    """In the order ``sort`` names (:data:`SORTS`; newest first by default), keyset-paged on
    (its key, id) so pages stay fast and stable."""
    query = select(Dispute)
    if filters.status:
        query = query.where(Dispute.status == filters.status)
    if filters.account_id:
        query = query.where(Dispute.account_id == filters.account_id)
    if filters.breached is not None:
        query = query.where(Dispute.breached.is_(filters.breached))
    if filters.reason_code:
        query = query.where(Dispute.reason_code == filters.reason_code)
    if filters.min_amount is not None:
        query = query.where(Dispute.disputed_minor >= _minor_bound(filters.min_amount,
                                                                   lower=True))
    if filters.max_amount is not None:
        query = query.where(Dispute.disputed_minor <= _minor_bound(filters.max_amount,
                                                                   lower=False))
    if filters.root_cause:
        query = query.where(Dispute.root_cause == filters.root_cause)
    if filters.text:
        query = query.where(text_match(filters.text))
    if filters.opened_from is not None:
        query = query.where(Dispute.opened_at >= filters.opened_from)
    if filters.opened_to is not None:
        query = query.where(Dispute.opened_at < filters.opened_to)
    if filters.open_at is not None:
        query = query.where(Dispute.opened_at < filters.open_at, or_(
            Dispute.closed_at.is_(None), Dispute.closed_at > filters.open_at))
    column, descending = SORTS[sort]
    if cursor:
        key, ident = decode_cursor(cursor, sort)
        after = (or_(column < key, and_(column == key, Dispute.id < ident)) if descending
                 else or_(column > key, and_(column == key, Dispute.id > ident)))
        query = query.where(after)
    order = ((column.desc(), Dispute.id.desc()) if descending
             else (column.asc(), Dispute.id.asc()))
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return [r.view for r in rows], (encode_cursor(rows[-1], sort) if more and rows else None)
