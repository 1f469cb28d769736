"""Migration 0022 fills the memos already there as the snapshot writes them now: approved at
their last level's decision (at creation with no level), if they were approved; the
reference of their posting in the ledger book."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from db.migrate import upgrade
from db.session import get_engine
from db.types import UTCDateTime
from tests.db.test_migration_backfills import (  # noqa: F401  (empty_url: the fixture)
    ACCOUNTS,
    DISPUTES,
    INVOICES,
    MEMOS,
    T0,
    empty_url,
    write_account_and_invoice,
)

LEVELS = sa.table("approval_levels", *(sa.column(c) for c in (
    "memo_number", "level", "dispute_id", "role", "status", "approver_id", "delegate_of",
    "channel", "comment")), sa.column("decided_at", UTCDateTime()),
    sa.column("due_at", UTCDateTime()), sa.column("sod_checks", sa.JSON()))
POSTINGS = sa.table("ledger_postings", *(sa.column(c) for c in (
    "idempotency_key", "reference", "memo_number", "account_id", "invoice_number", "currency",
    "amount_minor")), sa.column("posted_at", UTCDateTime()))


def test_memos_before_0022_learn_when_they_were_approved_and_their_reference(
    empty_url: str,  # noqa: F811
) -> None:
    upgrade(empty_url, "0021")
    hours = [T0 + timedelta(hours=h) for h in range(10)]
    # memo: status, [(level, status, decided)]
    memos = {
        "CM-1": ("posted", [(1, "approved", hours[2]), (2, "approved", hours[5])]),
        "CM-2": ("posted", []),  # auto-approved: at its creation
        "CM-3": ("pending_approval", [(1, "approved", hours[1]), (2, "pending", None)]),
        "CM-4": ("voided", [(1, "approved", hours[1]), (2, "voided", None)]),
        "CM-5": ("rejected", [(1, "rejected", hours[3])]),
        "CM-6": ("approved", [(1, "approved", hours[4])]),  # being posted
    }
    with get_engine(empty_url).begin() as c:
        write_account_and_invoice(c)
        c.execute(sa.insert(DISPUTES), [{
            "id": "D-1", "status": "resolved", "account_id": "ADV-1",
            "invoice_number": "INV-1", "currency": "USD", "disputed_minor": 1000,
            "reason_code": "other", "opened_by": "U-1", "breached": False,
            "root_cause": None, "turnaround_s": None, "rejections": 0, "revision": 1,
            "opened_at": T0, "closed_at": None, "view": {"id": "D-1"}}])
        c.execute(sa.insert(MEMOS), [{
            "number": number, "dispute_id": "D-1", "account_id": "ADV-1",
            "invoice_number": "INV-1", "status": status, "currency": "USD",
            "total_minor": 700, "base_currency": "USD", "base_total_minor": 700,
            "fx_rate": "1", "fx_as_of": date(2026, 10, 2), "prior_period": False,
            "preparer_id": "U-2", "policy_version": 1, "tier_min": "0", "chain": {},
            "created_at": hours[0], "posted_at": hours[6] if status == "posted" else None}
            for number, (status, _) in memos.items()])
        c.execute(sa.insert(LEVELS), [
            {"memo_number": number, "level": level, "dispute_id": "D-1",
             "role": f"role_{level}", "status": status,
             "approver_id": "U-3" if decided else None, "delegate_of": None,
             "decided_at": decided, "channel": "api" if decided else None, "comment": None,
             "due_at": None, "sod_checks": []}
            for number, (_, chain) in memos.items() for level, status, decided in chain])
        c.execute(sa.insert(POSTINGS), [
            {"idempotency_key": f"credit-memo:{n}", "reference": f"LGR-{n}", "memo_number": n,
             "account_id": "ADV-1", "invoice_number": "INV-1", "currency": "USD",
             "amount_minor": 700, "posted_at": hours[6]} for n in ("CM-1", "CM-2")])
    upgrade(empty_url)
    with get_engine(empty_url).connect() as c:
        filled = sa.table("credit_memos", sa.column("number"),
                          sa.column("approved_at", UTCDateTime()),
                          sa.column("ledger_reference"), sa.column("posting_error"))
        rows = {n: (at, ref, err) for n, at, ref, err in c.execute(sa.select(
            filled.c.number, filled.c.approved_at, filled.c.ledger_reference,
            filled.c.posting_error))}
        long_ref = "ERP-" + "9" * 100
        c.execute(sa.insert(POSTINGS), [{  # an ERP's reference longer than LGR-...
            "idempotency_key": "k", "reference": long_ref, "memo_number": "CM-6",
            "account_id": "ADV-1", "invoice_number": "INV-1", "currency": "USD",
            "amount_minor": 700, "posted_at": hours[6]}])
    approved = {n: at for n, (at, _, _) in rows.items()}
    assert approved == {"CM-1": hours[5], "CM-2": hours[0], "CM-3": None, "CM-4": None,
                        "CM-5": None, "CM-6": hours[4]}
    assert {n: ref for n, (_, ref, _) in rows.items()} == {
        "CM-1": "LGR-CM-1", "CM-2": "LGR-CM-2", "CM-3": None, "CM-4": None, "CM-5": None,
        "CM-6": None}
    assert all(err is None for _, _, err in rows.values())
