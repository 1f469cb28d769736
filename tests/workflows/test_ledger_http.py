"""Posting to an ERP over HTTP (``DISPUTEFLOW_LEDGER_URL``) on the time-skipping server,
against a real HTTP receiver: outages and lost answers are retried and post once; a refusal
leaves the memo posting_failed with the ERP's reason until a re-post."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db import disputes
from db.models import CreditMemo, LedgerPosting
from db.session import session_scope
from domain.models import RepostCreditMemo, Withdraw
from tests.conftest import People
from tests.support.fake_erp import REFUSAL, FakeErp
from tests.workflows.helpers import open_dispute, running_worker
from tests.workflows.test_dispute_lifecycle import (
    actor,
    decide,
    findings_ready,
    investigation,
    refused,
)
from workflows.dispute import DisputeWorkflow

pytestmark = pytest.mark.workflow


async def _approved(env: WorkflowEnvironment, queue: str, people: People) -> object:
    handle = await open_dispute(env.client, queue, opened_by=people.ids["cs"],
                                amount="250.00", line_ids=["L1"])
    await findings_ready(handle)
    await handle.execute_update(DisputeWorkflow.submit_investigation, investigation(people))
    return handle


async def test_an_outage_and_a_lost_answer_are_retried_and_post_once(
    time_env: WorkflowEnvironment, db_url: str, seeded: People, erp: FakeErp
) -> None:
    erp.fail(503, times=2)  # the ERP is down twice...
    erp.delay(2.5)  # ...then books the memo but answers after the connector gave up
    async with running_worker(time_env.client, db_url, disputeflow_ledger_url=erp.url,
                              disputeflow_ledger_timeout_s=1) as queue:
        handle = await _approved(time_env, queue, seeded)
        await handle.execute_update(DisputeWorkflow.decide, decide(seeded, "bm"))
        result = await handle.result()
        state = await handle.query(DisputeWorkflow.get_state)
    assert result.status == "resolved"
    memo = state.credit_memo
    assert memo is not None and memo.status == "posted"
    assert memo.ledger_reference == "ERP-000001"
    assert list(erp.booked) == [memo.number]  # booked exactly once
    assert len(erp.requests) >= 4  # two outages, the lost answer, the retry that found it
    assert {r.headers["Idempotency-Key"] for r in erp.requests} == {memo.number}
    assert erp.booked[memo.number] == {
        "memo_number": memo.number, "dispute_id": handle.id, "account_id": "ADV-1",
        "invoice_number": "INV-1001", "currency": "USD", "total": "250.00",
        "lines": [{"line_id": "L1", "amount": "250.00"}]}
    with session_scope(db_url) as s:
        postings = list(s.scalars(select(LedgerPosting)))
        row = s.get(CreditMemo, memo.number)
        assert row is not None
        assert (row.status, row.ledger_reference, row.posting_error) == ("posted", "ERP-000001",
                                                                        None)
        assert row.approved_at is not None
    assert [(p.memo_number, p.reference, p.amount_minor) for p in postings] == [
        (memo.number, "ERP-000001", 25000)]


async def test_a_refusal_waits_for_a_repost_then_posts(
    time_env: WorkflowEnvironment, db_url: str, seeded: People, erp: FakeErp
) -> None:
    erp.fail(422, reason=REFUSAL)
    async with running_worker(time_env.client, db_url,
                              disputeflow_ledger_url=erp.url) as queue:
        handle = await _approved(time_env, queue, seeded)
        answer = await handle.execute_update(DisputeWorkflow.decide, decide(seeded, "bm"))
        assert answer.status == "pending_approval"
        assert REFUSAL in answer.message
        assert answer.view is not None and answer.view.credit_memo is not None
        memo = answer.view.credit_memo
        assert memo.status == "posting_failed"
        assert memo.posting_error is not None and "HTTP 422" in memo.posting_error
        assert REFUSAL in memo.posting_error
        with session_scope(db_url) as s:
            view = disputes.get_view(s, handle.id)
            row = s.get(CreditMemo, memo.number)
            assert row is not None and row.status == "posting_failed"
            assert row.posting_error == memo.posting_error
        assert view is not None
        assert view["credit_memo"]["posting_error"] == memo.posting_error
        assert "credit_memo.posting_failed" in [t["action"] for t in view["timeline"]]
        assert erp.booked == {}

        # Not withdrawn from under an approved memo; re-posted only by those who may.
        cause = await refused(handle.execute_update(
            DisputeWorkflow.withdraw, Withdraw(actor=actor(seeded, "cs"), comment="paid")))
        assert cause.type == "wrong_state"
        cause = await refused(handle.execute_update(DisputeWorkflow.repost, RepostCreditMemo(
            actor=actor(seeded, "bm"), memo_number=memo.number)))
        assert cause.type == "forbidden"
        cause = await refused(handle.execute_update(DisputeWorkflow.repost, RepostCreditMemo(
            actor=actor(seeded, "mgr"), memo_number="CM-NOT-THIS-ONE")))
        assert cause.type == "wrong_state"

        reposted = await handle.execute_update(DisputeWorkflow.repost, RepostCreditMemo(
            actor=actor(seeded, "mgr"), memo_number=memo.number, comment="invoice reopened"))
        assert reposted.status == "resolved", reposted.message
        result = await handle.result()
        state = await handle.query(DisputeWorkflow.get_state)
    assert result.status == "resolved"
    assert list(erp.booked) == [memo.number]
    assert state.credit_memo is not None
    assert state.credit_memo.ledger_reference == "ERP-000001"
    assert state.credit_memo.posting_error is None
    assert state.credit_memo.total == Decimal("250.00")
    with session_scope(db_url) as s:
        view = disputes.get_view(s, handle.id)
    assert view is not None
    actions = [t["action"] for t in view["timeline"]]
    assert actions.index("credit_memo.posting_failed") < actions.index(
        "credit_memo.repost_requested") < actions.index("credit_memo.posted")
