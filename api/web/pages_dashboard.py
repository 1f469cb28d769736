"""The managers' dashboard: open breaches, revenue at risk, turnaround, disputes by status,
top root causes, and a 30-day trend of disputes opened and resolved.

The numbers are ``db.metrics.compute`` — the very function behind ``GET /api/v1/metrics`` — so
the page and the API cannot disagree. The trend is the one query added here, grouped by day
in SQL over the indexed ``opened_at`` and ``(status, closed_at)`` columns.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from api.deps import SettingsDep, in_db
from api.web import charts
from api.web.auth import page_user
from api.web.render import PAGE_ROLES, PageRoute, render
from db import disputes, metrics
from db.models import Dispute
from db.users import Principal

router = APIRouter(route_class=PageRoute, include_in_schema=False)
ManagerPage = Annotated[Principal, Depends(page_user(*PAGE_ROLES["/dashboard"]))]
TREND_DAYS = 30
BREACH_ROWS = 20


def _day(session: Session, column: Any) -> ColumnElement[str]:
    """``YYYY-MM-DD`` of a UTC timestamp column, in SQL, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)  # SQLite keeps naive UTC text


@dataclass(frozen=True)
class Trend:
    """Per UTC day, oldest first: labels and the two counts."""

    days: list[str]
    opened: list[int]
    resolved: list[int]


def daily_trend(session: Session, *, now: datetime, days: int = TREND_DAYS) -> Trend:
    """Disputes opened, and resolved, on each of the last ``days`` UTC days (today included)."""
    first = (now.astimezone(UTC) - timedelta(days=days - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0)
    labels = [(first + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]
    opened_day = _day(session, Dispute.opened_at)
    closed_day = _day(session, Dispute.closed_at)
    opened = {day: n for day, n in session.execute(
        select(opened_day, func.count()).where(Dispute.opened_at >= first)
        .group_by(opened_day))}
    resolved = {day: n for day, n in session.execute(
        select(closed_day, func.count())
        .where(Dispute.status == "resolved", Dispute.closed_at >= first)
        .group_by(closed_day))}
    return Trend(labels, [int(opened.get(d, 0)) for d in labels],
                 [int(resolved.get(d, 0)) for d in labels])


def _metrics(session: Session, now: datetime) -> dict[str, Any]:
    return metrics.compute(session, start=None, end=None, now=now)


def _open_breaches(session: Session) -> list[dict[str, Any]]:
    return disputes.list_breaches(session, open_only=True, clock=None, assignee_role=None,
                                  limit=BREACH_ROWS)


def dashboard_context(m: dict[str, Any], trend: Trend, breaches: list[dict[str, Any]],
                      now: datetime) -> dict[str, Any]:
    """The template's data: the figures and the server-drawn charts."""
    status_rows = [(s.replace("_", " "), float(n)) for s, n in m["counts_by_status"].items()]
    cause_rows = [(c["root_cause"].replace("_", " "), float(c["count"]))
                  for c in m["top_root_causes"]]
    return {
        "title": "Dashboard", "m": m, "trend": trend, "breaches": breaches,
        "open_breaches": sum(int(b["open"]) for b in m["breaches"]),
        "status_chart": charts.hbars("Disputes by status", status_rows),
        "cause_chart": charts.hbars("Top root causes", cause_rows),
        "trend_chart": charts.trend(
            f"Disputes opened and resolved per day, last {TREND_DAYS} days", trend.days,
            [("opened", charts.BAR, trend.opened), ("resolved", charts.SECOND, trend.resolved)]),
        "as_of": now,
    }


@router.get("/dashboard")
async def dashboard_page(request: Request, _: ManagerPage, settings: SettingsDep) -> Response:
    # Three independent reads on three connections at once: the page waits for the
    # slowest (the metrics), not for their sum. The database driver releases the GIL.
    now = datetime.now(UTC)
    m, trend, breaches = await asyncio.gather(
        in_db(settings, _metrics, readonly=True, now=now),
        in_db(settings, daily_trend, readonly=True, now=now),
        in_db(settings, _open_breaches, readonly=True))
    return render(request, "dashboard.html", dashboard_context(m, trend, breaches, now))
