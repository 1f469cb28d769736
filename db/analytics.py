"""What billing managers and leadership steer by, as tables computed in the database.

Every figure is a table (a list of rows with fixed keys) so the same numbers feed
``GET /api/v1/metrics``, the CSV downloads (``GET /api/v1/analytics/{table}``) and the
dashboard. They are computed for a :class:`db.report_window.Window` (flows in the period,
positions as of its end), so a past month's aging is the aging it had at the month's end.
This module holds the tables about disputes and credits and the registry of all tables;
the weekly trends and the Pareto are in :mod:`db.analytics_trends`, the approvers' load in
:mod:`db.analytics_approvers`.

Aggregates run in SQL, grouped so that only a few hundred rows ever reach Python (bucket
edges are computed here, in the policy calendar's time zone, and handed to SQL as a CASE), so
the queries stay fast at 100,000 disputes (``bench/bench_queries.py``); the counts by status,
reason and root cause and the positions open now are read from per-day tallies
(:mod:`db.tallies`) rather than from every dispute. Amounts are summed in
minor units per currency and converted to the policy's base currency at the rate in force on
the as-of date; a currency without a rate is listed, never guessed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select, union_all
from sqlalchemy.orm import Session

from db import billing, tallies
from db.analytics_approvers import approver_workload, decision_time
from db.analytics_trends import pareto_root_causes, trend_reason_codes, trend_root_causes
from db.models import (
    Account,
    CreditMemo,
    CreditMemoProduct,
    Dispute,
    DisputeLine,
    Invoice,
    SlaBreach,
)
from db.report_window import Window, open_at
from domain.clock_names import APPROVAL_PREFIX, clock_label
from domain.money import from_minor, quantize

__all__ = [
    "AGE_BUCKETS",
    "DECIDED_STATUSES",
    "TABLES",
    "age_range",
    "open_minor_by_currency",
    "product_credits",
    "status_counts",
]

DECIDED_STATUSES = ("resolved", "denied")  # adjudicated; a withdrawal is not a verdict
# (label, lowest whole day of age, highest or None): 0-7 means under 8 days open.
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-7", 0, 7), ("8-14", 8, 14), ("15-30", 15, 30), ("31-60", 31, 60), ("61+", 61, None))
Row = dict[str, Any]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def age_range(as_of: datetime, low: int, high: int | None
              ) -> tuple[datetime | None, datetime]:
    """The ``opened_at`` range ``[from, to)`` of an aging bucket at ``as_of``: the filter the
    dashboard's links put on the dispute list, and the same edges the bucketing uses."""
    return (None if high is None else as_of - timedelta(days=high + 1),
            as_of - timedelta(days=low))


# The product row for amounts whose invoice lines are not in the billing data.
UNATTRIBUTED = "(invoice lines unknown)"


@dataclass
class StatusCounts:
    """What the metrics fold from every dispute: the count per current status; and of the
    window, those opened per current status, reason code and root cause, those closed per
    status, and those closed first time right (no rejected memo) per status."""

    current: dict[str, int] = field(default_factory=dict)
    opened: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    causes: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)
    first_time: dict[str, int] = field(default_factory=dict)


def status_counts(session: Session, w: Window) -> StatusCounts:
    """:class:`StatusCounts` from the per-day tallies: the window is the middle span of
    ``(beginning, start, end, no end)``, and all spans together are every dispute."""
    edges = [None, *(e for e in (w.start, w.end) if e is not None), None]
    spans = tallies.Spans(tuple(edges))
    inside = 1 if w.start is not None else 0
    found = tallies.counts(session, (*tallies.OPENED_KINDS, *tallies.CLOSED_KINDS), spans)
    out = StatusCounts()
    tables = {"status": out.opened, "reason_code": out.reasons, "root_cause": out.causes,
              "closed": out.closed, "first_time": out.first_time}
    for (kind, at, label), n in found.items():
        if kind == "status":
            out.current[label] = out.current.get(label, 0) + n
        if at == inside:
            tables[kind][label] = n
    return out


def _age_spans(as_of: datetime) -> tuple[tallies.Spans, list[str]]:
    """Opening instants by age at ``as_of``, oldest first, on the edges of :func:`age_range`."""
    buckets = sorted(AGE_BUCKETS, key=lambda b: -b[1])
    # each younger bucket starts where the older one ends: at as_of - (its high + 1) days
    edges = [None, *(as_of - timedelta(days=high + 1) for _, _, high in buckets[1:]
                     if high is not None), as_of]
    return tallies.Spans(tuple(edges)), [label for label, _, _ in buckets]


@dataclass
class OpenRow:
    """Open disputes of one age bucket and currency."""

    bucket: str
    currency: str
    n: int
    minor: int
    epochs: float  # the sum of their opening instants, seconds since 1970


def _open_positions(session: Session, w: Window) -> list[OpenRow]:
    """The disputes open at the as-of instant, per (age bucket, currency): count, amount and
    the sum of their opening times (for the mean age). Aging, days outstanding and revenue
    at risk all read it, from the tallies of open disputes and those closed since."""
    def read() -> list[OpenRow]:
        spans, labels = _age_spans(w.as_of)
        return [OpenRow(labels[at], currency, p.n, p.minor, p.epoch_us / 1_000_000)
                for (at, currency), p in tallies.open_positions(session, spans).items()]
    return w.scan("open_positions", session, read)


def open_minor_by_currency(session: Session, w: Window) -> dict[str, int]:
    """Revenue at risk before conversion: what is open at the as-of instant, per currency."""
    found: dict[str, int] = defaultdict(int)
    for row in _open_positions(session, w):
        found[row.currency] += int(row.minor or 0)
    return dict(found)


def aging(session: Session, w: Window) -> list[Row]:
    """Open disputes as of the window's end, by age: count and base amount."""
    counts: dict[str, int] = defaultdict(int)
    minor: dict[str, dict[str, int]] = defaultdict(dict)
    for row in _open_positions(session, w):
        counts[row.bucket] += row.n
        minor[row.bucket][row.currency] = int(row.minor or 0)
    return [{"bucket": label, "min_days": low, "max_days": high, "count": counts[label],
             "base_amount": _money(w.to_base(session, minor[label])), "base_currency": w.base}
            for label, low, high in AGE_BUCKETS]


def outstanding(session: Session, w: Window) -> list[Row]:
    """Days dispute outstanding: the mean age, in days, of the disputes open at the as-of
    instant (like days sales outstanding, for what customers are contesting)."""
    rows = _open_positions(session, w)
    n = sum(r.n for r in rows)
    days = None
    if n:
        mean_epoch = sum(float(r.epochs or 0) for r in rows) / n
        days = round((w.as_of.timestamp() - mean_epoch) / 86400, 2)
    return [{"as_of": w.as_of.isoformat(), "open_disputes": n,
             "days_dispute_outstanding": days}]


def validity(session: Session, w: Window) -> list[Row]:
    """Valid-dispute rate: of the disputes decided (resolved or denied) in the window, the
    share credited. A dispute is resolved only once its credit memo is posted (the workflow's
    one way to ``resolved``), so resolved is credited; read from the closings' tallies."""
    counts = {status: n for (_, _, status), n in tallies.counts(
        session, ("closed",), tallies.Spans((w.start, w.end))).items()}
    credited = int(counts.get("resolved", 0))
    decided = credited + int(counts.get("denied", 0))
    return [{"decided": decided, "credited": credited,
             "valid_dispute_rate": round(credited / decided, 4) if decided else None}]


def invoice_accuracy(session: Session, w: Window) -> list[Row]:
    """First-time invoice accuracy: invoices issued in the window (by issue date) that no
    dispute has ever named, over all invoices issued in it (the intake stamps an invoice
    when it is first disputed)."""
    zone = ZoneInfo(w.timezone)
    where = []
    if w.start is not None:
        where.append(Invoice.issued_on >= _first_day(w.start, zone))
    if w.end is not None:
        where.append(Invoice.issued_on < _first_day(w.end, zone))
    issued, hit = session.execute(
        select(func.count(), func.count(Invoice.first_disputed_at)).select_from(Invoice)
        .where(*where)).one()
    issued, hit = int(issued or 0), int(hit or 0)
    return [{"invoices_issued": issued, "invoices_disputed": hit,
             "first_time_invoice_accuracy": round((issued - hit) / issued, 4) if issued
             else None}]


def _first_day(at: datetime, zone: ZoneInfo) -> date:
    """The first calendar day (in ``zone``) that starts at or after ``at``: issue dates are
    days of the policy's calendar, and a window's bounds are its local midnights."""
    local = at.astimezone(zone)
    midnight = datetime.combine(local.date(), datetime.min.time(), zone)
    return local.date() if local == midnight else local.date() + timedelta(days=1)


def credits_by_tier(session: Session, w: Window) -> list[Row]:
    """Approved and posted credits created in the window, by the tier that chose the chain."""
    rows = session.execute(
        select(CreditMemo.tier_min, func.count(), func.sum(CreditMemo.base_total_minor))
        .where(CreditMemo.status.in_(billing.COMMITTED), w.in_range(CreditMemo.created_at))
        .group_by(CreditMemo.tier_min)).all()
    return [{"tier_min": str(t), "credits": n,
             "base_total": str(from_minor(int(s or 0), w.base)), "base_currency": w.base}
            for t, n, s in sorted(rows, key=lambda r: Decimal(r[0]))]


def credits_by_product(session: Session, w: Window) -> list[Row]:
    """Approved and posted credits created in the window, by the product of the invoice line
    credited; each line converted at its memo's own FX rate (the one its chain was chosen at)."""
    return product_credits(session, w.base, CreditMemo.status.in_(billing.COMMITTED),
                           w.in_range(CreditMemo.created_at))


def product_credits(session: Session, base: str, *where: ColumnElement[bool]) -> list[Row]:
    """Credits of the memos matching ``where``, summed per product of the invoice lines
    credited (as each memo recorded them), largest first; lines whose invoice line was not in
    the billing data are one row of their own (shared with the month-end report, which asks
    for what was posted)."""
    of_product = func.coalesce(func.nullif(CreditMemoProduct.product, ""), UNATTRIBUTED)
    rows = session.execute(
        select(of_product, CreditMemo.currency, CreditMemo.fx_rate, func.count(),
               func.sum(CreditMemoProduct.amount_minor))
        .join(CreditMemo, CreditMemo.number == CreditMemoProduct.memo_number)
        .where(*where)
        .group_by(of_product, CreditMemo.currency, CreditMemo.fx_rate)).all()
    memos: dict[str, int] = defaultdict(int)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for product, currency, rate, n, minor in rows:
        memos[product] += n
        totals[product] += from_minor(int(minor or 0), currency) * Decimal(rate)
    ranked = sorted(totals, key=lambda p: (p == UNATTRIBUTED, -totals[p], p))
    return [{"product": p, "credit_memos": memos[p], "base_total": str(quantize(totals[p], base)),
             "base_currency": base} for p in ranked]


def at_risk_by_account(session: Session, w: Window) -> list[Row]:
    """Revenue at risk (open disputed amounts as of the window's end) per account, largest
    first, with the account's name and type."""
    # Summed per account first, then named: joining every open dispute to its account and
    # grouping by the names cost twice as much.
    sums = select(Dispute.account_id, Dispute.currency, func.count().label("n"),
                  func.sum(Dispute.disputed_minor).label("minor")) \
        .where(open_at(w.as_of)).group_by(Dispute.account_id, Dispute.currency).subquery()
    rows = session.execute(
        select(sums.c.account_id, Account.name, Account.type, sums.c.currency, sums.c.n,
               sums.c.minor)
        .join(Account, Account.id == sums.c.account_id, isouter=True)).all()
    names: dict[str, tuple[str | None, str | None]] = {}
    counts: dict[str, int] = defaultdict(int)
    minor: dict[str, dict[str, int]] = defaultdict(dict)
    for account, name, kind, currency, n, total in rows:
        names[account] = (name, kind)
        counts[account] += n
        minor[account][currency] = int(total or 0)
    amounts = {a: w.to_base(session, minor[a]) for a in names}
    ranked = sorted(names, key=lambda a: (-(amounts[a] or Decimal(0)), a))
    return [{"account_id": a, "account_name": names[a][0], "account_type": names[a][1],
             "open_disputes": counts[a], "base_amount": _money(amounts[a]),
             "base_currency": w.base} for a in ranked]



def at_risk_by_product(session: Session, w: Window) -> list[Row]:
    """Revenue at risk (as of the window's end) per product: each open dispute's amount
    split over the invoice lines it is about, as the intake recorded them (in proportion to
    what they billed, the parts adding up exactly). Disputes whose lines are unknown (their
    invoice missing at intake) are one row of their own."""
    of_one = select(Dispute.product, Dispute.currency, func.count(),
                    func.sum(Dispute.disputed_minor)) \
        .where(open_at(w.as_of), Dispute.product.is_not(None)) \
        .group_by(Dispute.product, Dispute.currency)
    of_product = func.coalesce(DisputeLine.product, UNATTRIBUTED)
    split = select(of_product, Dispute.currency, func.count(func.distinct(Dispute.id)),
                   func.sum(func.coalesce(DisputeLine.share_minor, Dispute.disputed_minor))) \
        .select_from(Dispute) \
        .join(DisputeLine, DisputeLine.dispute_id == Dispute.id, isouter=True) \
        .where(open_at(w.as_of), Dispute.product.is_(None)) \
        .group_by(of_product, Dispute.currency)
    # Disputes of one product are summed as they are; only the rest are split over lines.
    rows: list[Any] = list(session.execute(union_all(of_one, split)).all())
    counts: dict[str, int] = defaultdict(int)
    minor: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for product, currency, n, total in rows:
        counts[product] += int(n)
        minor[product][currency] += int(total or 0)
    amounts = {p: w.to_base(session, dict(minor[p])) for p in counts}
    ranked = sorted(counts, key=lambda p: (p == UNATTRIBUTED, -(amounts[p] or Decimal(0)), p))
    return [{"product": p, "open_disputes": counts[p], "base_amount": _money(amounts[p]),
             "base_currency": w.base} for p in ranked]


def breaches(session: Session, w: Window) -> list[Row]:
    """SLA breaches in the window per clock kind: clocks breached and disputes they hit (one
    dispute with three breached clocks is three breaches and one breached dispute)."""
    kind = case((SlaBreach.clock.like(f"{APPROVAL_PREFIX}%"), "approval"), else_=SlaBreach.clock)
    rows = session.execute(
        select(kind, func.count(), func.count(func.distinct(SlaBreach.dispute_id)),
               func.sum(case((SlaBreach.stopped_at.is_(None), 1), else_=0)))
        .where(w.in_range(SlaBreach.breached_at)).group_by(kind)).all()
    return [{"clock": c, "clock_label": clock_label(c), "breaches": n, "disputes": d,
             "still_open": int(o or 0)} for c, n, d, o in sorted(rows)]


def breached_disputes(session: Session, w: Window) -> int:
    return int(session.scalar(select(func.count(func.distinct(SlaBreach.dispute_id)))
                              .where(w.in_range(SlaBreach.breached_at))) or 0)


TABLES: dict[str, Callable[[Session, Window], list[Row]]] = {
    "aging": aging,
    "days_dispute_outstanding": outstanding,
    "valid_dispute_rate": validity,
    "first_time_invoice_accuracy": invoice_accuracy,
    "credits_by_tier": credits_by_tier,
    "credits_by_product": credits_by_product,
    "revenue_at_risk_by_account": at_risk_by_account,
    "revenue_at_risk_by_product": at_risk_by_product,
    "breaches": breaches,
    "trends_root_cause": trend_root_causes,
    "trends_reason_code": trend_reason_codes,
    "pareto_root_causes": pareto_root_causes,
    "approver_workload": approver_workload,
    "decision_time": decision_time,
}
