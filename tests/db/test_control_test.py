"""The control test re-performs the approval matrix from stored data, one exception per
failed check, and passes clean memos, valid delegations and escalations."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from approvals.policy import DEFAULT_POLICY_DOCUMENT
from db import roles as role_history
from db.control_test import CHECKS, ControlTestResult, run_control_test
from db.models import (
    ApprovalLevel,
    CreditMemo,
    CreditMemoLine,
    Delegation,
    Dispute,
    LedgerPosting,
    PolicyVersion,
    RoleGrant,
    User,
)
from db.session import session_scope

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
USERS = {
    "u-cs": ["client_services"], "u-an": ["analyst"], "u-an2": ["analyst"],
    "u-bm": ["billing_manager"], "u-bm2": ["billing_manager"],
    "u-sbm": ["senior_billing_manager"], "u-dir": ["director_revops"],
    "u-anbm": ["analyst", "billing_manager"],
    "u-both": ["billing_manager", "senior_billing_manager"],
}


@pytest.fixture
def url(db_url: str) -> str:
    with session_scope(db_url) as s:
        for uid, roles in USERS.items():
            user = User(id=uid, name=uid, email=f"{uid}@example.com", roles=roles,
                        slack_user_id=None, active=True,
                        created_at=T0 - timedelta(days=30))
            s.add(user)
            s.flush()
            role_history.record_initial(s, user=user, actor="admin", at=user.created_at)
    return db_url


def _memo(url: str, number: str = "CM-1", *, base: int = 100000,
          levels: list[dict[str, Any]] | None = None, status: str = "posted",
          preparer: str = "u-an", opener: str = "u-cs", at: datetime = T0,
          postings: list[tuple[str, int]] | None = None, lines: list[int] | None = None,
          version: int = 1) -> None:
    """A USD memo of ``base`` minor units; levels default to one clean billing_manager level,
    postings to one exact posting, lines to one line of the full amount."""
    dispute_id = "DSP-" + number
    with session_scope(url) as s:
        s.add(Dispute(id=dispute_id, status="resolved", account_id="ADV-1",
                      invoice_number="INV-1", currency="USD", disputed_minor=base,
                      reason_code="rate_mismatch", opened_by=opener, opened_at=at,
                      closed_at=None, breached=False, root_cause=None, revision=1, view={}))
        s.flush()  # no ORM relationships: insert parents first for the foreign keys
        s.add(CreditMemo(number=number, dispute_id=dispute_id, account_id="ADV-1",
                         invoice_number="INV-1", status=status, currency="USD",
                         total_minor=base, base_currency="USD", base_total_minor=base,
                         fx_rate=Decimal(1), fx_as_of=date(2026, 11, 1), prior_period=False,
                         preparer_id=preparer, policy_version=version, tier_min=Decimal(0),
                         chain={"reasons": [], "closed_periods": [], "window_total_base": "0"},
                         created_at=at, posted_at=at + timedelta(hours=3)))
        s.flush()
        for i, amount in enumerate([base] if lines is None else lines):
            s.add(CreditMemoLine(memo_number=number, line_id=f"L{i}", invoice_number="INV-1",
                                 amount_minor=amount))
        for i, (currency, amount) in enumerate(
                [("USD", base)] if postings is None else postings):
            s.add(LedgerPosting(idempotency_key=f"k-{number}-{i}", reference=f"R-{number}-{i}",
                                memo_number=number, account_id="ADV-1", invoice_number="INV-1",
                                currency=currency, amount_minor=amount, posted_at=at))
        for i, lv in enumerate([{}] if levels is None else levels, start=1):
            s.add(ApprovalLevel(**{
                "memo_number": number, "level": i, "dispute_id": dispute_id,
                "role": "billing_manager", "status": "approved", "approver_id": "u-bm",
                "delegate_of": None, "decided_at": at + timedelta(hours=i), "channel": "api",
                "comment": None, "due_at": None, "sod_checks": [],
                "memo_preparer_id": preparer, "dispute_opener_id": opener, **lv}))


def _delegate(url: str, principal: str, delegate: str, start: datetime, end: datetime) -> None:
    with session_scope(url) as s:
        s.add(Delegation(user_id=principal, delegate_id=delegate, starts_at=start, ends_at=end,
                         created_by="test", created_at=T0 - timedelta(days=1)))


def _run(url: str, start: datetime | None = None, end: datetime | None = None
         ) -> ControlTestResult:
    with session_scope(url) as s:
        return run_control_test(s, start=start, end=end)


def _checks(url: str) -> list[str]:
    return [e.check for e in _run(url).exceptions]


def test_a_clean_posted_memo_passes(url: str) -> None:
    _memo(url)
    result = _run(url)
    assert result.ok and result.memos_checked == 1 and result.exceptions == []


def test_a_clean_two_level_approved_memo_passes(url: str) -> None:
    _memo(url, base=600000, status="approved", levels=[
        {}, {"role": "senior_billing_manager", "approver_id": "u-sbm"}])
    assert _run(url).ok


BROKEN: dict[str, dict[str, Any]] = {
    "chain_matches_policy": {"base": 600000},  # 6,000 USD needs a senior billing manager too
    "all_levels_approved": {"levels": [{"status": "escalated", "approver_id": None,
                                        "decided_at": None}]},
    "approver_authorized": {"levels": [{"approver_id": "u-an2"}]},
    "segregation_of_duties": {"preparer": "u-anbm", "levels": [{"approver_id": "u-anbm"}]},
    "approved_after_prepared": {"levels": [{"decided_at": T0 - timedelta(minutes=1)}]},
    "posted_equals_approved": {"postings": [("USD", 99999)]},
}


@pytest.mark.parametrize("check", CHECKS)
def test_each_check_fails_on_its_own(url: str, check: str) -> None:
    _memo(url, **BROKEN[check])
    result = _run(url)
    assert not result.ok
    assert [e.check for e in result.exceptions] == [check]
    (exc,) = result.exceptions
    assert exc.credit_memo == "CM-1" and exc.dispute_id == "DSP-CM-1"
    assert "CM-1" in exc.message and exc.evidence


def test_chain_mismatch_evidence_names_both_chains(url: str) -> None:
    _memo(url, base=600000)
    (exc,) = _run(url).exceptions
    assert exc.evidence["expected"] == ["billing_manager", "senior_billing_manager"]
    assert exc.evidence["actual"] == ["billing_manager"] and exc.evidence["tier_min"] == "0"
    assert "6,000.00 USD" in exc.message


@pytest.mark.parametrize("memo", [
    {"opener": "u-bm"},
    {"preparer": "u-anbm", "levels": [{"approver_id": "u-an2", "delegate_of": "u-anbm"}]},
    {"base": 600000, "levels": [{"approver_id": "u-both"},
                                {"role": "senior_billing_manager", "approver_id": "u-both"}]},
], ids=["approver_opened", "preparer_lent_authority", "same_approver_twice"])
def test_segregation_variants(url: str, memo: dict[str, Any]) -> None:
    _delegate(url, "u-anbm", "u-an2", T0, T0 + timedelta(days=1))  # a valid delegation
    _memo(url, **memo)
    assert _checks(url) == ["segregation_of_duties"]


@pytest.mark.parametrize("memo", [
    {"postings": []},
    {"postings": [("USD", 100000), ("USD", 100000)]},
    {"postings": [("EUR", 100000)]},
    {"lines": [60000, 30000]},
], ids=["not_posted", "posted_twice", "wrong_currency", "lines_do_not_add_up"])
def test_posting_variants(url: str, memo: dict[str, Any]) -> None:
    _memo(url, **memo)
    assert _checks(url) == ["posted_equals_approved"]


def test_a_delegate_inside_the_window_passes_and_outside_fails(url: str) -> None:
    lend = {"approver_id": "u-an2", "delegate_of": "u-bm"}
    _delegate(url, "u-bm", "u-an2", T0, T0 + timedelta(hours=2))
    _memo(url, "CM-in", levels=[{**lend, "decided_at": T0 + timedelta(hours=1)}])
    _memo(url, "CM-end", levels=[{**lend, "decided_at": T0 + timedelta(hours=2)}])
    result = _run(url)
    assert result.memos_checked == 2
    assert [(e.credit_memo, e.check) for e in result.exceptions] == [
        ("CM-end", "approver_authorized")]
    assert result.exceptions[0].evidence["levels"][0]["delegations"] == [
        [T0.isoformat(), (T0 + timedelta(hours=2)).isoformat()]]


def test_a_delegation_from_someone_without_the_role_does_not_authorize(url: str) -> None:
    _delegate(url, "u-dir", "u-an2", T0, T0 + timedelta(days=1))
    _memo(url, levels=[{"approver_id": "u-an2", "delegate_of": "u-dir"}])
    assert _checks(url) == ["approver_authorized"]


def test_the_escalation_role_is_accepted_one_step_only(url: str) -> None:
    _memo(url, "CM-sbm", levels=[{"approver_id": "u-sbm"}])
    _memo(url, "CM-dir", levels=[{"approver_id": "u-dir"}], at=T0 + timedelta(minutes=1))
    result = _run(url)
    assert [(e.credit_memo, e.check) for e in result.exceptions] == [
        ("CM-dir", "approver_authorized")]
    assert result.exceptions[0].evidence["levels"][0]["allowed_roles"] == [
        "billing_manager", "senior_billing_manager"]


def test_memos_never_approved_are_skipped(url: str) -> None:
    broken = {"levels": [{"approver_id": "u-an2"}], "postings": []}
    for i, status in enumerate(["rejected", "voided", "pending_approval"]):
        _memo(url, f"CM-{i}", status=status, **broken)
    result = _run(url)
    assert result.ok and result.memos_checked == 0


def test_a_memo_the_ledger_refused_is_checked_as_approved(url: str) -> None:
    """Refused by the ERP, it was approved all the same: its chain is evidence too."""
    _memo(url, status="posting_failed", levels=[{"approver_id": "u-an2"}], postings=[])
    result = _run(url)
    assert result.memos_checked == 1
    assert [e.check for e in result.exceptions] == ["approver_authorized"]


def test_a_de_minimis_memo_under_its_policy_passes(url: str) -> None:
    document = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    document["tiers"] = [{"min": "0", "levels": []}, *document["tiers"]]
    document["tiers"][1]["min"] = "100"
    with session_scope(url) as s:
        s.add(PolicyVersion(version=2, document=document, created_by="test", created_at=T0,
                            effective_from=T0))
    _memo(url, "CM-v2", base=5000, levels=[], version=2)
    _memo(url, "CM-v1", base=5000, levels=[], version=1, at=T0 + timedelta(minutes=1))
    assert [(e.credit_memo, e.check) for e in _run(url).exceptions] == [
        ("CM-v1", "chain_matches_policy")]


def test_an_unknown_policy_version_is_reported_not_raised(url: str) -> None:
    _memo(url, version=42)
    (exc,) = _run(url).exceptions
    assert exc.check == "chain_matches_policy" and "42" in exc.message


def test_the_period_is_start_inclusive_end_exclusive(url: str) -> None:
    for day in range(4):
        _memo(url, f"CM-{day}", at=T0 + timedelta(days=day), levels=[{"approver_id": "u-an2"}])
    result = _run(url, start=T0 + timedelta(days=1), end=T0 + timedelta(days=3))
    assert result.memos_checked == 2
    assert [e.credit_memo for e in result.exceptions] == ["CM-1", "CM-2"]
    assert result.start == T0 + timedelta(days=1)


def _held(url: str, uid: str, role: str, since: datetime, until: datetime | None) -> None:
    """Rewrite ``uid``'s holding of ``role`` as ``[since, until)`` (what the history says)."""
    with session_scope(url) as s:
        for row in role_history.history(s, uid):
            if row.role == role:
                row.granted_at, row.removed_at = since, until
                row.removed_by = "admin" if until else None


def test_a_role_removed_after_the_decision_is_not_an_exception(url: str) -> None:
    _memo(url)  # u-bm decided at T0 + 1 h
    _held(url, "u-bm", "billing_manager", T0 - timedelta(days=30), T0 + timedelta(days=2))
    with session_scope(url) as s:
        user = s.get(User, "u-bm")
        assert user is not None
        user.roles = []  # as the removal left them
    assert _run(url).ok


def test_a_role_granted_only_after_the_decision_is_an_exception(url: str) -> None:
    _memo(url)
    _held(url, "u-bm", "billing_manager", T0 + timedelta(hours=2), None)
    result = _run(url)
    assert [e.check for e in result.exceptions] == ["approver_authorized"]
    assert "u-bm" in result.exceptions[0].message
    # The evidence shows the history the auditor can check it against.
    assert "role_history" in str(result.exceptions[0].evidence)


def test_a_gap_in_the_role_covering_the_decision_is_an_exception(url: str) -> None:
    """Removed before the decision and granted again after it: both holdings are on record
    and neither covers the decision."""
    _memo(url)  # decided at T0 + 1 h
    _held(url, "u-bm", "billing_manager", T0 - timedelta(days=30), T0)
    with session_scope(url) as s:
        s.add(RoleGrant(user_id="u-bm", role="billing_manager", granted_at=T0 + timedelta(hours=2),
                        granted_by="admin", grant_reason="back from leave"))
    assert _checks(url) == ["approver_authorized"]
