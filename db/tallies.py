"""Dispute counts and open positions over any spans of time, read from the per-day tallies.

The tallies (:mod:`db.models_tallies`, kept by triggers) hold whole UTC days. A report asks
for spans between arbitrary instants — a window's bounds, week starts at the policy
calendar's midnight, aging edges at the as-of instant — so each question is answered in two
parts added together: the whole days inside one span from the tallies, and the few days an
edge cuts from the disputes themselves, by their exact instants (an index range on
``opened_at`` or ``closed_at``). Either way each dispute is counted once, in the span its
instant falls in, so the figures are those a scan of every dispute would give.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, case, func, literal, select, true, union_all
from sqlalchemy.orm import Session

from db.analytics_sql import day_offset_us, utc_day
from db.models import Dispute
from db.models_tallies import DisputeDayCount, OpenDisputeDay

__all__ = ["CLOSED_KINDS", "OPENED_KINDS", "Spans", "counts", "open_positions"]

# What each kind counts, as the trigger of migration 0026 defines it: by the day opened,
# the current status, reason code and root cause; by the day closed, the status closed with,
# and among those the ones closed with no rejected memo (first time).
OPENED_KINDS = ("status", "reason_code", "root_cause")
CLOSED_KINDS = ("closed", "first_time")
ONE_DAY = timedelta(days=1)
_COLUMNS = {"status": Dispute.status, "reason_code": Dispute.reason_code,
            "root_cause": Dispute.root_cause}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


@dataclass(frozen=True)
class Spans:
    """Consecutive spans ``[edges[i], edges[i + 1])``; the first edge may be None (from the
    beginning), the last None (without end)."""

    edges: tuple[datetime | None, ...]

    def __post_init__(self) -> None:
        if len(self.edges) < 2:
            raise ValueError("spans need at least two edges")
        inner = self.edges[1:-1]
        if any(e is None for e in inner):
            raise ValueError("only the outer edges may be open")
        finite = [e for e in self.edges if e is not None]
        if any(a >= b for a, b in pairwise(finite)):
            raise ValueError("edges must increase")

    @property
    def cut_days(self) -> list[date]:
        """The UTC days an edge falls inside (not on their midnight): read instant by instant."""
        days = {e.astimezone(UTC).date() for e in self.edges
                if e is not None and e != _midnight(e.astimezone(UTC).date())}
        return sorted(days)

    def whole_days(self, day: Any) -> ColumnElement[bool]:
        """The tallied days wholly inside the spans."""
        first, last = self.edges[0], self.edges[-1]
        parts = [day.not_in(self.cut_days)] if self.cut_days else []
        if first is not None:
            parts.append(day >= first.astimezone(UTC).date())
        if last is not None:
            parts.append(day < last.astimezone(UTC).date())
        return and_(true(), *parts)

    def day_span(self, day: Any) -> ColumnElement[int]:
        """The span of a whole day (whole days never straddle an edge)."""
        inner = self.edges[1:-1]
        if not inner:
            return literal(0)
        return case(*[(day < e.astimezone(UTC).date(), i)  # type: ignore[union-attr]
                      for i, e in enumerate(inner)], else_=len(inner))

    def cut_ranges(self) -> list[tuple[datetime, datetime]]:
        """``[from, to)`` of each cut day, inside the spans' outer edges."""
        first, last = self.edges[0], self.edges[-1]
        out = []
        for day in self.cut_days:
            low, high = _midnight(day), _midnight(day + ONE_DAY)
            out.append((max(low, first) if first is not None else low,
                        min(high, last) if last is not None else high))
        return [(low, high) for low, high in out if low < high]

    def on_cut_days(self, at: Any, *columns: Any, where: Sequence[ColumnElement[bool]] = ()
                    ) -> Subquery:
        """``span`` and ``columns`` of the disputes whose instant ``at`` is on a cut day: one
        plain range per day, so each is an index range whatever plan the statement keeps."""
        parts = [select(self._span_within(at, low, high).label("span"), *columns)
                 .where(at >= low, at < high, *where) for low, high in self.cut_ranges()]
        return union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()

    def instant_span(self, at: Any) -> ColumnElement[int]:
        """The span of an instant anywhere inside the spans."""
        inner = [e for e in self.edges[1:-1] if e is not None]
        if not inner:
            return literal(0)
        return case(*[(at < e, i) for i, e in enumerate(inner)], else_=len(inner))

    def _span_within(self, at: Any, low: datetime, high: datetime) -> ColumnElement[int]:
        """The span of an instant in ``[low, high)``, comparing it only with the edges there."""
        inner = [e for e in self.edges[1:-1] if e is not None]
        first = sum(1 for e in inner if e <= low)
        cuts = [e for e in inner if low < e < high]
        if not cuts:
            return literal(first)
        return case(*[(at < e, first + i) for i, e in enumerate(cuts)],
                    else_=first + len(cuts))


def counts(session: Session, kinds: Sequence[str], spans: Spans
           ) -> dict[tuple[str, int, str], int]:
    """Disputes per (kind, span, label) — see :data:`OPENED_KINDS` and :data:`CLOSED_KINDS`."""
    found: dict[tuple[str, int, str], int] = defaultdict(int)
    day = DisputeDayCount.day
    span = spans.day_span(day).label("span")
    for kind, at, label, n in session.execute(
            select(DisputeDayCount.kind, span, DisputeDayCount.label, func.sum(DisputeDayCount.n))
            .where(DisputeDayCount.kind.in_(kinds), spans.whole_days(day),
                   DisputeDayCount.n != 0)
            .group_by(DisputeDayCount.kind, span, DisputeDayCount.label)):
        found[(kind, int(at), label)] += int(n)
    if not spans.cut_ranges():
        return _nonzero(found)
    opened = [k for k in kinds if k in OPENED_KINDS]
    if opened:  # only the columns asked for: (opened_at, reason, cause) is a covering index
        rows = spans.on_cut_days(Dispute.opened_at, *(_COLUMNS[k] for k in opened))
        grouped = [rows.c.span, *(rows.c[k] for k in opened)]
        for at, *values, n in session.execute(select(*grouped, func.count()).group_by(*grouped)):
            for kind, value in zip(opened, values, strict=True):
                if value is not None:
                    found[(kind, int(at), value)] += int(n)
    closed = [k for k in kinds if k in CLOSED_KINDS]
    if closed:
        first_time = case((Dispute.rejections == 0, 1), else_=0).label("first_time")
        rows = spans.on_cut_days(Dispute.closed_at, Dispute.status, first_time,
                                 where=[Dispute.closed_at.is_not(None)])
        for at, status, first, n in session.execute(
                select(rows.c.span, rows.c.status, rows.c.first_time, func.count())
                .group_by(rows.c.span, rows.c.status, rows.c.first_time)):
            if "closed" in closed:
                found[("closed", int(at), status)] += int(n)
            if "first_time" in closed and first:
                found[("first_time", int(at), status)] += int(n)
    return _nonzero(found)


def _nonzero(found: dict[tuple[str, int, str], int]) -> dict[tuple[str, int, str], int]:
    return {key: n for key, n in found.items() if n}


@dataclass
class Position:
    """Open disputes of one span and currency: how many, their amount, and the sum of their
    opening instants in microseconds since 1970 (their mean age, exactly)."""

    n: int = 0
    minor: int = 0
    epoch_us: int = 0


def open_positions(session: Session, spans: Spans) -> dict[tuple[int, str], Position]:
    """The disputes open at the spans' last edge (now, when it is open), per (span of their
    opening instant, currency): opened before it and not closed by then. The tallies hold
    those not closed at all; those closed since that instant are added from the disputes (an
    index range on ``closed_at``: none for an instant that is now)."""
    found: dict[tuple[int, str], Position] = defaultdict(Position)

    def add(at: int, currency: str, day: date | str, n: int, minor: int, offset: int) -> None:
        start = _midnight(day if isinstance(day, date) else date.fromisoformat(day))
        p = found[(at, currency)]
        p.n += int(n)
        p.minor += int(minor)
        p.epoch_us += int(n) * _epoch_us(start) + int(offset)

    edges = spans.edges
    for day, currency, n, minor, offset in session.execute(
            select(OpenDisputeDay.day, OpenDisputeDay.currency, OpenDisputeDay.n,
                   OpenDisputeDay.amount_minor, OpenDisputeDay.offset_us)
            .where(spans.whole_days(OpenDisputeDay.day), OpenDisputeDay.n != 0)):
        add(sum(1 for e in edges[1:-1] if e is not None and e <= _midnight(day)), currency,
            day, n, minor, offset)
    # summed per day in SQL, exactly as the trigger sums them
    day_of = utc_day(session, Dispute.opened_at)
    offset_of = day_offset_us(session, Dispute.opened_at)
    if spans.cut_ranges():
        rows = spans.on_cut_days(Dispute.opened_at, Dispute.currency, day_of.label("day"),
                                 Dispute.disputed_minor, offset_of.label("offset_us"),
                                 where=[Dispute.closed_at.is_(None)])
        grouped: list[Any] = [rows.c.span, rows.c.currency, rows.c.day]
        for row in session.execute(
                select(*grouped, func.count(), func.sum(rows.c.disputed_minor),
                       func.sum(rows.c.offset_us)).group_by(*grouped)):
            add(*tuple(row))
    first, last = edges[0], edges[-1]
    if last is not None:
        grouped = [spans.instant_span(Dispute.opened_at), Dispute.currency, day_of]
        for row in session.execute(
                select(*grouped, func.count(), func.sum(Dispute.disputed_minor),
                       func.sum(offset_of))
                .where(Dispute.closed_at > last, Dispute.opened_at < last,
                       Dispute.opened_at >= first if first is not None else true())
                .group_by(*grouped)):
            add(*tuple(row))
    return {key: p for key, p in found.items() if p.n}


def _epoch_us(at: datetime) -> int:
    delta = at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
