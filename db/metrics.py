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

from db import billing, policies
from db.models import CreditMemo, Dispute, SlaBreach
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
    count = session.scalar(select(func.count()).select_from(Dispute).where(where)) or 0
    ordered = select(Dispute.turnaround_s).where(where).order_by(Dispute.turnaround_s)
    median = _percentile(session, ordered, count, 0.5)
    p90 = _percentile(session, ordered, count, 0.9)
    return {"resolved": count,
            "median_business_hours": None if median is None else round(median / 3600, 2),
            "p90_business_hours": None if p90 is None else round(p90 / 3600, 2)}


def revenue_at_risk(session: Session, base: str, on: datetime) -> dict[str, Any]:
    """Open disputed amounts, summed per currency in SQL, converted at the rate in force."""
    rows = session.execute(
        select(Dispute.currency, func.sum(Dispute.disputed_minor), func.count())
        .where(Dispute.status.in_(OPEN_STATUSES)).group_by(Dispute.currency)).all()
    total = Decimal(0)
    by_currency, unconverted = [], []
    for currency, minor, n in rows:
        amount = from_minor(int(minor), currency)
        fx = billing.fx_rate(session, currency, base, on.date())
        by_currency.append({"currency": currency, "amount": str(amount), "disputes": n})
        if fx is None:
            unconverted.append(currency)
        else:
            total += amount * fx[0]
    return {"amount": str(quantize(total, base)), "currency": base,
            "by_currency": by_currency, "currencies_without_fx_rate": unconverted}


def compute(session: Session, *, start: datetime | None, end: datetime | None,
            now: datetime) -> dict[str, Any]:
    base = str(policies.current(session).document.get("base_currency", "USD"))
    opened = dict(session.execute(
        select(Dispute.status, func.count()).where(_between(Dispute.opened_at, start, end))
        .group_by(Dispute.status)).all())
    closed = dict(session.execute(
        select(Dispute.status, func.count())
        .where(Dispute.status.in_(CLOSED_STATUSES), _between(Dispute.closed_at, start, end))
        .group_by(Dispute.status)).all())
    current = dict(session.execute(
        select(Dispute.status, func.count()).group_by(Dispute.status)).all())
    resolved_where = and_(Dispute.status == "resolved", _between(Dispute.closed_at, start, end))
    ftr = session.execute(select(
        func.count(), func.sum(case((Dispute.rejections == 0, 1), else_=0))
    ).where(resolved_where)).one()
    tiers = session.execute(
        select(CreditMemo.tier_min, func.count(), func.sum(CreditMemo.base_total_minor))
        .where(CreditMemo.status.in_(("approved", "posted")),
               _between(CreditMemo.created_at, start, end))
        .group_by(CreditMemo.tier_min)).all()
    clock_kind = case((SlaBreach.clock.like("approval_%"), "approval"), else_=SlaBreach.clock)
    breaches = session.execute(
        select(clock_kind, SlaBreach.assignee_role, func.count(),
               func.sum(case((SlaBreach.stopped_at.is_(None), 1), else_=0)))
        .where(_between(SlaBreach.breached_at, start, end))
        .group_by(clock_kind, SlaBreach.assignee_role)).all()
    root_causes = session.execute(
        select(Dispute.root_cause, func.count()).where(
            Dispute.root_cause.is_not(None), _between(Dispute.opened_at, start, end))
        .group_by(Dispute.root_cause).order_by(func.count().desc()).limit(5)).all()
    reasons = session.execute(
        select(Dispute.reason_code, func.count()).where(_between(Dispute.opened_at, start, end))
        .group_by(Dispute.reason_code).order_by(func.count().desc()).limit(5)).all()
    return {
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "opened": sum(opened.values()),
        "opened_by_status": opened,
        "resolved": closed.get("resolved", 0),
        "denied": closed.get("denied", 0),
        "withdrawn": closed.get("withdrawn", 0),
        "counts_by_status": {s: current.get(s, 0) for s in (*OPEN_STATUSES, *CLOSED_STATUSES)},
        "turnaround": turnaround(session, start, end),
        "revenue_at_risk": revenue_at_risk(session, base, now),
        "credits_by_tier": [
            {"tier_min": str(t), "credits": n, "base_total": str(from_minor(int(s or 0), base)),
             "base_currency": base} for t, n, s in sorted(tiers, key=lambda r: Decimal(r[0]))],
        "breaches": [{"clock": c, "assignee_role": r, "count": n, "open": int(o or 0)}
                     for c, r, n, o in breaches],
        "breaches_total": sum(n for _, _, n, _ in breaches),
        "top_root_causes": [{"root_cause": r, "count": n} for r, n in root_causes],
        "top_reason_codes": [{"reason_code": r, "count": n} for r, n in reasons],
        "first_time_right_rate": (round(int(ftr[1] or 0) / ftr[0], 4) if ftr[0] else None),
    }
