"""A snapshot writes a dispute's memos and levels from two reads, however many levels (and
earlier memos) it has: rows are not fetched one by one. Each revision is the full state, so
the rows end up as the state says."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import event, select

from db import analytics, audit, disputes, report_window
from db.models import (
    Account,
    ApprovalLevel,
    AuditEvent,
    CreditMemoProduct,
    Dispute,
    Invoice,
    InvoiceLine,
)
from db.session import get_engine, session_scope
from domain.models import AuditEntry
from tests.support.states import pending_approval

IDS = {"opener": "U-OPEN", "preparer": "U-PREP"}


@contextmanager
def selects_by_table(db_url: str) -> Iterator[Counter[str]]:
    counts: Counter[str] = Counter()

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        match = re.match(r"\s*SELECT\s.*?\sFROM\s+(\w+)", statement, re.S | re.I)
        if match:
            counts[match.group(1)] += 1

    engine = get_engine(db_url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_memo_and_levels_are_read_once_per_snapshot(db_url: str) -> None:
    state = pending_approval(IDS)
    with session_scope(db_url) as s:
        assert disputes.save_snapshot(s, state=state, events=[])
    decided = state.model_copy(deep=True)
    assert decided.credit_memo is not None
    decided.credit_memo.levels[0].status = "approved"
    decided.credit_memo.levels[0].approver_id = "U-BM"
    decided.credit_memo.levels[1].status = "pending"
    decided.revision = 2
    with selects_by_table(db_url) as selects, session_scope(db_url) as s:
        assert disputes.save_snapshot(s, state=decided, events=[])
    assert selects["credit_memos"] == 1 and selects["approval_levels"] == 1, selects
    with session_scope(db_url, readonly=True) as s:
        levels = s.execute(select(ApprovalLevel.level, ApprovalLevel.status,
                                  ApprovalLevel.approver_id)
                           .order_by(ApprovalLevel.level)).all()
    assert [tuple(r) for r in levels] == [(1, "approved", "U-BM"), (2, "pending", None)]


def test_a_retried_or_late_snapshot_changes_nothing(db_url: str) -> None:
    """Snapshots are retried (activities) and a slow one may land after a newer one: the
    stored revision only goes up, and the row keeps the newest state."""
    state = pending_approval(IDS)
    newer = state.model_copy(deep=True)
    assert newer.credit_memo is not None
    newer.credit_memo.levels[0].status = "approved"
    newer.revision = state.revision + 1
    with session_scope(db_url) as s:
        assert disputes.save_snapshot(s, state=newer, events=[])
    for late in (newer, state):  # the same revision again, then the older one
        with session_scope(db_url) as s:
            assert not disputes.save_snapshot(s, state=late, events=[])
    with session_scope(db_url, readonly=True) as s:
        row = s.get(Dispute, state.opened.dispute_id)
        assert row is not None and row.revision == newer.revision
        assert row.view["approvals"][0]["status"] == "approved"


def test_a_snapshot_appends_its_events_without_reading_their_keys(db_url: str) -> None:
    """Its events' keys name a revision the row had not reached, so none is stored: the
    audit chain's lock, which every change waits behind, is held for the chain's head read
    and the insert only."""
    state = pending_approval(IDS)
    entry = AuditEntry(actor="U-PREP", action="test.snapshot", message="m", data={},
                       at=state.opened.opened_at)
    with selects_by_table(db_url) as selects, session_scope(db_url) as s:
        assert disputes.save_snapshot(s, state=state, events=[entry, entry])
    assert selects["audit_events"] == 1, selects  # the chain's head
    with session_scope(db_url, readonly=True) as s:
        keys = list(s.scalars(select(AuditEvent.idem_key)
                              .where(AuditEvent.subject == state.opened.dispute_id)))
        assert keys == [f"{state.opened.dispute_id}:{state.revision}:{i}" for i in (0, 1)]
        assert audit.verify(s).ok


def test_a_new_memo_records_its_credit_per_product_and_a_decision_reads_no_invoice(
        db_url: str) -> None:
    """Credits by product sum the memo lines as written: the product is copied from the
    billing data once, with the memo, and a later decision does not look it up again."""
    with session_scope(db_url) as s:
        s.add(Account(id="ADV-1", type="advertiser", name="Acme", currency="USD"))
        s.add(Invoice(number="INV-1001", account_id="ADV-1", currency="USD", period="2026-10",
                      issued_on=date(2026, 10, 1), total_minor=100000))
        s.flush()
        s.add(InvoiceLine(invoice_number="INV-1001", line_id="L1", position=1,
                          product="Sponsored Products", campaign_id=None, units=1000,
                          unit="impressions", rate=Decimal("2.50"), rate_basis=1000,
                          amount_minor=100000, makegood=False))
    state = pending_approval(IDS)
    with session_scope(db_url) as s:
        assert disputes.save_snapshot(s, state=state, events=[])
    decided = state.model_copy(deep=True)
    assert decided.credit_memo is not None
    decided.credit_memo.levels[0].status = "approved"
    decided.revision = 2
    with selects_by_table(db_url) as selects, session_scope(db_url) as s:
        assert disputes.save_snapshot(s, state=decided, events=[])
    assert selects["invoice_lines"] == 0, selects
    with session_scope(db_url, readonly=True) as s:
        credited = s.execute(select(CreditMemoProduct.product,
                                    CreditMemoProduct.amount_minor)).all()
    assert [tuple(r) for r in credited] == [("Sponsored Products", 25000)]


def test_each_level_is_written_with_when_it_became_pending(db_url: str) -> None:
    """Level 1 from its memo's creation; level 2 from level 1's approval, and none while it
    waits for it: what decision time per level counts from."""
    state = pending_approval(IDS)
    memo = state.credit_memo
    assert memo is not None

    def stored() -> list[tuple[int, datetime | None]]:
        with session_scope(db_url, readonly=True) as s:
            return [(lv, at) for lv, at in s.execute(
                select(ApprovalLevel.level, ApprovalLevel.pending_since)
                .order_by(ApprovalLevel.level))]

    with session_scope(db_url) as s:
        assert disputes.save_snapshot(s, state=state, events=[])
    assert stored() == [(1, memo.created_at), (2, None)]
    decided = state.model_copy(deep=True)
    assert decided.credit_memo is not None
    first, second = decided.credit_memo.levels
    first.status, first.approver_id = "approved", "U-BM"
    first.decided_at = memo.created_at + timedelta(hours=5)
    second.status = "pending"
    decided.revision = 2
    with session_scope(db_url) as s:
        assert disputes.save_snapshot(s, state=decided, events=[])
    assert stored() == [(1, memo.created_at), (2, first.decided_at)]
    with session_scope(db_url, readonly=True) as s:
        [row] = analytics.TABLES["decision_time"](s, report_window.window_for(
            s, start=None, end=None, now=first.decided_at + timedelta(hours=1)))
    assert (row["level"], row["decisions"], row["mean_hours"]) == (1, 1, 5.0)


def test_a_level_names_who_may_not_decide_it_and_the_workload_leaves_them_out(
        db_url: str) -> None:
    """The preparer and the opener hold the billing manager role too, yet the level waiting
    at it counts only for the manager who may decide it."""
    from db.users import create_user

    state = pending_approval(IDS)
    with session_scope(db_url) as s:
        people = {who: create_user(s, name=who, email=f"{who}@example.com",
                                   roles=["billing_manager"], slack_user_id=None,
                                   created_by="test")[0].id
                  for who in ("Bea", "Opal", "Pat")}
        assert disputes.save_snapshot(s, state=state.model_copy(update={
            "opened": state.opened.model_copy(update={"opened_by": people["Opal"]}),
            "credit_memo": state.credit_memo.model_copy(  # type: ignore[union-attr]
                update={"preparer_id": people["Pat"]})}), events=[])
    with session_scope(db_url, readonly=True) as s:
        stored = s.execute(select(ApprovalLevel.memo_preparer_id,
                                  ApprovalLevel.dispute_opener_id).distinct()).all()
        rows = analytics.TABLES["approver_workload"](s, report_window.window_for(
            s, start=None, end=None, now=datetime.now(UTC)))
    assert [tuple(r) for r in stored] == [(people["Pat"], people["Opal"])]
    waiting = {r["person_name"]: r["waiting"] for r in rows if r["role"] == "billing_manager"}
    assert waiting == {None: 1, "Bea": 1, "Opal": 0, "Pat": 0}
