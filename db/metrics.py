"""What managers watch, computed in the database: counts, turnaround percentiles, revenue at
risk, credits by tier, breaches by clock and role, root causes, first-time-right.

Aggregates run as SQL over indexed columns so they stay fast at 100,000 disputes;
percentiles use ORDER BY/OFFSET, which both SQLite and PostgreSQL answer from an index.
Turnaround is business time (recorded by the workflow on the policy's calendar at close).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.orm import Session

from db import analytics, analytics_trends, report_window, slack_outbox
from db.models import Dispute, SlaBreach
from domain.clock_names import APPROVAL_PREFIX
from domain.money import from_minor, quantize

OPEN_STATUSES = ("investigating", "pending_approval")
CLOSED_STATUSES = ("resolved", "denied", "withdrawn")


def _between(column: Any, start: datetime | None, end: datetime | None) -> ColumnElement[bool]:
    parts = []
    if start is not None:
        parts.append(column >= start)
    if end is not None:
        parts.append(column < end)
    return and_(True, *parts)


def _percentile(session: Session, query: Select[Any], count: int, fraction: float) -> int | None:
    """Nearest-rank percentile of an ordered single-column query, evaluated in SQL."""
    if count == 0:
        return None
    rank = max(0, min(count - 1, int(-(-count * fraction // 1)) - 1))
    return session.scalar(query.offset(rank).limit(1))


def turnaround(session: Session, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    where = and_(Dispute.status == "resolved", Dispute.turnaround_s.is_not(None),
                 _between(Dispute.closed_at, start, end))
    if session.get_bind().dialect.name == "postgresql":
        count, median, p90 = session.execute(select(
            func.count(),
            func.percentile_disc(0.5).within_group(Dispute.turnaround_s),
            func.percentile_disc(0.9).within_group(Dispute.turnaround_s),
        ).where(where)).one()
    else:
        count = session.scalar(select(func.count()).select_from(Dispute).where(where)) or 0
        ordered = select(Dispute.turnaround_s).where(where).order_by(Dispute.turnaround_s)
        median = _percentile(session, ordered, count, 0.5)
        p90 = _percentile(session, ordered, count, 0.9)
    return {"resolved": count,
            "median_business_hours": None if median is None else round(median / 3600, 2),
            "p90_business_hours": None if p90 is None else round(p90 / 3600, 2)}


def _to_base(session: Session, amounts: dict[str, int], w: report_window.Window
             ) -> dict[str, Any]:
    """Open disputed amounts per currency (summed in SQL), each converted at the window's
    rate (``Window.rate``, the one the analytics tables use), and those that have none."""
    total = Decimal(0)
    by_currency, unconverted = [], []
    for currency, minor in sorted(amounts.items()):
        amount = from_minor(minor, currency)
        rate = w.rate(session, currency)
        by_currency.append({"currency": currency, "amount": str(amount)})
        if rate is None:
            unconverted.append(currency)
        else:
            total += amount * rate
    return {"amount": str(quantize(total, w.base)), "currency": w.base,
            "by_currency": by_currency, "currencies_without_fx_rate": unconverted}


def _top(counts: dict[str, int], key: str) -> list[dict[str, Any]]:
    """The five largest counts, ties broken by name so the order is stable."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    return [{key: k, "count": v} for k, v in ranked]


def _disputes_part(session: Session, w: report_window.Window) -> dict[str, Any]:
    """Counts by status, root cause and reason code (from the per-day tallies)."""
    scan = analytics.status_counts(session, w)
    resolved = scan.closed.get("resolved", 0)
    return {
        "opened": sum(scan.opened.values()),
        "opened_by_status": {k: v for k, v in scan.opened.items() if v},
        "resolved": resolved,
        "denied": scan.closed.get("denied", 0),
        "withdrawn": scan.closed.get("withdrawn", 0),
        "counts_by_status": {s: scan.current.get(s, 0)
                             for s in (*OPEN_STATUSES, *CLOSED_STATUSES)},
        "top_root_causes": _top(scan.causes, "root_cause"),
        "top_reason_codes": _top(scan.reasons, "reason_code"),
        "first_time_right_rate": (round(scan.first_time.get("resolved", 0) / resolved, 4)
                                  if resolved else None),
    }


def _open_part(session: Session, w: report_window.Window) -> dict[str, Any]:
    """The positions as of the window's end, from the pass over open disputes."""
    [outstanding] = analytics.outstanding(session, w)
    return {
        "revenue_at_risk": _to_base(session, analytics.open_minor_by_currency(session, w), w),
        "aging": {b["bucket"]: {"count": b["count"], "base_amount": b["base_amount"]}
                  for b in analytics.aging(session, w)},
        "days_dispute_outstanding": outstanding["days_dispute_outstanding"],
    }


def _outcomes_part(session: Session, w: report_window.Window) -> dict[str, Any]:
    """Turnaround, SLA breaches and verdicts: small indexed reads."""
    clock_kind = case((SlaBreach.clock.like(f"{APPROVAL_PREFIX}%"), "approval"),
                      else_=SlaBreach.clock)
    breaches = session.execute(
        select(clock_kind, SlaBreach.assignee_role, func.count(),
               func.sum(case((SlaBreach.stopped_at.is_(None), 1), else_=0)))
        .where(w.in_range(SlaBreach.breached_at))
        .group_by(clock_kind, SlaBreach.assignee_role)).all()
    [validity] = analytics.validity(session, w)
    return {
        "turnaround": turnaround(session, w.start, w.end),
        "breaches": [{"clock": c, "assignee_role": r, "count": n, "open": int(o or 0)}
                     for c, r, n, o in breaches],
        "breaches_total": sum(n for _, _, n, _ in breaches),
        "breached_disputes": analytics.breached_disputes(session, w),
        "valid_dispute_rate": validity["valid_dispute_rate"],
    }


def _invoices_part(session: Session, w: report_window.Window) -> dict[str, Any]:
    [accuracy] = analytics.invoice_accuracy(session, w)
    return {"first_time_invoice_accuracy": accuracy["first_time_invoice_accuracy"]}


def _trends_part(session: Session, w: report_window.Window) -> dict[str, Any]:
    return {"trends": {"root_cause": analytics_trends.trend_root_causes(session, w),
                       "reason_code": analytics_trends.trend_reason_codes(session, w)}}


# The metrics in independent parts, so the API reads them on several connections at once
# (:func:`compute_concurrently`) and a test in one (:func:`compute`).
PARTS: dict[str, Callable[[Session, report_window.Window], dict[str, Any]]] = {
    "disputes": _disputes_part, "open": _open_part, "outcomes": _outcomes_part,
    "credits": lambda s, w: {"credits_by_tier": analytics.credits_by_tier(s, w)},
    "invoices": _invoices_part, "trends": _trends_part,
    "slack": lambda s, w: {"slack_outbox": slack_outbox.health(s, now=w.now)}}


def _head(w: report_window.Window) -> dict[str, Any]:
    return {"from": w.start.isoformat() if w.start else None,
            "to": w.end.isoformat() if w.end else None, "as_of": w.as_of.isoformat()}


def assemble(head: dict[str, Any], parts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The metrics document from its parts, in a stable key order."""
    out = dict(head)
    for name in PARTS:
        out.update(parts[name])
    return out


def compute(session: Session, *, start: datetime | None, end: datetime | None,
            now: datetime) -> dict[str, Any]:
    """The managers' metrics for ``[start, end)``, read in one session."""
    w = report_window.window_for(session, start=start, end=end, now=now)
    return assemble(_head(w), {name: part(session, w) for name, part in PARTS.items()})


def compute_concurrently(database_url: str, *, start: datetime | None, end: datetime | None,
                         now: datetime) -> dict[str, Any]:
    """The same as :func:`compute`, each part on its own connection at the same time."""
    w, parts = report_window.read_concurrently(database_url, PARTS, start=start, end=end,
                                               now=now)
    return assemble(_head(w), parts)
