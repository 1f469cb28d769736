"""The month-end close report on a month of known data (tests/support/analytics_history.py),
on SQLite and PostgreSQL: credits posted, open exposure, the reserve and its back-test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from db.month_end import PeriodError, month_end_report
from db.session import session_scope
from tests.support.analytics_history import DISPLAY, write_history

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


@pytest.fixture
def url(db_url: str) -> str:
    write_history(db_url)
    return db_url


def report(url: str, period: str = "2026-10", **kw: Any) -> dict[str, Any]:
    with session_scope(url, readonly=True) as s:
        return month_end_report(s, period=period, now=NOW, **kw)


def test_the_month_is_taken_in_the_policy_zone(url: str) -> None:
    r = report(url)
    assert (r["from"], r["to"]) == ("2026-10-01T07:00:00+00:00", "2026-11-01T07:00:00+00:00")
    assert r["timezone"] == "America/Los_Angeles" and r["base_currency"] == "USD"


def test_credits_posted_in_the_month(url: str) -> None:
    """M4 was posted on Oct 20; M7 only on Nov 10."""
    posted = report(url)["credits_posted"]
    assert (posted["credit_memos"], posted["base_amount"]) == (1, "330.00")
    assert posted["by_account"] == [{"account_id": "ADV-2", "account_name": "Brio Media",
                                     "credit_memos": 1, "base_amount": "330.00"}]
    assert posted["by_timing"] == [
        {"timing": "current", "credit_memos": 1, "base_amount": "330.00"},
        {"timing": "prior_period", "credit_memos": 0, "base_amount": "0.00"}]
    assert [(p["product"], p["base_total"]) for p in posted["by_product"]] == [
        (DISPLAY, "330.00")]


def test_open_exposure_at_the_months_end(url: str) -> None:
    exposure = report(url)["open_exposure"]
    assert (exposure["open_disputes"], exposure["base_amount"]) == (4, "1970.00")
    assert sum(b["count"] for b in exposure["aging"]) == 4


def test_reserve_weighs_open_amounts_by_grant_rate(url: str) -> None:
    """History before Nov 1: D4 (rate mismatch, agency) credited in full, D5 (contract
    terms, advertiser) denied. With one decided dispute enough for a basis:"""
    reserve = report(url, min_history=1)["reserve"]
    rows = [(g["reason_code"], g["account_type"], g["open_base_amount"], g["grant_rate"],
             g["rate_basis"], g["decided_disputes"], g["reserve_base_amount"])
            for g in reserve["groups"]]
    assert rows == [
        ("delivery_shortfall", "advertiser", "500.00", "0.5000", "all disputes", 2, "250.00"),
        ("rate_mismatch", "advertiser", "1250.00", "1.0000", "reason code", 1, "1250.00"),
        ("rate_mismatch", "agency", "220.00", "1.0000", "reason code and account type", 1,
         "220.00")]
    assert reserve["base_amount"] == "1720.00" and reserve["complete"]


def test_thin_history_falls_back_to_all_disputes(url: str) -> None:
    reserve = report(url)["reserve"]  # five decided disputes needed for a narrower basis
    assert {g["rate_basis"] for g in reserve["groups"]} == {"all disputes"}
    assert reserve["base_amount"] == "985.00"  # 1,970.00 at the all-disputes rate of 0.5


def test_reserve_backtest_against_what_was_credited_since(url: str) -> None:
    rows = {r["period"]: r for r in report(url, min_history=1)["reserve_backtest"]}
    assert list(rows) == ["2026-10", "2026-09", "2026-08", "2026-07", "2026-06", "2026-05"]
    assert rows["2026-10"] == {
        "period": "2026-10", "proposed_reserve": "1720.00", "credited_since": "250.00",
        "difference": "1470.00", "still_open_disputes": 3, "still_open_base_amount": "1720.00"}
    # At September's end nothing had been decided yet: no rate, nothing proposed; D7 open
    # then was credited 250.00 since, D3 is still open.
    assert (rows["2026-09"]["proposed_reserve"], rows["2026-09"]["credited_since"],
            rows["2026-09"]["still_open_disputes"]) == ("0.00", "250.00", 1)
    assert rows["2026-07"]["still_open_disputes"] == 0


def test_a_period_that_is_not_a_month_is_refused(url: str) -> None:
    for bad in ("2026-13", "October", "2026-1x", "2026-1"):
        with pytest.raises(PeriodError, match="YYYY-MM"):
            report(url, period=bad)
