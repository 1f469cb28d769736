"""Record the histories the replay test checks: ``make histories VERSION=v7``.

Runs the dispute paths on the time-skipping server with the real activities and saves each
workflow's history as JSON: the four endings (two-level approval, reject and resubmit,
deny, withdraw), an SLA breach that escalates, a memo revised under approval, a memo the
ERP refused and a manager re-posted, a run that continues as new, and a dispute still
open. Re-record only after a deliberate change that is guarded by ``workflow.patched()``;
keep the old files so running disputes stay covered.
"""

from __future__ import annotations

import asyncio
import copy
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from approvals.default_policy import DEFAULT_POLICY_DOCUMENT
from config.converter import DATA_CONVERTER
from db import policies
from db.session import session_scope
from domain.models import (
    Actor,
    CreditLine,
    DecideLevel,
    RepostCreditMemo,
    ReviseCreditMemo,
    SubmitInvestigation,
    Withdraw,
)
from tests.conftest import People, seed
from tests.support.databases import SqliteFactory
from tests.support.fake_erp import FakeErp
from tests.workflows.helpers import open_dispute, running_worker
from workflows.dispute import DisputeWorkflow

HERE = Path(__file__).parent
EURO = {"account": "ADV-EU", "invoice": "INV-EU1", "currency": "EUR", "line_ids": ["E1"]}
Scenario = Callable[["Recorder"], Awaitable[WorkflowHandle]]


class Recorder:
    def __init__(self, env: WorkflowEnvironment, queue: str, people: People, db_url: str):
        self.env, self.queue, self.people, self.db_url = env, queue, people, db_url

    @property
    def client(self) -> Client:
        return self.env.client

    def actor(self, who: str) -> Actor:
        return Actor(id=self.people.ids[who], roles=self.people.roles[who])

    def decision(self, who: str, decision: str = "approve", comment: str = "") -> DecideLevel:
        return DecideLevel(actor=self.actor(who), decision=decision,  # type: ignore[arg-type]
                           comment=comment)

    def credit(self, amount: str, line: str) -> SubmitInvestigation:
        return SubmitInvestigation(
            actor=self.actor("analyst"), root_cause="rate_card", resolution="partial_credit",
            credit_lines=[CreditLine(line_id=line, amount=Decimal(amount))])

    async def approve_all(self, h: WorkflowHandle, first: str | None = None) -> None:
        """Approve each level in turn, by a holder of its role (or ``first`` for level 1)."""
        people = {"billing_manager": ["bm2", "bm"], "senior_billing_manager": ["sbm"],
                  "director_revops": ["dir"], "controller": ["ctrl"]}
        while True:
            state = await h.query(DisputeWorkflow.get_state)
            memo = state.credit_memo
            level = next((lv for lv in memo.levels if lv.status in ("pending", "escalated")),
                         None) if memo and state.status == "pending_approval" else None
            if level is None:
                return
            done = {lv.approver_id for lv in memo.levels if lv.approver_id}  # type: ignore[union-attr]
            who = first or next(p for p in people[level.role] if self.people.ids[p] not in done)
            first = None
            await h.execute_update(DisputeWorkflow.decide, self.decision(who))

    async def opened(self, **kwargs: object) -> WorkflowHandle:
        h = await open_dispute(self.client, self.queue, opened_by=self.people.ids["cs"],
                               **kwargs)  # type: ignore[arg-type]
        for _ in range(200):
            if (await h.query(DisputeWorkflow.get_state)).findings is not None:
                return h
            await asyncio.sleep(0.02)
        raise AssertionError("findings never recorded")


async def two_level_approval(r: Recorder) -> WorkflowHandle:
    h = await r.opened(amount="6000.00", invoice="INV-BIG", line_ids=["B1"])
    await h.execute_update(DisputeWorkflow.submit_investigation, r.credit("6000.00", "B1"))
    await r.approve_all(h, first="bm")
    return h


async def reject_and_resubmit(r: Recorder) -> WorkflowHandle:
    h = await r.opened()
    await h.execute_update(DisputeWorkflow.submit_investigation, r.credit("250.00", "L1"))
    await h.execute_update(DisputeWorkflow.decide, r.decision("bm", "reject", "too much"))
    await h.execute_update(DisputeWorkflow.submit_investigation, r.credit("200.00", "L1"))
    await r.approve_all(h, first="bm2")
    return h


async def deny(r: Recorder) -> WorkflowHandle:
    h = await r.opened()
    await h.execute_update(DisputeWorkflow.submit_investigation, SubmitInvestigation(
        actor=r.actor("analyst"), root_cause="other", resolution="deny"))
    return h


async def withdraw(r: Recorder) -> WorkflowHandle:
    h = await r.opened()
    await h.execute_update(DisputeWorkflow.withdraw, Withdraw(actor=r.actor("cs"),
                                                              comment="paid"))
    return h


async def sla_escalation(r: Recorder) -> WorkflowHandle:
    """Level 1 is left past its SLA: reminded, breached, escalated; the backup decides."""
    h = await r.opened(**EURO, amount="100.00")
    await h.execute_update(DisputeWorkflow.submit_investigation, r.credit("100.00", "E1"))
    await r.env.sleep(timedelta(days=7))  # P2D of business days, weekends and all
    state = await h.query(DisputeWorkflow.get_state)
    assert state.credit_memo and state.credit_memo.levels[0].status == "escalated", state
    await r.approve_all(h, first="sbm")  # the backup role decides the escalated level
    return h


async def memo_revision(r: Recorder) -> WorkflowHandle:
    """A memo changed after its first approval: approvals voided, a new chain."""
    h = await r.opened(**EURO, amount="6000.00")
    await h.execute_update(DisputeWorkflow.submit_investigation, r.credit("6000.00", "E1"))
    await h.execute_update(DisputeWorkflow.decide, r.decision("bm"))
    await h.execute_update(DisputeWorkflow.revise_credit_memo, ReviseCreditMemo(
        actor=r.actor("analyst"), note="agreed 1,000",
        credit_lines=[CreditLine(line_id="E1", amount=Decimal("1000.00"))]))
    await r.approve_all(h)
    return h


async def still_open(r: Recorder) -> WorkflowHandle:
    """A dispute waiting for its approver, as most running disputes are (not completed)."""
    h = await r.opened(invoice="INV-1001", line_ids=["L3"], amount="50.00")
    await h.execute_update(DisputeWorkflow.submit_investigation, r.credit("50.00", "L3"))
    return h


async def continued_as_new(r: Recorder) -> WorkflowHandle:
    """A level with no backup, alerting managers daily until the run continues as new (its
    first run is the history kept); the next run is then decided."""
    doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    doc["levels"]["billing_manager"] = {"sla": "P1D"}  # no escalate_to
    doc["calendar"] = "always"
    with session_scope(r.db_url) as s:
        policies.apply(s, document=doc, actor="recorder")
    h = await r.opened(invoice="INV-1001", line_ids=["L1"], amount="75.00")
    await h.execute_update(DisputeWorkflow.submit_investigation, r.credit("75.00", "L1"))
    latest = r.client.get_workflow_handle(h.id)
    for _ in range(40):
        await r.env.sleep(timedelta(days=30))
        if (await latest.describe()).run_id != h.first_execution_run_id:
            break
    else:
        raise AssertionError("the dispute never continued as new")
    await r.approve_all(latest)
    await latest.result()
    return r.client.get_workflow_handle(h.id, run_id=h.first_execution_run_id)


async def ledger_refused(r: Recorder) -> WorkflowHandle:
    """The ERP refuses the approved memo (422), a manager re-posts it once fixed. Its own
    worker posts over HTTP to a fake ERP; the dispute ends before that worker stops."""
    erp = FakeErp.start()
    erp.fail(422, reason="Invoice INV-1001 is closed in the ERP.")
    try:
        async with running_worker(r.client, r.db_url,
                                  disputeflow_ledger_url=erp.url) as queue:
            h = await Recorder(r.env, queue, r.people, r.db_url).opened()
            await h.execute_update(DisputeWorkflow.submit_investigation,
                                   r.credit("250.00", "L1"))
            await h.execute_update(DisputeWorkflow.decide, r.decision("bm"))
            state = await h.query(DisputeWorkflow.get_state)
            assert state.credit_memo is not None
            assert state.credit_memo.status == "posting_failed"
            await h.execute_update(DisputeWorkflow.repost, RepostCreditMemo(
                actor=r.actor("mgr"), memo_number=state.credit_memo.number,
                comment="invoice reopened"))
            await h.result()
    finally:
        erp.close()
    return h


# Order matters: continued_as_new applies a policy of its own, so it comes last.
SCENARIOS: dict[str, tuple[Scenario, bool]] = {  # name -> (scenario, completes)
    "two_level_approval": (two_level_approval, True),
    "reject_and_resubmit": (reject_and_resubmit, True),
    "deny": (deny, True),
    "withdraw": (withdraw, True),
    "sla_escalation": (sla_escalation, True),
    "memo_revision": (memo_revision, True),
    "ledger_refused": (ledger_refused, True),
    "still_open": (still_open, False),
    "continued_as_new": (continued_as_new, False),  # its first run ended continuing
}


async def record(version: str) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        data_converter=DATA_CONVERTER)
    with tempfile.TemporaryDirectory() as tmp:
        factory = SqliteFactory(Path(tmp))
        with factory.database() as url:
            people = seed(url)
            async with running_worker(env.client, url) as queue:
                recorder = Recorder(env, queue, people, url)
                for name, (scenario, completes) in SCENARIOS.items():
                    handle = await scenario(recorder)
                    if completes:
                        await handle.result(follow_runs=False)
                    history = await handle.fetch_history()
                    path = HERE / f"{version}_{name}.json"
                    path.write_text(history.to_json())
                    print(f"wrote {path} ({len(history.events)} events)")
    await env.shutdown()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.histories.record VERSION   (e.g. v7)")
    asyncio.run(record(sys.argv[1]))
    # The SDK's native threads can abort Python's own teardown (temporalio/sdk-python#300);
    # everything is written by now.
    sys.stdout.flush()
    os._exit(0)
