"""The dispute workflow on the time-skipping test server, with the real activities
writing to a real (per-test) database."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from db import audit, disputes
from db.models import LedgerPosting, Notification
from db.session import session_scope
from domain.models import (
    Actor,
    CreditLine,
    DecideLevel,
    DisputeState,
    SubmitInvestigation,
    Withdraw,
)
from tests.conftest import People
from tests.workflows.helpers import open_dispute, running_worker
from workflows.dispute import DisputeWorkflow

pytestmark = pytest.mark.workflow


def actor(people: People, who: str) -> Actor:
    return Actor(id=people.ids[who], roles=people.roles[who])


async def findings_ready(handle: WorkflowHandle) -> DisputeState:
    for _ in range(200):
        state = await handle.query(DisputeWorkflow.get_state)
        if state.findings is not None:
            return state
        await asyncio.sleep(0.02)
    raise AssertionError("findings never recorded")


def investigation(people: People, amount: str = "250.00", line: str = "L1",
                  resolution: str = "partial_credit") -> SubmitInvestigation:
    return SubmitInvestigation(
        actor=actor(people, "analyst"), root_cause="rate_card", resolution=resolution,
        credit_lines=[CreditLine(line_id=line, amount=Decimal(amount))], note="rate card wrong")


def decide(people: People, who: str, decision: str = "approve", comment: str = "") -> DecideLevel:
    return DecideLevel(actor=actor(people, who), decision=decision, comment=comment)


async def refused(coro: object) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await coro  # type: ignore[misc]
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_credit_is_approved_posted_once_and_audited(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    client = time_env.client
    async with running_worker(client, db_url) as queue:
        handle = await open_dispute(client, queue, opened_by=seeded.ids["cs"], amount="250.00",
                                    line_ids=["L1"])
        state = await findings_ready(handle)
        kinds = {(f.kind, f.status) for f in state.findings or []}
        assert ("rate_mismatch", "discrepancy") in kinds
        assert ("delivery_shortfall", "discrepancy") in kinds

        result = await handle.execute_update(DisputeWorkflow.submit_investigation,
                                             investigation(seeded))
        assert result.status == "pending_approval"
        with session_scope(db_url) as s:
            view = disputes.get_view(s, handle.id)
        assert view is not None
        assert view["status"] == "pending_approval"
        assert [a["role"] for a in view["approvals"]] == ["billing_manager"]
        assert view["approvals"][0]["status"] == "pending"
        assert view["approvals"][0]["due_at"] is not None
        assert view["credit_memo"]["total"] == "250.00"

        result = await handle.execute_update(DisputeWorkflow.decide, decide(seeded, "bm"))
        assert result.status == "resolved"
        outcome = await handle.result()
        assert outcome.status == "resolved"

    with session_scope(db_url) as s:
        view = disputes.get_view(s, handle.id)
        postings = s.scalar(select(func.count()).select_from(LedgerPosting))
        notes = list(s.scalars(select(Notification.message)))
        verified = audit.verify(s)
    assert view is not None and view["status"] == "resolved"
    assert view["credit_memo"]["status"] == "posted"
    assert view["approvals"][0]["approver_id"] == seeded.ids["bm"]
    assert {c["name"] for c in view["approvals"][0]["sod_checks"]} >= {"not_preparer"}
    assert postings == 1
    assert any("resolved" in n for n in notes)
    actions = [t["action"] for t in view["timeline"]]
    assert actions[:2] == ["dispute.opened", "findings.recorded"]
    assert "credit_memo.posted" in actions
    assert verified.ok


async def test_deny_ends_the_dispute(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        handle = await open_dispute(time_env.client, queue, opened_by=seeded.ids["cs"])
        await findings_ready(handle)
        result = await handle.execute_update(
            DisputeWorkflow.submit_investigation,
            SubmitInvestigation(actor=actor(seeded, "analyst"),
                                root_cause="customer_misunderstanding", resolution="deny",
                                note="billed as contracted"))
        assert result.status == "denied"
        assert (await handle.result()).status == "denied"
    with session_scope(db_url) as s:
        view = disputes.get_view(s, handle.id)
    assert view is not None and view["status"] == "denied" and view["credit_memo"] is None
    assert all(c["stopped_at"] for c in view["sla"].values())


async def test_withdraw_voids_the_pending_chain(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        handle = await open_dispute(time_env.client, queue, opened_by=seeded.ids["cs"])
        await findings_ready(handle)
        await handle.execute_update(DisputeWorkflow.submit_investigation, investigation(seeded))
        result = await handle.execute_update(
            DisputeWorkflow.withdraw, Withdraw(actor=actor(seeded, "cs"), comment="paid"))
        assert result.status == "withdrawn"
        assert (await handle.result()).status == "withdrawn"  # all clocks stop with it
    with session_scope(db_url) as s:
        view = disputes.get_view(s, handle.id)
    assert view is not None
    assert view["credit_memo"]["status"] == "voided"
    assert view["approvals"][0]["status"] == "voided"


async def test_reject_returns_to_analyst_and_resubmission_starts_a_new_chain(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        handle = await open_dispute(time_env.client, queue, opened_by=seeded.ids["cs"],
                                    amount="300.00")
        await findings_ready(handle)
        await handle.execute_update(DisputeWorkflow.submit_investigation,
                                    investigation(seeded, "300.00"))
        cause = await refused(handle.execute_update(DisputeWorkflow.decide,
                                                    decide(seeded, "bm", "reject")))
        assert cause.type == "validation_error"  # a rejection needs a reason
        result = await handle.execute_update(
            DisputeWorkflow.decide, decide(seeded, "bm", "reject", "credit only the rate gap"))
        assert result.status == "investigating"
        result = await handle.execute_update(DisputeWorkflow.submit_investigation,
                                             investigation(seeded, "250.00"))
        assert result.status == "pending_approval"
        state = await handle.query(DisputeWorkflow.get_state)
        assert state.credit_memo is not None and state.credit_memo.number.endswith("-2")
        assert [m.status for m in state.past_memos] == ["rejected"]
        assert state.credit_memo.levels[0].status == "pending"
        result = await handle.execute_update(DisputeWorkflow.decide, decide(seeded, "bm2"))
        assert result.status == "resolved"
        await handle.result()
    with session_scope(db_url) as s:
        assert s.scalar(select(func.sum(LedgerPosting.amount_minor))) == 25000


async def test_validators_refuse_wrong_state_role_and_sod(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        handle = await open_dispute(time_env.client, queue, opened_by=seeded.ids["cs"],
                                    amount="6000.00", invoice="INV-BIG", line_ids=["B1"])
        await findings_ready(handle)
        cause = await refused(handle.execute_update(DisputeWorkflow.decide, decide(seeded, "bm")))
        assert cause.type == "wrong_state"
        not_analyst = SubmitInvestigation(
            actor=actor(seeded, "bm"), root_cause="rate_card", resolution="partial_credit",
            credit_lines=[CreditLine(line_id="B1", amount=Decimal("10"))])
        assert (await refused(handle.execute_update(
            DisputeWorkflow.submit_investigation, not_analyst))).type == "forbidden"
        too_much = investigation(seeded, "90000.00", line="B1")
        assert (await refused(handle.execute_update(
            DisputeWorkflow.submit_investigation, too_much))).type == "validation_error"
        unknown_line = investigation(seeded, "10.00", line="NOPE")
        cause = await refused(handle.execute_update(DisputeWorkflow.submit_investigation,
                                                    unknown_line))
        assert cause.type == "validation_error" and "NOPE" in cause.message

        prepared_by_approver = SubmitInvestigation(
            actor=actor(seeded, "analyst_bm"), root_cause="rate_card",
            resolution="full_credit",
            credit_lines=[CreditLine(line_id="B1", amount=Decimal("6000.00"))])
        result = await handle.execute_update(DisputeWorkflow.submit_investigation,
                                             prepared_by_approver)
        assert result.status == "pending_approval"
        state = await handle.query(DisputeWorkflow.get_state)
        assert state.credit_memo is not None
        assert [lv.role for lv in state.credit_memo.levels] == [
            "billing_manager", "senior_billing_manager"]

        cause = await refused(handle.execute_update(DisputeWorkflow.decide,
                                                    decide(seeded, "analyst_bm")))
        assert cause.type == "sod_violation" and "prepared" in cause.message
        cause = await refused(handle.execute_update(DisputeWorkflow.decide, decide(seeded, "sbm")))
        assert cause.type == "forbidden"
        await handle.execute_update(DisputeWorkflow.decide, decide(seeded, "bm"))
        cause = await refused(handle.execute_update(DisputeWorkflow.decide, decide(seeded, "bm")))
        assert cause.type == "forbidden"  # level 2 needs senior_billing_manager
        result = await handle.execute_update(DisputeWorkflow.decide, decide(seeded, "sbm"))
        assert result.status == "resolved"
        await handle.result()
