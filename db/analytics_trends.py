"""Weekly trends and the root-cause Pareto: what the disputes opened in a window were about.

Weeks start on Monday 00:00 in the policy calendar's time zone; their edges are computed
here and handed to SQL as a CASE, so one grouped scan answers both trends.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from db.models import Dispute
from db.report_window import Window

__all__ = ["DEFAULT_TREND_WEEKS", "MAX_TREND_WEEKS", "pareto_root_causes",
           "trend_reason_codes", "trend_root_causes", "week_bounds", "week_starts"]

MAX_TREND_WEEKS = 53
DEFAULT_TREND_WEEKS = 13
Row = dict[str, Any]


def week_bounds(w: Window) -> list[tuple[datetime, datetime]]:
    """``[Monday 00:00, next Monday 00:00)`` in the policy calendar's zone, as UTC, of every
    week the window touches (the last ``DEFAULT_TREND_WEEKS`` when it has no start, at most
    ``MAX_TREND_WEEKS``). Each end is the next local midnight, not start + 168 hours: a week
    with a DST change is 167 or 169 hours long."""
    zone = ZoneInfo(w.timezone)
    end = (w.end or w.as_of).astimezone(zone)
    last = (end - timedelta(microseconds=1)).date()
    last_monday = last - timedelta(days=last.weekday())
    if w.start is None:
        first_monday = last_monday - timedelta(weeks=DEFAULT_TREND_WEEKS - 1)
    else:
        first = w.start.astimezone(zone).date()
        first_monday = max(first - timedelta(days=first.weekday()),
                           last_monday - timedelta(weeks=MAX_TREND_WEEKS - 1))
    weeks = max((last_monday - first_monday).days // 7 + 1, 1)
    edges = [datetime.combine(first_monday + timedelta(weeks=i), datetime.min.time(), zone)
             .astimezone(UTC) for i in range(weeks + 1)]
    return list(pairwise(edges))


def week_starts(w: Window) -> list[datetime]:
    """The starts of :func:`week_bounds`."""
    return [start for start, _ in week_bounds(w)]


def _weekly(session: Session, w: Window) -> tuple[list[datetime], list[Any]]:
    """Disputes opened per (week, root cause, reason code): both trends from one scan."""
    bounds = week_bounds(w)
    starts, stop = [start for start, _ in bounds], bounds[-1][1]
    lower = max(starts[0], w.start) if w.start else starts[0]
    upper = min(stop, w.end) if w.end else stop
    whens = [(Dispute.opened_at < s, literal(i - 1)) for i, s in enumerate(starts[1:], 1)]
    week = (case(*whens, else_=literal(len(starts) - 1)) if whens else literal(0)).label("week")
    rows = w.scan("weekly", session, lambda: session.execute(
        select(week, Dispute.root_cause, Dispute.reason_code, func.count())
        .where(Dispute.opened_at >= lower, Dispute.opened_at < upper)
        .group_by(week, Dispute.root_cause, Dispute.reason_code)).all())
    return starts, rows


def _trend(session: Session, w: Window, key: str) -> list[Row]:
    starts, rows = _weekly(session, w)
    position = 1 if key == "root_cause" else 2
    found: dict[tuple[int, str], int] = defaultdict(int)
    for row in rows:
        if row[position] is not None:
            found[(int(row[0]), row[position])] += row[3]
    zone = ZoneInfo(w.timezone)
    values = sorted({value for _, value in found})
    return [{"week_start": s.astimezone(zone).date().isoformat(), "timezone": w.timezone,
             key: value, "opened": found.get((i, value), 0)}
            for i, s in enumerate(starts) for value in values]


def trend_root_causes(session: Session, w: Window) -> list[Row]:
    """Disputes opened per week (in the policy's time zone) by root cause."""
    return _trend(session, w, "root_cause")


def trend_reason_codes(session: Session, w: Window) -> list[Row]:
    """Disputes opened per week (in the policy's time zone) by the reason the customer gave."""
    return _trend(session, w, "reason_code")


def pareto_root_causes(session: Session, w: Window) -> list[Row]:
    """Root causes of the disputes opened in the window, most frequent first, with the
    cumulative share: the few causes worth fixing first."""
    rows = session.execute(
        select(Dispute.root_cause, func.count())
        .where(Dispute.root_cause.is_not(None), w.in_range(Dispute.opened_at))
        .group_by(Dispute.root_cause)).all()
    total = sum(n for _, n in rows)
    out, running = [], 0
    for cause, n in sorted(rows, key=lambda r: (-r[1], r[0])):
        running += n
        out.append({"root_cause": cause, "disputes": n, "share": round(n / total, 4),
                    "cumulative_share": round(running / total, 4)})
    return out
