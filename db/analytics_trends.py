"""Weekly trends and the root-cause Pareto: what the disputes opened in a window were about.

Weeks start on Monday 00:00 in the policy calendar's time zone; both trends are counted from
the per-day tallies (:mod:`db.tallies`) in one read, the days a week's edge cuts instant by
instant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from db import tallies
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


def _weekly(session: Session, w: Window) -> tuple[list[datetime], dict[tuple[str, int, str], int]]:
    """Disputes opened per (kind, week, value), kind ``root_cause`` or ``reason_code``: both
    trends from one read of the per-day tallies (and of the days a week's edge cuts)."""
    bounds = week_bounds(w)
    starts, stop = [start for start, _ in bounds], bounds[-1][1]
    lower = max(starts[0], w.start) if w.start else starts[0]
    upper = min(stop, w.end) if w.end else stop
    spans = tallies.Spans((lower, *starts[1:], upper)) if lower < upper else None
    found = w.scan("weekly", session, lambda: {} if spans is None else tallies.counts(
        session, ("root_cause", "reason_code"), spans))
    return starts, found


def _trend(session: Session, w: Window, key: str) -> list[Row]:
    starts, found = _weekly(session, w)
    weekly = {(week, value): n for (kind, week, value), n in found.items() if kind == key}
    zone = ZoneInfo(w.timezone)
    values = sorted({value for _, value in weekly})
    return [{"week_start": s.astimezone(zone).date().isoformat(), "timezone": w.timezone,
             key: value, "opened": weekly.get((i, value), 0)}
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
    rows = [(cause, n) for (_, _, cause), n in tallies.counts(
        session, ("root_cause",), tallies.Spans((w.start, w.end))).items()]
    total = sum(n for _, n in rows)
    out, running = [], 0
    for cause, n in sorted(rows, key=lambda r: (-r[1], r[0])):
        running += n
        out.append({"root_cause": cause, "disputes": n, "share": round(n / total, 4),
                    "cumulative_share": round(running / total, 4)})
    return out
