"""Pieces of the pages that need no browser: the list's amount range (db.dispute_list.ListFilter
min/max: bounds in each dispute's own currency, rounded inwards to its minor units), the
dashboard's period, the list's filter parsing, CSRF and redirect helpers, charts, and who may
act on an approval level."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from api.web import charts
from api.web.auth import csrf_token, safe_next
from api.web.pages_dashboard import parse_period
from api.web.pages_disputes import overdue_by, parse_list_query
from api.web.queue import Authority
from db import dispute_list
from db.models import Dispute
from db.session import session_scope

AMOUNTS = {"DSP-USD": ("USD", 25_000), "DSP-JPY": ("JPY", 250), "DSP-KWD": ("KWD", 250)}


@pytest.fixture
def url(db_url: str) -> str:
    now = datetime.now(UTC)
    with session_scope(db_url) as s:
        for i, (did, (currency, minor)) in enumerate(AMOUNTS.items()):
            s.add(Dispute(id=did, status="investigating", account_id="ADV-1",
                          invoice_number="INV-1", currency=currency, disputed_minor=minor,
                          reason_code="other", opened_by="U-1",
                          opened_at=now - timedelta(days=i), closed_at=None, breached=False,
                          root_cause=None, revision=1, view={"id": did}))
    return db_url


def ids(url: str, low: str | None, high: str | None) -> set[str]:
    with session_scope(url, readonly=True) as s:
        items, _ = dispute_list.list_views(s, filters=dispute_list.ListFilter(
            min_amount=Decimal(low) if low else None, max_amount=Decimal(high) if high else None),
            limit=50, cursor=None)
    return {v["id"] for v in items}


def test_amount_range_in_each_currency(url: str) -> None:
    assert ids(url, "100", "300") == {"DSP-USD", "DSP-JPY"}  # 250.00 USD, 250 JPY
    assert ids(url, "0.2", "0.3") == {"DSP-KWD"}  # 0.250 KWD
    assert ids(url, "250", "250") == {"DSP-USD", "DSP-JPY"}  # inclusive
    assert ids(url, "250.001", None) == set()
    # 0.5 JPY: a lower bound rounds up to 1, an upper bound down to 0.
    assert ids(url, None, "0.5") == {"DSP-KWD"}
    assert ids(url, "0.5", None) == {"DSP-USD", "DSP-JPY"}  # 0.250 KWD is below
    assert ids(url, None, None) == set(AMOUNTS)


def test_dashboard_period_is_days_in_the_policy_zone() -> None:
    today = date(2026, 11, 3)
    default = parse_period({}, today)
    assert (default.first, default.last) == (date(2026, 10, 5), today) and not default.errors
    october = parse_period({"from": "2026-10-01", "to": "2026-10-31"}, today)
    # Los Angeles: midnight is 07:00 UTC in October and 08:00 UTC after Nov 1 (DST ends).
    assert october.bounds(ZoneInfo("America/Los_Angeles")) == (
        datetime(2026, 10, 1, 7, tzinfo=UTC), datetime(2026, 11, 1, 7, tzinfo=UTC))
    assert parse_period({"from": "2026-11-01", "to": "2026-11-01"}, today).bounds(
        ZoneInfo("America/Los_Angeles")) == (datetime(2026, 11, 1, 7, tzinfo=UTC),
                                             datetime(2026, 11, 2, 8, tzinfo=UTC))
    assert parse_period({"period": "all"}, today).bounds(ZoneInfo("UTC")) == (None, None)
    bad = parse_period({"from": "01/10/2026", "to": "2026-09-01"}, today)
    assert bad.errors == {"from": "From: enter a date such as 2026-10-01."}
    backwards = parse_period({"from": "2026-10-02", "to": "2026-10-01"}, today)
    assert backwards.errors == {"to": "To: choose a day on or after From."}
    since = parse_period({"from": "2026-10-02", "to": ""}, today)  # "To" cleared: until today
    assert (since.first, since.last, since.errors) == (date(2026, 10, 2), today, {})
    assert parse_period({"to": "2026-10-31"}, today).errors == {
        "from": "From: enter the period's first day."}
    assert parse_period({"from": "2026-10-01", "to": "9999-12-31"}, today).errors == {
        "to": "To: choose a day before 9999-12-31."}


def test_list_filters_the_dashboard_links_set(url: str) -> None:
    now = datetime.now(UTC)
    q = parse_list_query({"open_at": now.isoformat(),
                          "opened_from": (now - timedelta(days=1, hours=1)).isoformat()})
    assert not q.errors
    with session_scope(url, readonly=True) as s:
        items, _ = dispute_list.list_views(s, filters=q.filters, limit=50, cursor=None)
    assert {v["id"] for v in items} == {"DSP-USD", "DSP-JPY"}  # opened now and a day ago
    q = parse_list_query({"open_at": "yesterday", "root_cause": "bad_luck"})
    assert set(q.errors) == {"open_at", "root_cause"}
    assert "not a date and time" in q.errors["open_at"]


def test_list_query_problems_are_field_errors() -> None:
    q = parse_list_query({"status": "bogus", "min_amount": "abc", "max_amount": "-1",
                          "breached": "maybe"})
    assert set(q.errors) == {"status", "min_amount", "max_amount", "breached"}
    q = parse_list_query({"min_amount": "20", "max_amount": "10"})
    assert "max_amount" in q.errors
    q = parse_list_query({"status": "resolved", "min_amount": "10.5", "breached": "yes"})
    assert not q.errors and q.filters.min_amount == Decimal("10.5") and q.filters.breached


def test_csrf_and_next_helpers() -> None:
    assert csrf_token("a") != csrf_token("b") and len(csrf_token("a")) == 64
    assert safe_next("/disputes?x=1") == "/disputes?x=1"
    for bad in ("//evil.example", "https://evil.example", "/\\evil", "disputes", None, 3):
        assert safe_next(bad) is None


def test_charts_escape_labels() -> None:
    svg = str(charts.hbars("T <1>", [("<script>", 3.0), ("b&c", 1.5)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "b&amp;c" in svg
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    line = str(charts.trend("Trend", ["2026-11-01", "2026-11-02"], [("opened", "#000", [1, 2])]))
    assert "<polyline" in line and "opened: 3 in 2 days" in line


def test_authority_acting_as() -> None:
    auth = Authority(own=frozenset({"billing_manager"}),
                     delegated={"senior_billing_manager": ["Sam"]},
                     escalation_sources=frozenset({"billing_manager"}))
    assert auth.acting_as("billing_manager", "pending", None) == "as billing manager"
    assert auth.acting_as("senior_billing_manager", "pending", None) == \
        "as delegate of Sam (senior billing manager)"
    assert auth.acting_as("controller", "pending", "billing_manager") is None  # not escalated
    assert auth.acting_as("controller", "escalated", "billing_manager") == \
        "as billing manager (escalation backup)"
    assert auth.acting_as("director_revops", "escalated", "controller") is None


def test_overdue_by_takes_the_latest_running_clock() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    def clock(due: datetime, stopped: bool = False) -> dict[str, object]:
        return {"due_at": due.isoformat(), "breached": due < now,
                "stopped_at": now.isoformat() if stopped else None}
    assert overdue_by({"resolve": clock(now + timedelta(days=1))}, now) is None
    assert overdue_by({"investigate": clock(now - timedelta(minutes=40))}, now) == "40 min"
    assert overdue_by({"a": clock(now - timedelta(hours=5, minutes=10)),
                       "b": clock(now - timedelta(minutes=3))}, now) == "5 h 10 min"
    assert overdue_by({"a": clock(now - timedelta(days=2, hours=3)),
                       "b": clock(now - timedelta(days=9), stopped=True)}, now) == "2 d 3 h"
    assert overdue_by(None, now) is None
