"""The reconciliation report on known rows: which memos were approved in the month (in the
policy's time zone), which are posted with the ledger's reference, which the ledger refused,
and every mismatch with the ledger book. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from db.models import CreditMemo, Dispute, LedgerPosting
from db.month_end import PeriodError
from db.reconciliation import reconciliation_report
from db.session import session_scope
from tests.conftest import People

# The default policy counts months in America/Los_Angeles: October is [Oct 1 07:00Z, Nov 1 07:00Z).
IN_OCT = datetime(2026, 10, 10, 12, tzinfo=UTC)
EARLY_NOV_UTC = datetime(2026, 11, 1, 3, tzinfo=UTC)  # still October 31 in Los Angeles
IN_NOV = datetime(2026, 11, 2, 12, tzinfo=UTC)
SEPT_LOCAL = datetime(2026, 10, 1, 5, tzinfo=UTC)  # still September 30 in Los Angeles


def _memo(number: str, status: str, approved_at: datetime | None, *, total_minor: int = 10000,
          currency: str = "USD", base_minor: int | None = None, reference: str | None = None,
          error: str | None = None) -> CreditMemo:
    return CreditMemo(
        number=number, dispute_id="DSP-R1", account_id="ADV-1", invoice_number="INV-1001",
        status=status, currency=currency, total_minor=total_minor, base_currency="USD",
        base_total_minor=base_minor if base_minor is not None else total_minor,
        fx_rate=1, fx_as_of=date(2026, 10, 1), prior_period=False, preparer_id="U-A",
        policy_version=1, tier_min=0, chain={}, created_at=IN_OCT, approved_at=approved_at,
        posted_at=approved_at if status == "posted" else None, ledger_reference=reference,
        posting_error=error)


def _posting(number: str, reference: str, key: str | None = None) -> LedgerPosting:
    return LedgerPosting(idempotency_key=key or f"credit-memo:{number}", reference=reference,
                         memo_number=number, account_id="ADV-1", invoice_number="INV-1001",
                         currency="USD", amount_minor=10000, posted_at=IN_OCT)


@pytest.fixture
def books(db_url: str, seeded: People) -> str:
    with session_scope(db_url) as s:
        s.add(Dispute(id="DSP-R1", status="resolved", account_id="ADV-1",
                      invoice_number="INV-1001", currency="USD", disputed_minor=100000,
                      reason_code="other", opened_by="U-C", opened_at=IN_OCT, revision=1,
                      view={"id": "DSP-R1"}))
        s.flush()
        s.add_all([
            _memo("CM-OK", "posted", IN_OCT, reference="ERP-1"),
            _memo("CM-LATE-OCT", "posted", EARLY_NOV_UTC, reference="ERP-2", total_minor=5000),
            _memo("CM-FAILED", "posting_failed", IN_OCT, total_minor=2500,
                  error="The ERP refused the posting (HTTP 422): invoice closed"),
            _memo("CM-WAITING", "approved", IN_OCT, total_minor=700),
            _memo("CM-NOREF", "posted", IN_OCT),
            _memo("CM-MISMATCH", "posted", IN_OCT, reference="ERP-9"),
            _memo("CM-TWICE", "posted", IN_OCT, reference="ERP-5"),
            _memo("CM-EUR", "posted", IN_OCT, reference="ERP-6", currency="EUR",
                  total_minor=1000, base_minor=1080),
            _memo("CM-SEPT", "posted", SEPT_LOCAL, reference="ERP-7"),
            _memo("CM-NOV", "posted", IN_NOV, reference="ERP-8"),
            _memo("CM-PENDING", "pending_approval", None),
        ])
        s.flush()
        s.add_all([_posting("CM-OK", "ERP-1"), _posting("CM-LATE-OCT", "ERP-2"),
                   _posting("CM-MISMATCH", "ERP-4"), _posting("CM-TWICE", "ERP-5"),
                   _posting("CM-TWICE", "ERP-5B", key="other-key"),
                   _posting("CM-EUR", "ERP-6"), _posting("CM-SEPT", "ERP-7"),
                   _posting("CM-NOV", "ERP-8")])
    return db_url


def test_the_month_sets_approved_against_posted_and_the_ledger_book(books: str) -> None:
    with session_scope(books, readonly=True) as s:
        report = reconciliation_report(s, period="2026-10")
    items = {i["number"]: i for i in report["items"]}
    assert set(items) == {"CM-OK", "CM-LATE-OCT", "CM-FAILED", "CM-WAITING", "CM-NOREF",
                          "CM-MISMATCH", "CM-TWICE", "CM-EUR"}
    assert {n: i["exceptions"] for n, i in items.items()} == {
        "CM-OK": [], "CM-LATE-OCT": [], "CM-EUR": [],
        "CM-FAILED": ["posting_failed"], "CM-WAITING": ["not_posted"],
        "CM-NOREF": ["missing_reference", "not_in_ledger_book"],
        "CM-MISMATCH": ["reference_mismatch"], "CM-TWICE": ["posted_more_than_once"]}
    assert items["CM-FAILED"]["posting_error"].endswith("invoice closed")
    assert items["CM-TWICE"]["ledger_book_references"] == ["ERP-5", "ERP-5B"]
    assert items["CM-EUR"]["total"] == "10.00" and items["CM-EUR"]["base_total"] == "10.80"
    assert report["summary"] == {
        "approved": {"credit_memos": 8, "base_amount": "492.80"},
        "posted": {"credit_memos": 6, "base_amount": "460.80"},
        "not_posted": {"credit_memos": 1, "base_amount": "7.00"},
        "posting_failed": {"credit_memos": 1, "base_amount": "25.00"},
        "voided_after_approval": {"credit_memos": 0, "base_amount": "0.00"},
        "missing_reference": 1, "exceptions": 5}
    assert report["by_currency"] == [
        {"currency": "EUR", "approved": "10.00", "posted": "10.00", "not_posted": "0.00"},
        {"currency": "USD", "approved": "482.00", "posted": "450.00", "not_posted": "32.00"}]
    assert report["reconciled"] is False
    assert report["timezone"] == "America/Los_Angeles"


def test_a_month_with_nothing_approved_is_reconciled_and_a_bad_period_refused(
    books: str,
) -> None:
    with session_scope(books, readonly=True) as s:
        empty = reconciliation_report(s, period="2025-01")
        with pytest.raises(PeriodError):
            reconciliation_report(s, period="2026-13")
    assert empty["items"] == [] and empty["reconciled"] is True
    assert empty["summary"]["approved"] == {"credit_memos": 0, "base_amount": "0.00"}
