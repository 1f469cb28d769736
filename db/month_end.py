"""The month-end close report: what was credited, what is still open, and what to reserve.

For a period (a calendar month in the policy's time zone) it gives the credits *posted* in
it — by account, by product and by whether they reverse a closed (prior) period — the open
exposure at the month's end, and a **reserve proposal** for that exposure: each open
dispute's amount weighted by the historical grant rate of its reason code and account type.

The grant rate of a group is the mean, over the disputes of that group decided (resolved or
denied) in the year before the month's end, of the share of the disputed amount that was
credited (a denial credits nothing). A per-dispute share needs no currency conversion, so
disputes in every currency inform it. A group with fewer than ``min_history`` decided
disputes borrows the rate of its reason code across account types, then that of all
disputes (however few); with no decided dispute at all the rate is 0. The report says
which basis each group used and on how many decided disputes. The reserve of the last periods is
proposed again exactly as it would have been at their ends (open disputes then, history
before then) and set against what has been credited on those disputes since: how good the
method has been is part of the evidence for using it.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Numeric, and_, case, cast, func, select
from sqlalchemy.orm import Session

from db import analytics, billing, report_window
from db.models import Account, CreditMemo, Dispute
from domain.money import from_minor, quantize

__all__ = ["BACKTEST_PERIODS", "LOOKBACK_DAYS", "MIN_HISTORY", "PeriodError", "month_bounds",
           "month_end_report"]

LOOKBACK_DAYS = 365
MIN_HISTORY = 5
BACKTEST_PERIODS = 6
Row = dict[str, Any]


class PeriodError(ValueError):
    """The period is not a month written ``YYYY-MM``."""


def month_bounds(period: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``2026-10`` -> Oct 1 00:00 and Nov 1 00:00 in ``zone``, as UTC instants."""
    try:
        if len(period) != 7 or period[4] != "-":
            raise ValueError(period)
        first = datetime.strptime(period, "%Y-%m").date()
    except ValueError:
        raise PeriodError(f"{period!r} is not a month; write it as YYYY-MM, e.g. 2026-10") \
            from None
    days = calendar.monthrange(first.year, first.month)[1]
    return _midnight(first, zone), _midnight(first + timedelta(days=days), zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)


def _previous(period: str, back: int) -> str:
    year, month = map(int, period.split("-"))
    index = year * 12 + month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_end_report(session: Session, *, period: str, now: datetime,
                     min_history: int = MIN_HISTORY) -> dict[str, Any]:
    """The report for ``period`` (``YYYY-MM``); raises :class:`PeriodError` for a bad one."""
    zone = ZoneInfo(report_window.policy_timezone(session))
    start, end = month_bounds(period, zone)
    w = report_window.window_for(session, start=start, end=end, now=now)
    reserve = _reserve(session, w, end, min_history)
    aging = analytics.aging(session, w)
    exposure = w.to_base(session, analytics.open_minor_by_currency(session, w))
    return {
        "period": period, "from": start.isoformat(), "to": end.isoformat(),
        "timezone": w.timezone, "base_currency": w.base, "as_of": w.as_of.isoformat(),
        "credits_posted": _posted(session, w),
        "open_exposure": {"open_disputes": sum(b["count"] for b in aging),
                          "base_amount": None if exposure is None else str(exposure),
                          "aging": aging},
        "reserve": reserve,
        "reserve_backtest": [_backtest(session, _previous(period, back), zone, now,
                                       min_history) for back in range(BACKTEST_PERIODS)],
    }


def _posted(session: Session, w: report_window.Window) -> dict[str, Any]:
    """Credit memos posted in the window: total, by account, by timing, by product."""
    in_month = and_(CreditMemo.status == "posted", CreditMemo.posted_at.is_not(None),
                    w.in_range(CreditMemo.posted_at))
    rows = session.execute(
        select(CreditMemo.account_id, Account.name, CreditMemo.prior_period, func.count(),
               func.sum(CreditMemo.base_total_minor))
        .join(Account, Account.id == CreditMemo.account_id, isouter=True)
        .where(in_month)
        .group_by(CreditMemo.account_id, Account.name, CreditMemo.prior_period)).all()
    accounts: dict[str, list[Any]] = {}
    timing: dict[str, list[int]] = {"current": [0, 0], "prior_period": [0, 0]}
    for account, name, prior, n, minor in rows:
        entry = accounts.setdefault(account, [name, 0, 0])
        entry[1] += n
        entry[2] += int(minor or 0)
        slot = timing["prior_period" if prior else "current"]
        slot[0] += n
        slot[1] += int(minor or 0)

    def money(minor: int) -> str:
        return str(from_minor(minor, w.base))
    ranked = sorted(accounts, key=lambda a: (-accounts[a][2], a))
    return {
        "credit_memos": sum(v[1] for v in accounts.values()),
        "base_amount": money(sum(v[2] for v in accounts.values())),
        "by_account": [{"account_id": a, "account_name": accounts[a][0],
                        "credit_memos": accounts[a][1], "base_amount": money(accounts[a][2])}
                       for a in ranked],
        "by_timing": [{"timing": k, "credit_memos": v[0], "base_amount": money(v[1])}
                      for k, v in timing.items()],
        "by_product": analytics.product_credits(session, w.base, in_month),
    }


def _grant_rates(session: Session, end: datetime) -> dict[tuple[str, str | None], list[Any]]:
    """Per (reason code, account type): disputes decided in the year before ``end`` and the
    sum of the share of each one's disputed amount that was credited."""
    credited = (select(CreditMemo.dispute_id, func.sum(CreditMemo.total_minor).label("minor"))
                .where(CreditMemo.status.in_(billing.COMMITTED)).group_by(CreditMemo.dispute_id)
                .subquery())
    share = (cast(func.coalesce(credited.c.minor, 0), Numeric(24, 8))
             / cast(Dispute.disputed_minor, Numeric(24, 8)))
    rows = session.execute(
        select(Dispute.reason_code, Account.type, func.count(),
               func.sum(case((Dispute.status == "resolved", share), else_=0)))
        .join(Account, Account.id == Dispute.account_id, isouter=True)
        .join(credited, credited.c.dispute_id == Dispute.id, isouter=True)
        .where(Dispute.status.in_(analytics.DECIDED_STATUSES), Dispute.closed_at.is_not(None),
               Dispute.closed_at >= end - timedelta(days=LOOKBACK_DAYS),
               Dispute.closed_at < end, Dispute.disputed_minor > 0)
        .group_by(Dispute.reason_code, Account.type)).all()
    return {(reason, kind): [int(n), Decimal(str(total or 0))] for reason, kind, n, total in rows}


def _rate_for(history: dict[tuple[str, str | None], list[Any]], reason: str,
              kind: str | None, min_history: int) -> tuple[Decimal, str, int]:
    """The rate of the narrowest basis with enough history: (rate, basis, decided)."""
    candidates = (
        ("reason code and account type", [v for k, v in history.items() if k == (reason, kind)]),
        ("reason code", [v for k, v in history.items() if k[0] == reason]),
        ("all disputes", list(history.values())),
    )
    for basis, groups in candidates:
        n = sum(g[0] for g in groups)
        if n and (n >= min_history or basis == "all disputes"):
            return (sum((g[1] for g in groups), Decimal(0)) / n).quantize(Decimal("0.0001")), \
                basis, n
    return Decimal(0), "no decided disputes yet", 0


def _reserve(session: Session, w: report_window.Window, end: datetime,
             min_history: int) -> dict[str, Any]:
    """The proposal for the disputes open at ``end``, per (reason code, account type)."""
    history = _grant_rates(session, end)
    rows = session.execute(
        select(Dispute.reason_code, Account.type, Dispute.currency, func.count(),
               func.sum(Dispute.disputed_minor))
        .join(Account, Account.id == Dispute.account_id, isouter=True)
        .where(report_window.open_at(end))
        .group_by(Dispute.reason_code, Account.type, Dispute.currency)).all()
    groups: dict[tuple[str, str | None], dict[str, Any]] = defaultdict(
        lambda: {"open_disputes": 0, "open": defaultdict(int)})
    for reason, kind, currency, n, minor in rows:
        groups[(reason, kind)]["open_disputes"] += n
        groups[(reason, kind)]["open"][currency] += int(minor or 0)
    out: list[Row] = []
    total, unconverted = Decimal(0), False
    for (reason, account_type), g in sorted(groups.items(),
                                            key=lambda kv: (kv[0][0], kv[0][1] or "")):
        rate, basis, decided = _rate_for(history, reason, account_type, min_history)
        exposure = w.to_base(session, dict(g["open"]))
        reserve = None if exposure is None else quantize(exposure * rate, w.base)
        if reserve is None:
            unconverted = True
        else:
            total += reserve
        out.append({"reason_code": reason, "account_type": account_type,
                    "open_disputes": g["open_disputes"],
                    "open_base_amount": None if exposure is None else str(exposure),
                    "grant_rate": str(rate), "rate_basis": basis, "decided_disputes": decided,
                    "reserve_base_amount": None if reserve is None else str(reserve)})
    return {"base_amount": str(quantize(total, w.base)), "complete": not unconverted,
            "lookback_days": LOOKBACK_DAYS, "min_history": min_history, "groups": out}


def _backtest(session: Session, period: str, zone: ZoneInfo, now: datetime,
              min_history: int) -> Row:
    """The reserve as proposed at the end of ``period``, against what the disputes open then
    have been credited since and what of them is still open now."""
    start, end = month_bounds(period, zone)
    w = report_window.window_for(session, start=start, end=end, now=now)
    proposed = _reserve(session, w, end, min_history)
    was_open = select(Dispute.id).where(report_window.open_at(end))
    credited = int(session.scalar(
        select(func.coalesce(func.sum(CreditMemo.base_total_minor), 0))
        .where(CreditMemo.status.in_(billing.COMMITTED), CreditMemo.dispute_id.in_(was_open))) or 0)
    still = session.execute(
        select(Dispute.currency, func.count(), func.sum(Dispute.disputed_minor))
        .where(report_window.open_at(end), report_window.open_at(now))
        .group_by(Dispute.currency)).all()
    still_open = w.to_base(session, {c: int(m or 0) for c, _, m in still})
    credited_amount = from_minor(credited, w.base)
    return {"period": period, "proposed_reserve": proposed["base_amount"],
            "credited_since": str(credited_amount),
            "difference": str(Decimal(proposed["base_amount"]) - credited_amount),
            "still_open_disputes": sum(int(n) for _, n, _ in still),
            "still_open_base_amount": None if still_open is None else str(still_open)}
