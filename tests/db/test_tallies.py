"""The per-day tallies stay equal to the disputes through every kind of change, and counts
over arbitrary spans (edges inside days, on midnights, two in one day) equal what counting
every dispute by hand gives — on SQLite and PostgreSQL alike."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from db import tallies
from db.models import Account, Dispute, DisputeDayCount, Invoice, OpenDisputeDay
from db.session import get_engine, session_scope

T0 = datetime(2026, 9, 1, tzinfo=UTC)
STATUSES = ("investigating", "pending_approval", "resolved", "denied", "withdrawn")
CLOSED = ("resolved", "denied", "withdrawn")


def _instant(rnd: random.Random) -> datetime:
    """Somewhere in 40 days, to the microsecond, often exactly on a midnight."""
    day = T0 + timedelta(days=rnd.randrange(40))
    if rnd.random() < 0.2:
        return day
    return day + timedelta(microseconds=rnd.randrange(86_400_000_000))


def _dispute(rnd: random.Random, i: int) -> dict[str, Any]:
    opened = _instant(rnd)
    status = rnd.choice(STATUSES)
    closed = opened + timedelta(hours=rnd.randrange(1, 300), microseconds=rnd.randrange(10**6)) \
        if status in CLOSED else None
    return {"id": f"D-{i}", "status": status, "account_id": "ADV-1", "invoice_number": "INV-1",
            "currency": rnd.choice(["USD", "EUR"]), "disputed_minor": rnd.randrange(1, 10**9),
            "reason_code": rnd.choice(["rate_mismatch", "tax_error", "other"]),
            "opened_by": "u-cs", "opened_at": opened, "closed_at": closed, "breached": False,
            "root_cause": rnd.choice([None, "rate_card", "delivery_data"]),
            "rejections": rnd.choice([0, 0, 1]), "revision": 1, "view": {}}


def _write(url: str, rnd: random.Random, n: int) -> None:
    with session_scope(url) as s:
        s.add(Account(id="ADV-1", type="advertiser", name="Acme", currency="USD"))
        s.add(Invoice(number="INV-1", account_id="ADV-1", currency="USD", period="2026-09",
                      issued_on=date(2026, 9, 1), total_minor=1))
        s.flush()
        s.execute(sa.insert(Dispute), [_dispute(rnd, i) for i in range(n)])


def _all(url: str) -> list[Any]:
    with session_scope(url, readonly=True) as s:
        return list(s.execute(sa.select(Dispute.status, Dispute.reason_code, Dispute.root_cause,
                                        Dispute.opened_at, Dispute.closed_at, Dispute.rejections,
                                        Dispute.currency, Dispute.disputed_minor)))


def _recount(url: str) -> tuple[Counter[tuple[date, str, str]], dict[tuple[date, str], list[int]]]:
    """The tallies as their definition says, counted in Python from every dispute."""
    counts: Counter[tuple[date, str, str]] = Counter()
    open_days: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for status, reason, cause, opened, closed, rejections, currency, minor in _all(url):
        day = opened.date()
        counts[(day, "status", status)] += 1
        counts[(day, "reason_code", reason)] += 1
        if cause is not None:
            counts[(day, "root_cause", cause)] += 1
        if closed is not None:
            counts[(closed.date(), "closed", status)] += 1
            if rejections == 0:
                counts[(closed.date(), "first_time", status)] += 1
        else:
            since = opened - datetime.combine(day, datetime.min.time(), UTC)
            totals = open_days[(day, currency)]
            totals[0] += 1
            totals[1] += minor
            totals[2] += since // timedelta(microseconds=1)
    return counts, dict(open_days)


def _stored(url: str) -> tuple[Counter[tuple[date, str, str]], dict[tuple[date, str], list[int]]]:
    with session_scope(url, readonly=True) as s:
        counts = Counter({(d, k, label): n for d, k, label, n in s.execute(
            sa.select(DisputeDayCount.day, DisputeDayCount.kind, DisputeDayCount.label,
                      DisputeDayCount.n)) if n})
        open_days = {(d, c): [n, minor, us] for d, c, n, minor, us in s.execute(
            sa.select(OpenDisputeDay.day, OpenDisputeDay.currency, OpenDisputeDay.n,
                      OpenDisputeDay.amount_minor, OpenDisputeDay.offset_us)) if n}
    return counts, open_days


def test_tallies_follow_every_change_to_a_dispute(db_url: str) -> None:
    rnd = random.Random(11)
    _write(db_url, rnd, 300)
    assert _stored(db_url) == _recount(db_url)
    table = Dispute.__table__
    with get_engine(db_url).begin() as c:
        for i in rnd.sample(range(300), 120):
            row = _dispute(rnd, i)  # a new status, cause, reason, amount, closing…
            changes = {k: row[k] for k in rnd.sample(
                ["status", "reason_code", "root_cause", "closed_at", "rejections",
                 "disputed_minor", "currency", "opened_at"], rnd.randrange(1, 5))}
            c.execute(sa.update(table).where(table.c.id == f"D-{i}").values(**changes))
        c.execute(sa.update(table).where(table.c.id == "D-7").values(revision=9))  # no effect
        c.execute(sa.delete(table).where(table.c.id.in_([f"D-{i}" for i in range(0, 300, 17)])))
    assert _stored(db_url) == _recount(db_url)


def _by_hand(url: str, edges: tuple[datetime | None, ...], at: str
             ) -> Counter[tuple[str, int, str]]:
    def span(instant: datetime) -> int | None:
        first, last = edges[0], edges[-1]
        if (first is not None and instant < first) or (last is not None and instant >= last):
            return None
        return sum(1 for e in edges[1:-1] if e is not None and e <= instant)

    found: Counter[tuple[str, int, str]] = Counter()
    for status, reason, cause, opened, closed, rejections, *_ in _all(url):
        if at == "opened" and (i := span(opened)) is not None:
            found[("status", i, status)] += 1
            found[("reason_code", i, reason)] += 1
            if cause is not None:
                found[("root_cause", i, cause)] += 1
        if at == "closed" and closed is not None and (i := span(closed)) is not None:
            found[("closed", i, status)] += 1
            if rejections == 0:
                found[("first_time", i, status)] += 1
    return found


def _random_edges(rnd: random.Random) -> tuple[datetime | None, ...]:
    inner = sorted({_instant(rnd) for _ in range(rnd.randrange(0, 6))})
    if rnd.random() < 0.3 and inner:  # two edges in one day
        inner = sorted({*inner, inner[0] + timedelta(hours=3, microseconds=7)})
    first = None if rnd.random() < 0.3 else T0 + timedelta(days=rnd.randrange(-2, 5),
                                                           hours=rnd.choice([0, 7]))
    last = None if rnd.random() < 0.3 else T0 + timedelta(days=rnd.randrange(36, 45),
                                                          minutes=rnd.choice([0, 90]))
    inner = [e for e in inner if (first is None or e > first) and (last is None or e < last)]
    return (first, *inner, last)


@pytest.mark.parametrize("seed", range(12))
def test_counts_over_any_spans_equal_counting_every_dispute(db_url: str, seed: int) -> None:
    rnd = random.Random(seed)
    _write(db_url, rnd, 400)
    for _ in range(5):
        spans = tallies.Spans(_random_edges(rnd))
        with session_scope(db_url, readonly=True) as s:
            found = tallies.counts(s, (*tallies.OPENED_KINDS, *tallies.CLOSED_KINDS), spans)
        expected = _by_hand(db_url, spans.edges, "opened") + _by_hand(db_url, spans.edges,
                                                                       "closed")
        assert found == dict(expected), spans.edges


@pytest.mark.parametrize("seed", range(6))
def test_open_positions_over_any_spans_equal_the_open_disputes(db_url: str, seed: int) -> None:
    """Open at the last edge: not closed, or closed only after it (a report for a past
    instant, or one whose clock is behind a closing)."""
    rnd = random.Random(100 + seed)
    _write(db_url, rnd, 400)
    for _ in range(4):
        edges = _random_edges(rnd)
        spans = tallies.Spans(edges)
        with session_scope(db_url, readonly=True) as s:
            found = {k: (p.n, p.minor, p.epoch_us)
                     for k, p in tallies.open_positions(s, spans).items()}
        expected: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        last = edges[-1]
        for _, _, _, opened, closed, _, currency, minor in _all(db_url):
            open_then = closed is None or (last is not None and closed > last)
            if not open_then or (edges[0] is not None and opened < edges[0]) or (
                    last is not None and opened >= last):
                continue
            totals = expected[(sum(1 for e in edges[1:-1] if e is not None and e <= opened),
                               currency)]
            totals[0] += 1
            totals[1] += minor
            totals[2] += (opened - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        assert found == {k: tuple(v) for k, v in expected.items()}, edges


def test_the_tallies_triggers_are_in_place(db_url: str) -> None:
    """A migration that rebuilds the disputes table (SQLite's batch mode copies, drops and
    renames it) drops its triggers with it, and the tallies would drift from then on
    without an error: the head of the migrations must still have them."""
    with get_engine(db_url).connect() as c:
        if c.dialect.name == "postgresql":
            found = set(c.scalars(sa.text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'disputes'::regclass "
                "AND NOT tgisinternal AND tgenabled <> 'D'")))
            assert found == {"disputes_tally"}
        else:
            found = set(c.scalars(sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'disputes'")))
            assert found == {"disputes_tally_insert", "disputes_tally_update",
                             "disputes_tally_delete"}


def test_a_snapshot_that_changes_no_tallied_column_moves_nothing(db_url: str) -> None:
    """Each snapshot writes every column again (PostgreSQL's trigger fires on each): the
    same values leave every tally as it was."""
    _write(db_url, random.Random(5), 50)
    before = _stored(db_url)
    table = Dispute.__table__
    with get_engine(db_url).begin() as c:
        for row in c.execute(sa.select(table)).mappings().all():
            c.execute(sa.update(table).where(table.c.id == row["id"])
                      .values(**{**row, "revision": row["revision"] + 1}))
    assert _stored(db_url) == before == _recount(db_url)


def test_spans_refuse_edges_out_of_order() -> None:
    with pytest.raises(ValueError, match="increase"):
        tallies.Spans((T0, T0))
    with pytest.raises(ValueError, match="outer"):
        tallies.Spans((T0, None, T0 + timedelta(days=1)))
