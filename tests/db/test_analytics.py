"""Every analytics table on a month of known data (tests/support/analytics_history.py), the
same on SQLite and PostgreSQL: the numbers a billing manager would work out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from db import analytics, analytics_trends, metrics, report_window
from db.session import session_scope
from tests.support.analytics_history import DISPLAY, END, SP, START, write_history

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


@pytest.fixture
def url(db_url: str) -> str:
    write_history(db_url)
    return db_url


def table(url: str, name: str, start: datetime | None = START,
          end: datetime | None = END) -> list[dict[str, object]]:
    with session_scope(url, readonly=True) as s:
        return analytics.TABLES[name](s, report_window.window_for(s, start=start, end=end, now=NOW))


def test_aging_is_taken_at_the_end_of_the_window(url: str) -> None:
    """D7 closed after the window, so it was open at its end; D8 opened after it."""
    rows = table(url, "aging")
    assert [(r["bucket"], r["count"], r["base_amount"]) for r in rows] == [
        ("0-7", 1, "500.00"), ("8-14", 0, "0.00"), ("15-30", 1, "1000.00"),
        ("31-60", 1, "250.00"), ("61+", 1, "220.00")]


def test_aging_at_the_end_of_the_window_read_at_that_moment(url: str) -> None:
    """The daily digest reads the day that just ended with the clock at its end: D7, closed
    since, still counts as open then."""
    with session_scope(url, readonly=True) as s:
        rows = analytics.aging(s, report_window.window_for(s, start=START, end=END, now=END))
        [outstanding] = analytics.outstanding(
            s, report_window.window_for(s, start=START, end=END, now=END))
    assert rows == table(url, "aging")
    assert outstanding["open_disputes"] == 4


def test_aging_now_sees_what_is_open_now(url: str) -> None:
    rows = table(url, "aging", start=None, end=None)
    assert sum(int(r["count"]) for r in rows) == 4  # D1, D2, D3 and D8; D7 has closed
    assert {r["bucket"]: r["count"] for r in rows}["0-7"] == 0


def test_days_dispute_outstanding(url: str) -> None:
    [row] = table(url, "days_dispute_outstanding")
    # Ages at Nov 1 07:00: 29.58 (D1), 3.58 (D2), 67.58 (D3), 41.58 (D7) days.
    assert row == {"as_of": END.isoformat(), "open_disputes": 4,
                   "days_dispute_outstanding": 35.58}


def test_valid_dispute_rate_counts_verdicts_not_withdrawals(url: str) -> None:
    assert table(url, "valid_dispute_rate") == [
        {"decided": 2, "credited": 1, "valid_dispute_rate": 0.5}]


def test_first_time_invoice_accuracy(url: str) -> None:
    # Issued in October: INV-1, INV-2, INV-3, INV-5; disputed ever: INV-1, INV-2, INV-3.
    assert table(url, "first_time_invoice_accuracy") == [
        {"invoices_issued": 4, "invoices_disputed": 3, "first_time_invoice_accuracy": 0.25}]


def test_first_time_invoice_accuracy_of_all_time(url: str) -> None:
    # All five invoices; INV-4 (September) was never disputed either.
    assert table(url, "first_time_invoice_accuracy", start=None, end=None) == [
        {"invoices_issued": 5, "invoices_disputed": 3, "first_time_invoice_accuracy": 0.4}]


def test_invoice_days_are_the_policy_calendars(url: str) -> None:
    """October in Los Angeles ends at 07:00 UTC on Nov 1: an invoice issued on Nov 1 is
    November's, one issued on Oct 1 October's."""
    from datetime import date

    from db.models import Invoice

    with session_scope(url) as s:
        s.add_all([Invoice(number="INV-NOV", account_id="ADV-1", currency="USD",
                           period="2026-11", issued_on=date(2026, 11, 1), total_minor=100),
                   Invoice(number="INV-OCT1", account_id="ADV-1", currency="USD",
                           period="2026-10", issued_on=date(2026, 10, 1), total_minor=100)])
    [row] = table(url, "first_time_invoice_accuracy")
    assert (row["invoices_issued"], row["invoices_disputed"]) == (5, 3)  # + INV-OCT1 only


def test_overdue_is_counted_now_whatever_the_period(url: str) -> None:
    """M2's level fell due on Oct 30 and is still waiting: overdue now, even on a page for
    a period that ended before it fell due."""
    rows = table(url, "approver_workload", start=START, end=datetime(2026, 10, 29, tzinfo=UTC))
    assert rows[0]["role"] == "billing_manager" and (rows[0]["waiting"], rows[0]["overdue"]) \
        == (1, 1)


def test_a_week_with_a_dst_change_ends_at_the_next_local_monday() -> None:
    from zoneinfo import ZoneInfo

    w = report_window.Window(start=datetime(2026, 10, 18, 22, tzinfo=UTC),
                         end=datetime(2026, 11, 1, 23, tzinfo=UTC), as_of=NOW, base="EUR",
                         timezone="Europe/Berlin", now=NOW)
    bounds = analytics_trends.week_bounds(w)
    # Berlin leaves summer time on Oct 25: that week is 169 hours long.
    assert bounds[0] == (datetime(2026, 10, 18, 22, tzinfo=UTC),
                         datetime(2026, 10, 25, 23, tzinfo=UTC))
    assert bounds[0][1] == bounds[1][0]
    assert all(end.astimezone(ZoneInfo("Europe/Berlin")).hour == 0 for _, end in bounds)


def test_credits_by_tier_and_by_product(url: str) -> None:
    assert table(url, "credits_by_tier") == [
        {"tier_min": "0", "credits": 2, "base_total": "580.00", "base_currency": "USD"}]
    assert table(url, "credits_by_product") == [
        {"product": DISPLAY, "credit_memos": 2, "base_total": "430.00", "base_currency": "USD"},
        {"product": SP, "credit_memos": 1, "base_total": "150.00", "base_currency": "USD"}]


def test_revenue_at_risk_by_account(url: str) -> None:
    assert table(url, "revenue_at_risk_by_account") == [
        {"account_id": "ADV-1", "account_name": "Acme Foods", "account_type": "advertiser",
         "open_disputes": 3, "base_amount": "1750.00", "base_currency": "USD"},
        {"account_id": "ADV-2", "account_name": "Brio Media", "account_type": "agency",
         "open_disputes": 1, "base_amount": "220.00", "base_currency": "USD"}]


def test_revenue_at_risk_by_product(url: str) -> None:
    """D1 1,000 on L1; D2 500 over L1 and L2 alike; D3 220 (200 EUR) and D7 250 on Display."""
    assert table(url, "revenue_at_risk_by_product") == [
        {"product": SP, "open_disputes": 2, "base_amount": "1250.00", "base_currency": "USD"},
        {"product": DISPLAY, "open_disputes": 3, "base_amount": "720.00",
         "base_currency": "USD"}]


def test_a_dispute_whose_lines_are_unknown_is_its_own_row(url: str) -> None:
    from db.models import Dispute

    with session_scope(url) as s:  # its invoice was not in the billing data at intake
        s.add(Dispute(id="D9", status="investigating", account_id="ADV-1",
                      invoice_number="INV-GONE", currency="USD", disputed_minor=7000,
                      reason_code="other", opened_by="u-cs", opened_at=START, closed_at=None,
                      breached=False, root_cause=None, revision=1, view={"id": "D9"}))
    rows = table(url, "revenue_at_risk_by_product")
    assert rows[-1] == {"product": "(invoice lines unknown)", "open_disputes": 1,
                        "base_amount": "70.00", "base_currency": "USD"}
    assert [r["base_amount"] for r in rows[:-1]] == ["1250.00", "720.00"]


def test_breaches_per_clock_and_per_dispute(url: str) -> None:
    assert table(url, "breaches") == [
        {"clock": "acknowledge", "clock_label": "Acknowledge", "breaches": 1, "disputes": 1,
         "still_open": 0},
        {"clock": "approval", "clock_label": "Approval levels", "breaches": 1, "disputes": 1,
         "still_open": 1},
        {"clock": "investigate", "clock_label": "Investigate", "breaches": 1, "disputes": 1,
         "still_open": 1},
        {"clock": "resolve", "clock_label": "Resolve", "breaches": 1, "disputes": 1,
         "still_open": 0}]
    with session_scope(url, readonly=True) as s:
        window = report_window.window_for(s, start=START, end=END, now=NOW)
        assert analytics.breached_disputes(s, window) == 3  # four clocks, three disputes


def test_weekly_trends_use_the_policy_time_zone(url: str) -> None:
    rows = table(url, "trends_root_cause")
    weeks = sorted({r["week_start"] for r in rows})
    assert weeks == ["2026-09-28", "2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26"]
    found = {(r["week_start"], r["root_cause"]): r["opened"] for r in rows if r["opened"]}
    # D5 opened Monday 03:00 UTC, still Sunday in Los Angeles: the week of Oct 12.
    assert found == {("2026-10-05", "rate_card"): 1,
                     ("2026-10-12", "customer_misunderstanding"): 1,
                     ("2026-10-26", "rate_card"): 1}
    reasons = {(r["week_start"], r["reason_code"]): r["opened"]
               for r in table(url, "trends_reason_code") if r["opened"]}
    assert reasons == {("2026-09-28", "rate_mismatch"): 1, ("2026-10-05", "other"): 1,
                       ("2026-10-05", "rate_mismatch"): 1, ("2026-10-12", "contract_terms"): 1,
                       ("2026-10-26", "delivery_shortfall"): 1}
    assert {r["timezone"] for r in rows} == {"America/Los_Angeles"}


def test_pareto_of_root_causes(url: str) -> None:
    assert table(url, "pareto_root_causes") == [
        {"root_cause": "rate_card", "disputes": 2, "share": 0.6667, "cumulative_share": 0.6667},
        {"root_cause": "customer_misunderstanding", "disputes": 1, "share": 0.3333,
         "cumulative_share": 1.0}]


def test_approver_workload_per_role_and_person(url: str) -> None:
    rows = [(r["role"], r["person_name"], r["waiting"], r["overdue"], r["decided"])
            for r in table(url, "approver_workload")]
    assert rows == [
        ("billing_manager", None, 1, 1, 2),
        ("billing_manager", "Ana", 0, 0, 0),  # she prepared the memo waiting
        ("billing_manager", "Bea", 1, 1, 1),
        ("billing_manager", "Ben", 1, 1, 1),
        ("senior_billing_manager", None, 0, 0, 1),
        ("senior_billing_manager", "Sam", 0, 0, 1)]


def test_decision_time_per_level(url: str) -> None:
    assert table(url, "decision_time") == [
        {"level": 1, "role": "billing_manager", "decisions": 2, "mean_hours": 24.0,
         "max_hours": 24.0},
        {"level": 2, "role": "senior_billing_manager", "decisions": 1, "mean_hours": 6.0,
         "max_hours": 6.0}]


def test_metrics_carry_the_contract_figures(url: str) -> None:
    with session_scope(url, readonly=True) as s:
        m = metrics.compute(s, start=START, end=END, now=NOW)
    assert m["aging"]["61+"] == {"count": 1, "base_amount": "220.00"}
    assert m["valid_dispute_rate"] == 0.5 and m["first_time_invoice_accuracy"] == 0.25
    assert m["days_dispute_outstanding"] == 35.58
    assert m["breaches_total"] == 4 and m["breached_disputes"] == 3
    assert {r["root_cause"] for r in m["trends"]["root_cause"]} == {
        "rate_card", "customer_misunderstanding"}
    assert m["credits_by_tier"][0]["base_total"] == "580.00"
