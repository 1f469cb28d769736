"""SOX controls in the workflow: re-approval on change, aggregation, closed periods,
missing FX, the de-minimis tier, delegation — with the real activities and database."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.testing import WorkflowEnvironment

from approvals.default_policy import DEFAULT_POLICY_DOCUMENT
from db import disputes, policies
from db.session import session_scope
from domain.models import (
    CreditLine,
    DecideLevel,
    DelegationGrant,
    ReviseCreditMemo,
    SubmitInvestigation,
)
from tests.conftest import People
from tests.workflows.helpers import open_dispute, running_worker
from tests.workflows.test_dispute_lifecycle import (
    actor,
    decide,
    findings_ready,
    refused,
)
from workflows.dispute import DisputeWorkflow

pytestmark = pytest.mark.workflow


def credit(people: People, amount: str, line: str, **kw: object) -> SubmitInvestigation:
    return SubmitInvestigation(actor=actor(people, "analyst"), root_cause="rate_card",
                               resolution="partial_credit",
                               credit_lines=[CreditLine(line_id=line, amount=Decimal(amount))],
                               **kw)  # type: ignore[arg-type]


async def test_a_change_after_approval_voids_it_and_restarts_the_chain(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        h = await open_dispute(time_env.client, queue, opened_by=seeded.ids["cs"],
                               amount="8000.00", invoice="INV-BIG", line_ids=["B1"])
        await findings_ready(h)
        await h.execute_update(DisputeWorkflow.submit_investigation,
                               credit(seeded, "8000.00", "B1"))
        await h.execute_update(DisputeWorkflow.decide, decide(seeded, "bm"))
        result = await h.execute_update(DisputeWorkflow.revise_credit_memo, ReviseCreditMemo(
            actor=actor(seeded, "analyst"),
            credit_lines=[CreditLine(line_id="B1", amount=Decimal("7000.00"))],
            note="customer agreed to 7,000"))
        assert result.status == "pending_approval"
        state = await h.query(DisputeWorkflow.get_state)
        old, new = state.past_memos[-1], state.credit_memo
        assert new is not None and new.total == Decimal("7000.00")
        assert old.status == "voided"
        assert [lv.status for lv in old.levels] == ["approved", "voided"]  # history kept
        assert [lv.status for lv in new.levels] == ["pending", "waiting"]
        # The earlier approver may approve the new version: it is a new memo.
        await h.execute_update(DisputeWorkflow.decide, decide(seeded, "bm"))
        result = await h.execute_update(DisputeWorkflow.decide, decide(seeded, "sbm"))
        assert result.status == "resolved"
        await h.result()
    with session_scope(db_url) as s:
        view = disputes.get_view(s, h.id)
    assert view is not None
    assert "credit_memo.revised" in [t["action"] for t in view["timeline"]]


async def test_revision_is_refused_outside_approval(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        h = await open_dispute(time_env.client, queue, opened_by=seeded.ids["cs"])
        await findings_ready(h)
        cause = await refused(h.execute_update(DisputeWorkflow.revise_credit_memo,
                                               ReviseCreditMemo(
            actor=actor(seeded, "analyst"),
            credit_lines=[CreditLine(line_id="L1", amount=Decimal("1"))])))
        assert cause.type == "wrong_state"


async def test_credits_inside_the_window_add_up_for_the_tier(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        first = await open_dispute(time_env.client, queue, opened_by=seeded.ids["cs"],
                                   amount="4000.00", invoice="INV-BIG", line_ids=["B1"])
        await findings_ready(first)
        await first.execute_update(DisputeWorkflow.submit_investigation,
                                   credit(seeded, "4000.00", "B1"))
        state = await first.query(DisputeWorkflow.get_state)
        assert state.credit_memo is not None and len(state.credit_memo.levels) == 1
        # Still pending: it counts. 4,000 + 1,500 crosses the 5,000 tier.
        second = await open_dispute(time_env.client, queue, opened_by=seeded.ids["cs"],
                                    amount="1500.00", invoice="INV-1001", line_ids=["L1"])
        await findings_ready(second)
        await second.execute_update(DisputeWorkflow.submit_investigation,
                                    credit(seeded, "1000.00", "L1"))
        memo = (await second.query(DisputeWorkflow.get_state)).credit_memo
        assert memo is not None
        assert [lv.role for lv in memo.levels] == ["billing_manager", "senior_billing_manager"]
        assert memo.window_total_base == Decimal("4000.00")
        assert any("4,000.00" in r for r in memo.chain_reasons)


async def test_closed_period_needs_the_controller_even_if_the_analyst_says_no(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        h = await open_dispute(time_env.client, queue, opened_by=seeded.ids["cs"],
                               amount="50.00", invoice="INV-OLD", line_ids=["O1"])
        await findings_ready(h)
        await h.execute_update(DisputeWorkflow.submit_investigation,
                               credit(seeded, "50.00", "O1", prior_period=False))
        memo = (await h.query(DisputeWorkflow.get_state)).credit_memo
        assert memo is not None and memo.prior_period and memo.closed_periods == ["2026-09"]
        assert [lv.role for lv in memo.levels] == ["billing_manager", "controller"]


async def test_missing_fx_rate_is_refused_not_converted_one_to_one(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        h = await open_dispute(time_env.client, queue, opened_by=seeded.ids["cs"],
                               amount="1000", invoice="INV-JP1", account="ADV-JP",
                               currency="JPY", line_ids=["J1"])
        await findings_ready(h)
        cause = await refused(h.execute_update(DisputeWorkflow.submit_investigation,
                                               credit(seeded, "1000", "J1")))
        assert cause.type == "validation_error" and "No FX rate from JPY to USD" in cause.message
        assert (await h.query(DisputeWorkflow.get_state)).status == "investigating"


async def test_foreign_currency_is_converted_at_the_rate_in_force(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        h = await open_dispute(time_env.client, queue, opened_by=seeded.ids["cs"],
                               amount="5000.00", invoice="INV-EU1", account="ADV-EU",
                               currency="EUR", line_ids=["E1"])
        await findings_ready(h)
        await h.execute_update(DisputeWorkflow.submit_investigation,
                               credit(seeded, "4629.63", "E1"))
        memo = (await h.query(DisputeWorkflow.get_state)).credit_memo
        assert memo is not None
        # 4,629.63 EUR x 1.08 = 5,000.0004 -> 5,000.00 USD: exactly at the threshold, upper tier.
        assert memo.base_total == Decimal("5000.00") and memo.fx_rate == Decimal("1.08")
        assert str(memo.fx_as_of) == "2026-11-01"
        assert len(memo.levels) == 2


async def test_de_minimis_tier_is_auto_approved_and_posted(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    doc["tiers"] = [{"min": "0", "levels": []}, *doc["tiers"][:-1]]
    doc["tiers"][1]["min"] = "100"
    with session_scope(db_url) as s:
        policies.apply(s, document=doc, actor="test")
    async with running_worker(time_env.client, db_url) as queue:
        h = await open_dispute(time_env.client, queue, opened_by=seeded.ids["cs"],
                               amount="40.00", line_ids=["L1"])
        await findings_ready(h)
        result = await h.execute_update(DisputeWorkflow.submit_investigation,
                                        credit(seeded, "40.00", "L1"))
        assert "auto-approved" in result.message
        assert (await h.result()).status == "resolved"
        memo = (await h.query(DisputeWorkflow.get_state)).credit_memo
        assert memo is not None and memo.levels == [] and memo.status == "posted"
        assert memo.policy_version == 2 and any("de-minimis" in r or "auto" in r
                                                for r in memo.chain_reasons)


async def test_delegate_approves_in_the_window_and_is_recorded(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    now = await time_env.get_current_time()  # the test server's clock, which skips ahead
    grant = DelegationGrant(principal_id=seeded.ids["bm"], principal_roles=["billing_manager"],
                            starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30))
    async with running_worker(time_env.client, db_url) as queue:
        h = await open_dispute(time_env.client, queue, opened_by=seeded.ids["cs"])
        await findings_ready(h)
        await h.execute_update(DisputeWorkflow.submit_investigation, credit(seeded, "250", "L1"))
        expired = grant.model_copy(update={"ends_at": now - timedelta(hours=1),
                                           "starts_at": now - timedelta(days=2)})
        cause = await refused(h.execute_update(DisputeWorkflow.decide, DecideLevel(
            actor=actor(seeded, "mgr"), delegations=[expired], decision="approve")))
        assert cause.type == "forbidden"
        result = await h.execute_update(DisputeWorkflow.decide, DecideLevel(
            actor=actor(seeded, "mgr"), delegations=[grant], decision="approve"))
        assert result.status == "resolved"
        await h.result()
        memo = (await h.query(DisputeWorkflow.get_state)).credit_memo
        assert memo is not None
        assert memo.levels[0].approver_id == seeded.ids["mgr"]
        assert memo.levels[0].delegate_of == seeded.ids["bm"]
