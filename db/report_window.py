"""The window every report is computed for: a period, the instant positions are taken
at, the base currency and the policy's time zone — and reading a report's parts side by side.

Flows count what happened in ``[start, end)``; positions are taken *as of* the window's end,
or now for a window that has not ended. A dispute is open at an instant when it was opened
before it and not closed by then (:func:`open_at`). Shared by the analytics tables, the
metrics, the month-end report and the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_, text
from sqlalchemy.orm import Session

from db import billing, policies
from db.models import Dispute
from db.session import session_scope
from domain.money import from_minor, quantize

__all__ = ["Window", "open_at", "policy_timezone", "read_concurrently", "window_for"]


@dataclass
class Window:
    """The period asked for, the instant positions are taken at, and the base currency."""

    start: datetime | None
    end: datetime | None
    as_of: datetime
    base: str
    timezone: str
    now: datetime  # when the report is read: live figures (the outbox) are taken then
    _fx: dict[str, Decimal | None] = field(default_factory=dict)
    _scans: dict[str, Any] = field(default_factory=dict)

    def fresh(self) -> Window:
        """The same window with nothing cached: for a read on another connection."""
        return replace(self, _fx={}, _scans={})

    def scan(self, name: str, session: Session, run: Callable[[], Any]) -> Any:
        """One query's rows shared by the tables built from it (aging and days outstanding
        read the same open disputes): run once per window, however many tables ask."""
        if name not in self._scans:
            self._scans[name] = run()
        return self._scans[name]

    def in_range(self, column: Any) -> ColumnElement[bool]:
        parts = []
        if self.start is not None:
            parts.append(column >= self.start)
        if self.end is not None:
            parts.append(column < self.end)
        return and_(True, *parts)

    def rate(self, session: Session, currency: str) -> Decimal | None:
        """To the base currency, at the rate in force on the as-of date (cached per window)."""
        if currency not in self._fx:
            found = billing.fx_rate(session, currency, self.base, self.as_of.date())
            self._fx[currency] = found[0] if found else None
        return self._fx[currency]

    def to_base(self, session: Session, minor_by_currency: dict[str, int]) -> Decimal | None:
        """The sum in base currency, or None when some currency has no rate."""
        total = Decimal(0)
        for currency, minor in minor_by_currency.items():
            rate = self.rate(session, currency)
            if rate is None:
                return None
            total += from_minor(minor, currency) * rate
        return quantize(total, self.base)


def _zone_of(document: dict[str, Any]) -> str:
    calendar = document.get("calendar")
    return str(calendar.get("timezone", "UTC")) if isinstance(calendar, dict) else "UTC"


def policy_timezone(session: Session) -> str:
    """The time zone of the policy in force: the one its business calendar counts in (UTC
    for an ``always`` calendar)."""
    return _zone_of(policies.current(session).document)


def window_for(session: Session, *, start: datetime | None, end: datetime | None,
               now: datetime) -> Window:
    document = policies.current(session).document
    as_of = end if end is not None and end < now else now
    return Window(start=start, end=end, as_of=as_of,
                  base=str(document.get("base_currency", "USD")), timezone=_zone_of(document),
                  now=now)


T = TypeVar("T")
# Reads of one report run side by side, each on its own connection: the database works on
# both cores, and the report waits for its slowest read instead of their sum.
_READERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="report")


def read_concurrently(database_url: str, readers: Mapping[str, Callable[[Session, Window], T]],
                      *, start: datetime | None, end: datetime | None,
                      now: datetime) -> tuple[Window, dict[str, T]]:
    """The window (the policy in force read once), and ``{name: reader(session, window)}``
    with the readers run at the same time in read-only sessions of their own. They may see
    commits that land between them, as separate reads always could; each figure is still
    computed from one consistent read."""
    with session_scope(database_url, readonly=True) as session:
        window = window_for(session, start=start, end=end, now=now)

    def run(reader: Callable[[Session, Window], T]) -> T:
        with session_scope(database_url, readonly=True) as session:
            _one_core_each(session)
            return reader(session, window.fresh())
    return window, dict(zip(readers, _READERS.map(run, readers.values()), strict=True))


def _one_core_each(session: Session) -> None:
    """The readers are already the parallelism, one per connection: PostgreSQL's parallel
    workers inside one would only compete with the others for the same cores, and their
    start-up costs more than the small reads they would share."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))


def open_at(at: datetime) -> ColumnElement[bool]:
    """Opened before ``at`` and not closed by then."""
    return and_(Dispute.opened_at < at, or_(Dispute.closed_at.is_(None), Dispute.closed_at > at))
