"""What managers watch, computed in the database: counts, turnaround percentiles, revenue at
risk, credits by tier, breaches by clock and role, root causes, first-time-right.

Aggregates run as SQL over indexed columns so they stay fast at 100,000 disputes;
percentiles use ORDER BY/OFFSET, which both SQLite and PostgreSQL answer from an index.
Turnaround is business time (recorded by the workflow on the policy's calendar at close).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.orm import Session

from db import analytics, billing, slack_outbox
from db.models import Dispute, SlaBreach
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


def _to_base(session: Session, amounts: dict[str, int], base: str, on: datetime
             ) -> dict[str, Any]:
    """Open disputed amounts per currency (summed in SQL), converted at the rate in force."""
    total = Decimal(0)
    by_currency, unconverted = [], []
    for currency, minor in sorted(amounts.items()):
        amount = from_minor(minor, currency)
        fx = billing.fx_rate(session, currency, base, on.date())
        by_currency.append({"currency": currency, "amount": str(amount)})
        if fx is None:
            unconverted.append(currency)
        else:
            total += amount * fx[0]
    return {"amount": str(quantize(total, base)), "currency": base,
            "by_currency": by_currency, "currencies_without_fx_rate": unconverted}


def _status_scan(session: Session, start: datetime | None, end: datetime | None
                 ) -> dict[str, Any]:
    """One pass over disputes: current counts, opened/closed in the window, first-time-right,
    open amounts per currency, and the root causes and reason codes of the disputes opened
    in the window — conditional aggregates instead of six scans (each costs ~30 ms at
    100,000 disputes)."""
    opened_in = case((_between(Dispute.opened_at, start, end), 1), else_=0)
    closed_in = case((and_(Dispute.closed_at.is_not(None),
                           _between(Dispute.closed_at, start, end)), 1), else_=0)
    first_time = case((and_(Dispute.closed_at.is_not(None), Dispute.rejections == 0,
                            _between(Dispute.closed_at, start, end)), 1), else_=0)
    rows = session.execute(
        select(Dispute.status, Dispute.currency, Dispute.reason_code, Dispute.root_cause,
               func.count(), func.sum(opened_in), func.sum(closed_in), func.sum(first_time),
               func.sum(Dispute.disputed_minor))
        .group_by(Dispute.status, Dispute.currency, Dispute.reason_code,
                  Dispute.root_cause)).all()
    out: dict[str, Any] = {"current": {}, "opened": {}, "closed": {}, "ftr": 0, "open_minor": {},
                           "reasons": {}, "causes": {}}
    for status, currency, reason, cause, n, opened, closed, ftr, minor in rows:
        opened = int(opened or 0)
        out["current"][status] = out["current"].get(status, 0) + n
        out["opened"][status] = out["opened"].get(status, 0) + opened
        out["closed"][status] = out["closed"].get(status, 0) + int(closed or 0)
        if status == "resolved":
            out["ftr"] += int(ftr or 0)
        if status in OPEN_STATUSES:
            out["open_minor"][currency] = out["open_minor"].get(currency, 0) + int(minor or 0)
        if opened:
            out["reasons"][reason] = out["reasons"].get(reason, 0) + opened
            if cause is not None:
                out["causes"][cause] = out["causes"].get(cause, 0) + opened
    return out


def _top(counts: dict[str, int], key: str) -> list[dict[str, Any]]:
    """The five largest counts, ties broken by name so the order is stable."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    return [{key: k, "count": v} for k, v in ranked]


def compute(session: Session, *, start: datetime | None, end: datetime | None,
            now: datetime) -> dict[str, Any]:
    w = analytics.window_for(session, start=start, end=end, now=now)
    base = w.base
    scan = _status_scan(session, start, end)
    clock_kind = case((SlaBreach.clock.like("approval_%"), "approval"), else_=SlaBreach.clock)
    breaches = session.execute(
        select(clock_kind, SlaBreach.assignee_role, func.count(),
               func.sum(case((SlaBreach.stopped_at.is_(None), 1), else_=0)))
        .where(_between(SlaBreach.breached_at, start, end))
        .group_by(clock_kind, SlaBreach.assignee_role)).all()
    resolved = scan["closed"].get("resolved", 0)
    [validity] = analytics.validity(session, w)
    [accuracy] = analytics.invoice_accuracy(session, w)
    [outstanding] = analytics.outstanding(session, w)
    return {
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "as_of": w.as_of.isoformat(),
        "opened": sum(scan["opened"].values()),
        "opened_by_status": {k: v for k, v in scan["opened"].items() if v},
        "resolved": resolved,
        "denied": scan["closed"].get("denied", 0),
        "withdrawn": scan["closed"].get("withdrawn", 0),
        "counts_by_status": {s: scan["current"].get(s, 0)
                             for s in (*OPEN_STATUSES, *CLOSED_STATUSES)},
        "turnaround": turnaround(session, start, end),
        "revenue_at_risk": _to_base(session, scan["open_minor"], base, now),
        "credits_by_tier": analytics.credits_by_tier(session, w),
        "breaches": [{"clock": c, "assignee_role": r, "count": n, "open": int(o or 0)}
                     for c, r, n, o in breaches],
        "breaches_total": sum(n for _, _, n, _ in breaches),
        "breached_disputes": analytics.breached_disputes(session, w),
        "top_root_causes": _top(scan["causes"], "root_cause"),
        "top_reason_codes": _top(scan["reasons"], "reason_code"),
        "first_time_right_rate": round(scan["ftr"] / resolved, 4) if resolved else None,
        "aging": {b["bucket"]: {"count": b["count"], "base_amount": b["base_amount"]}
                  for b in analytics.aging(session, w)},
        "days_dispute_outstanding": outstanding["days_dispute_outstanding"],
        "valid_dispute_rate": validity["valid_dispute_rate"],
        "first_time_invoice_accuracy": accuracy["first_time_invoice_accuracy"],
        "trends": {"root_cause": analytics.trend_root_causes(session, w),
                   "reason_code": analytics.trend_reason_codes(session, w)},
        "slack_outbox": slack_outbox.health(session, now=now),  # now, whatever the period
    }
