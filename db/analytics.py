"""What billing managers and leadership steer by, as tables computed in the database.

Every figure is a table (a list of rows with fixed keys) so the same numbers feed
``GET /api/v1/metrics``, the CSV downloads (``GET /api/v1/analytics/{table}``) and the
dashboard. They are computed for a :class:`Window`: flows (opened, closed, credited) count
what happened in ``[start, end)``; positions (what is open, and for how long) are taken *as
of* the window's end, or now for a window that has not ended. A dispute is open at an instant
when it was opened before it and not closed by then, so a past month's aging is the aging it
had at the month's end, whatever happened since.

Aggregates run in SQL, grouped so that only a few hundred rows ever reach Python (bucket
edges are computed here, in the policy calendar's time zone, and handed to SQL as a CASE), so
the queries stay fast at 100,000 disputes (``bench/bench_queries.py``). Amounts are summed in
minor units per currency and converted to the policy's base currency at the rate in force on
the as-of date; a currency without a rate is listed, never guessed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from db import billing, policies
from db.models import (
    Account,
    ApprovalLevel,
    CreditMemo,
    CreditMemoLine,
    Dispute,
    DisputeLine,
    Invoice,
    InvoiceLine,
    SlaBreach,
    User,
)
from db.session import session_scope
from domain.clock_names import APPROVAL_PREFIX, clock_label
from domain.codes import OPEN_LEVEL_STATUSES
from domain.money import from_minor, quantize

__all__ = [
    "AGE_BUCKETS",
    "DECIDED_STATUSES",
    "TABLES",
    "Window",
    "age_range",
    "dispute_scan",
    "open_at",
    "open_minor_by_currency",
    "policy_timezone",
    "product_credits",
    "read_concurrently",
    "week_bounds",
    "week_starts",
    "window_for",
]

DECIDED_STATUSES = ("resolved", "denied")  # adjudicated; a withdrawal is not a verdict
# (label, lowest whole day of age, highest or None): 0-7 means under 8 days open.
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-7", 0, 7), ("8-14", 8, 14), ("15-30", 15, 30), ("31-60", 31, 60), ("61+", 61, None))
MAX_TREND_WEEKS = 53
DEFAULT_TREND_WEEKS = 13
Row = dict[str, Any]


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
_READERS = ThreadPoolExecutor(max_workers=6, thread_name_prefix="report")


def read_concurrently(database_url: str, readers: Mapping[str, Callable[[Session, Window], T]],
                      *, start: datetime | None, end: datetime | None,
                      now: datetime) -> dict[str, T]:
    """``{name: reader(session, window)}``, the readers run at the same time in read-only
    sessions of their own. They may see commits that land between them, as separate reads
    always could; each figure is still computed from one consistent read."""
    def run(reader: Callable[[Session, Window], T]) -> T:
        with session_scope(database_url, readonly=True) as session:
            return reader(session, window_for(session, start=start, end=end, now=now))
    return dict(zip(readers, _READERS.map(run, readers.values()), strict=True))


def open_at(at: datetime) -> ColumnElement[bool]:
    """Opened before ``at`` and not closed by then."""
    return and_(Dispute.opened_at < at, or_(Dispute.closed_at.is_(None), Dispute.closed_at > at))


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def age_range(as_of: datetime, low: int, high: int | None
              ) -> tuple[datetime | None, datetime]:
    """The ``opened_at`` range ``[from, to)`` of an aging bucket at ``as_of``: the filter the
    dashboard's links put on the dispute list, and the same edges the bucketing uses."""
    return (None if high is None else as_of - timedelta(days=high + 1),
            as_of - timedelta(days=low))


def dispute_scan(session: Session, w: Window) -> list[Any]:
    """One pass over all disputes for the window: per (status, currency, reason code, root
    cause) the count, and those opened, closed and closed first time right in the window.
    The disputes table is wide (each row carries its view), so its scans are the metrics'
    largest cost: this one and :func:`_open_positions` are the only two, and the API runs
    them at the same time (``db.metrics.compute_concurrently``)."""
    opened_in = case((w.in_range(Dispute.opened_at), 1), else_=0)
    closed_in = case((and_(Dispute.closed_at.is_not(None), w.in_range(Dispute.closed_at)), 1),
                     else_=0)
    first_time = case((and_(Dispute.closed_at.is_not(None), Dispute.rejections == 0,
                            w.in_range(Dispute.closed_at)), 1), else_=0)
    return w.scan("disputes", session, lambda: session.execute(
        select(Dispute.status, Dispute.currency, Dispute.reason_code, Dispute.root_cause,
               func.count().label("n"), func.sum(opened_in).label("opened"),
               func.sum(closed_in).label("closed"), func.sum(first_time).label("ftr"))
        .group_by(Dispute.status, Dispute.currency, Dispute.reason_code, Dispute.root_cause)
    ).all())


def _age_bucket(as_of: datetime) -> ColumnElement[str]:
    """The aging label of ``opened_at`` at ``as_of``, on the edges of :func:`age_range`."""
    whens = []
    for label, low, high in AGE_BUCKETS:
        start, _ = age_range(as_of, low, high)
        if start is not None:
            whens.append((Dispute.opened_at >= start, label))
    return case(*whens, else_=AGE_BUCKETS[-1][0])


def _open_positions(session: Session, w: Window) -> list[Any]:
    """The disputes open at the as-of instant, per (age bucket, currency): count, amount and
    the sum of their opening times (for the mean age). Aging, days outstanding and revenue
    at risk all read it."""
    bucket = _age_bucket(w.as_of).label("bucket")
    return w.scan("open_positions", session, lambda: session.execute(
        select(bucket, Dispute.currency, func.count().label("n"),
               func.sum(Dispute.disputed_minor).label("minor"),
               func.sum(_epoch(session, Dispute.opened_at)).label("epochs"))
        .where(open_at(w.as_of)).group_by(bucket, Dispute.currency)).all())


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


def _epoch(session: Session, column: Any) -> ColumnElement[Any]:
    """Seconds since 1970 of a stored instant, in SQL (SQLite keeps UTC text)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0


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
    one way to ``resolved``), so resolved is credited; read from the (status, closed_at)
    index."""
    counts = dict(session.execute(
        select(Dispute.status, func.count())
        .where(Dispute.status.in_(DECIDED_STATUSES), Dispute.closed_at.is_not(None),
               w.in_range(Dispute.closed_at)).group_by(Dispute.status)).all())
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
    """Credit memo lines matching ``where``, summed per product of the invoice line credited,
    largest first (shared with the month-end report, which asks for what was posted)."""
    rows = session.execute(
        select(InvoiceLine.product, CreditMemo.currency, CreditMemo.fx_rate,
               func.count(func.distinct(CreditMemo.number)), func.sum(CreditMemoLine.amount_minor))
        .join(CreditMemo, CreditMemo.number == CreditMemoLine.memo_number)
        .join(InvoiceLine, and_(InvoiceLine.invoice_number == CreditMemoLine.invoice_number,
                                InvoiceLine.line_id == CreditMemoLine.line_id))
        .where(*where)
        .group_by(InvoiceLine.product, CreditMemo.currency, CreditMemo.fx_rate)).all()
    memos: dict[str, int] = defaultdict(int)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for product, currency, rate, n, minor in rows:
        memos[product] += n
        totals[product] += from_minor(int(minor or 0), currency) * Decimal(rate)
    ranked = sorted(totals, key=lambda p: (-totals[p], p))
    return [{"product": p, "credit_memos": memos[p], "base_total": str(quantize(totals[p], base)),
             "base_currency": base} for p in ranked]


def at_risk_by_account(session: Session, w: Window) -> list[Row]:
    """Revenue at risk (open disputed amounts as of the window's end) per account, largest
    first, with the account's name and type."""
    rows = session.execute(
        select(Dispute.account_id, Account.name, Account.type, Dispute.currency, func.count(),
               func.sum(Dispute.disputed_minor))
        .join(Account, Account.id == Dispute.account_id, isouter=True)
        .where(open_at(w.as_of))
        .group_by(Dispute.account_id, Account.name, Account.type, Dispute.currency)).all()
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


UNATTRIBUTED = "(invoice lines unknown)"


def at_risk_by_product(session: Session, w: Window) -> list[Row]:
    """Revenue at risk (as of the window's end) per product: each open dispute's amount
    split over the invoice lines it is about, as the intake recorded them (in proportion to
    what they billed, the parts adding up exactly). Disputes whose lines are unknown (their
    invoice missing at intake) are one row of their own."""
    of_product = func.coalesce(DisputeLine.product, UNATTRIBUTED)
    rows = session.execute(  # one pass: a dispute without recorded lines keeps its amount
        select(of_product, Dispute.currency, func.count(func.distinct(Dispute.id)),
               func.sum(func.coalesce(DisputeLine.share_minor, Dispute.disputed_minor)))
        .select_from(Dispute)
        .join(DisputeLine, DisputeLine.dispute_id == Dispute.id, isouter=True)
        .where(open_at(w.as_of))
        .group_by(of_product, Dispute.currency)).all()
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


def approver_workload(session: Session, w: Window) -> list[Row]:
    """Per approval role and per person holding it: levels waiting now (those the person may
    decide: not on memos they prepared or disputes they opened), overdue among them, and the
    levels each decided in the window."""
    waiting = session.execute(
        select(ApprovalLevel.role, CreditMemo.preparer_id, Dispute.opened_by, func.count(),
               func.sum(case((ApprovalLevel.due_at < w.now, 1), else_=0)))
        .join(CreditMemo, CreditMemo.number == ApprovalLevel.memo_number)
        .join(Dispute, Dispute.id == ApprovalLevel.dispute_id)
        .where(ApprovalLevel.status.in_(OPEN_LEVEL_STATUSES))
        .group_by(ApprovalLevel.role, CreditMemo.preparer_id, Dispute.opened_by)).all()
    decided = session.execute(
        select(ApprovalLevel.role, ApprovalLevel.approver_id, func.count())
        .where(ApprovalLevel.approver_id.is_not(None), ApprovalLevel.decided_at.is_not(None),
               w.in_range(ApprovalLevel.decided_at))
        .group_by(ApprovalLevel.role, ApprovalLevel.approver_id)).all()
    roles = sorted({r for r, *_ in waiting} | {r for r, *_ in decided})
    people = [(uid, name, set(held or [])) for uid, name, held in session.execute(
        select(User.id, User.name, User.roles).where(User.active.is_(True))
        .order_by(User.name, User.id))]
    done = {(role, who): n for role, who, n in decided}
    out: list[Row] = []
    for role in roles:
        mine = [(p, o, n, late) for r, p, o, n, late in waiting if r == role]
        out.append({"role": role, "person_id": None, "person_name": None,
                    "waiting": sum(n for *_, n, _ in mine),
                    "overdue": sum(int(late or 0) for *_, late in mine),
                    "decided": sum(n for (r, _), n in done.items() if r == role)})
        for uid, name, held in people:
            if role not in held and not done.get((role, uid)):
                continue
            can = [(n, int(late or 0)) for p, o, n, late in mine
                   if role in held and uid not in (p, o)]
            out.append({"role": role, "person_id": uid, "person_name": name,
                        "waiting": sum(n for n, _ in can), "overdue": sum(x for _, x in can),
                        "decided": done.get((role, uid), 0)})
    return out


def decision_time(session: Session, w: Window) -> list[Row]:
    """Hours from a level becoming pending (its memo's creation for level 1, the decision on
    the level before it otherwise) to its decision, for levels decided in the window, per
    level number and role (wall-clock hours; the SLA clocks count business time)."""
    prev = aliased(ApprovalLevel)
    started = func.coalesce(prev.decided_at, CreditMemo.created_at)
    seconds = _epoch(session, ApprovalLevel.decided_at) - _epoch(session, started)
    rows = session.execute(
        select(ApprovalLevel.level, ApprovalLevel.role, func.count(), func.avg(seconds),
               func.max(seconds))
        .join(CreditMemo, CreditMemo.number == ApprovalLevel.memo_number)
        .join(prev, and_(prev.memo_number == ApprovalLevel.memo_number,
                         prev.level == ApprovalLevel.level - 1), isouter=True)
        .where(ApprovalLevel.decided_at.is_not(None), ApprovalLevel.approver_id.is_not(None),
               w.in_range(ApprovalLevel.decided_at))
        .group_by(ApprovalLevel.level, ApprovalLevel.role)).all()
    return [{"level": lv, "role": role, "decisions": n,
             "mean_hours": round(float(mean) / 3600, 2),
             "max_hours": round(float(longest) / 3600, 2)}
            for lv, role, n, mean, longest in sorted(rows, key=lambda r: (r[0], r[1]))]


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
