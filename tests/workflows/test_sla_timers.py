"""SLA clocks as durable timers, on the time-skipping test server: days pass in
milliseconds. Deadlines are computed with the same business calendar the policy names."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from approvals.default_policy import DEFAULT_POLICY_DOCUMENT
from business_calendar import BusinessCalendar
from db import disputes, policies
from db.models import Notification, SlaBreach
from db.session import session_scope
from domain.models import DisputeState, Withdraw
from tests.conftest import People
from tests.workflows.helpers import open_dispute, running_worker
from tests.workflows.test_dispute_lifecycle import actor, decide, findings_ready
from tests.workflows.test_sox_controls import credit
from workflows.dispute import DisputeWorkflow

pytestmark = pytest.mark.workflow
LA = ZoneInfo("America/Los_Angeles")


def apply_policy(db_url: str, **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    doc.update(changes)
    with session_scope(db_url) as s:
        policies.apply(s, document=doc, actor="test")
    return doc


async def until(handle: WorkflowHandle, check: Callable[[DisputeState], bool]) -> DisputeState:
    for _ in range(300):
        state = await handle.query(DisputeWorkflow.get_state)
        if check(state):
            return state
        await asyncio.sleep(0.02)
    raise AssertionError(f"never reached; last state sla={state.sla}")


def notes(db_url: str, dispute_id: str) -> list[tuple[str, str]]:
    with session_scope(db_url) as s:
        return [(n.key.split(":", 1)[1], n.recipient) for n in s.scalars(
            select(Notification).where(Notification.dispute_id == dispute_id))]


async def pending_level(time_env: WorkflowEnvironment, db_url: str, people: People,
                        queue: str, amount: str = "250.00") -> WorkflowHandle:
    h = await open_dispute(time_env.client, queue, opened_by=people.ids["cs"], amount=amount)
    await findings_ready(h)
    await h.execute_update(DisputeWorkflow.submit_investigation, credit(people, amount, "L1"))
    return h


async def test_reminder_breach_escalation_and_the_backup_decides(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        h = await pending_level(time_env, db_url, seeded, queue)
        state = await h.query(DisputeWorkflow.get_state)
        clock_name = next(n for n in state.sla if n.startswith("approval_"))
        clock = state.sla[clock_name]
        cal = BusinessCalendar.from_spec(DEFAULT_POLICY_DOCUMENT["calendar"])
        assert clock.due_at == cal.add(clock.started_at, "P2D")
        assert clock.remind_at == cal.add_fraction(clock.started_at, "P2D", 0.5)
        now = await time_env.get_current_time()

        await time_env.sleep(clock.remind_at - now - timedelta(minutes=1))
        assert not (await h.query(DisputeWorkflow.get_state)).sla[clock_name].reminded
        await time_env.sleep(timedelta(minutes=2))
        await until(h, lambda s: s.sla[clock_name].reminded)
        assert (f"{clock_name}:remind", "role:billing_manager") in notes(db_url, h.id)

        now = await time_env.get_current_time()
        await time_env.sleep(clock.due_at - now + timedelta(seconds=1))
        state = await until(h, lambda s: s.sla[clock_name].breached)
        assert state.credit_memo is not None
        assert state.credit_memo.levels[0].status == "escalated"
        with session_scope(db_url) as s:
            breach = s.get(SlaBreach, (h.id, clock_name))
            assert breach is not None and breach.stopped_at is None
            assert breach.assignee_role == "billing_manager"
            assert breach.escalated_to == "senior_billing_manager"
        assert (f"{clock_name}:breach", "managers") in notes(db_url, h.id)
        assert (f"{clock_name}:escalate", "role:senior_billing_manager") in notes(db_url, h.id)

        # The backup role decides the escalated level (the original role still could).
        result = await h.execute_update(DisputeWorkflow.decide, decide(seeded, "sbm"))
        assert result.status == "resolved"
        await h.result()  # leave no activity in flight: it would hold the test server's clock
    with session_scope(db_url) as s:
        breach = s.get(SlaBreach, (h.id, clock_name))
        assert breach is not None and breach.stopped_at is not None
        view = disputes.get_view(s, h.id)
    assert view is not None and view["approvals"][0]["approver_id"] == seeded.ids["sbm"]
    assert {"sla.reminder", "sla.breached", "approval.escalated"} <= {
        t["action"] for t in view["timeline"]}


async def test_a_decision_just_before_the_deadline_cancels_the_clock(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        h = await pending_level(time_env, db_url, seeded, queue)
        state = await h.query(DisputeWorkflow.get_state)
        name = next(n for n in state.sla if n.startswith("approval_"))
        now = await time_env.get_current_time()
        await time_env.sleep(state.sla[name].due_at - now - timedelta(seconds=30))
        await h.execute_update(DisputeWorkflow.decide, decide(seeded, "bm"))
        await h.result()
        await time_env.sleep(timedelta(days=7))
        final = await h.query(DisputeWorkflow.get_state)
    assert not final.sla[name].breached and final.sla[name].stopped_at is not None
    with session_scope(db_url) as s:
        assert s.get(SlaBreach, (h.id, name)) is None


async def test_withdrawal_stops_every_clock(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        h = await pending_level(time_env, db_url, seeded, queue)
        await h.execute_update(DisputeWorkflow.withdraw,
                               Withdraw(actor=actor(seeded, "cs"), comment="paid"))
        await h.result()
        await time_env.sleep(timedelta(days=30))
        state = await h.query(DisputeWorkflow.get_state)
    assert all(c.stopped_at is not None and not c.breached for c in state.sla.values())
    assert [k for k, _ in notes(db_url, h.id) if "breach" in k] == []


def _next_friday_evening(now: datetime) -> datetime:
    local = now.astimezone(LA)
    days = (4 - local.weekday()) % 7 or 7
    return (local + timedelta(days=days)).replace(hour=18, minute=0, second=0, microsecond=0)


async def test_weekend_and_a_holiday_are_not_counted(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    now = await time_env.get_current_time()
    friday = _next_friday_evening(now)
    monday = (friday + timedelta(days=3)).date()
    doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    doc["levels"]["billing_manager"]["sla"] = "P1D"
    doc["calendar"] = {"timezone": "America/Los_Angeles",
                       "workdays": ["mon", "tue", "wed", "thu", "fri"],
                       "holidays": [monday.isoformat()]}
    with session_scope(db_url) as s:
        policies.apply(s, document=doc, actor="test")
    await time_env.sleep(friday - now)
    async with running_worker(time_env.client, db_url) as queue:
        h = await pending_level(time_env, db_url, seeded, queue)
        state = await h.query(DisputeWorkflow.get_state)
        name = next(n for n in state.sla if n.startswith("approval_"))
        due = state.sla[name].due_at.astimezone(LA)
        start = state.sla[name].started_at.astimezone(LA)
        # Friday evening + one business day, Monday a holiday: Tuesday, same wall time.
        assert start.weekday() == 4 and due.weekday() == 1
        assert (due.hour, due.minute) == (start.hour, start.minute)
        assert due.date() == monday + timedelta(days=1)
        await time_env.sleep(due - (await time_env.get_current_time()) - timedelta(hours=1))
        assert not (await h.query(DisputeWorkflow.get_state)).sla[name].breached
        await time_env.sleep(timedelta(hours=2))
        await until(h, lambda s: s.sla[name].breached)
        await h.execute_update(DisputeWorkflow.decide, decide(seeded, "bm"))
        await h.result()


async def test_level_without_backup_alerts_daily_and_history_stays_small(
    time_env: WorkflowEnvironment, db_url: str, seeded: People
) -> None:
    doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    doc["levels"]["billing_manager"] = {"sla": "P1D"}  # no escalate_to
    doc["calendar"] = "always"
    with session_scope(db_url) as s:
        policies.apply(s, document=doc, actor="test")
    async with running_worker(time_env.client, db_url) as queue:
        h = await pending_level(time_env, db_url, seeded, queue)
        await time_env.sleep(timedelta(days=366))
        state = await until(h, lambda s: any(c.alerts >= 360 for c in s.sla.values()))
        name = next(n for n in state.sla if n.startswith("approval_"))
        assert state.credit_memo is not None
        assert state.credit_memo.levels[0].status == "pending"  # nobody to escalate to
        handle = time_env.client.get_workflow_handle(h.id)
        desc = await handle.describe()
        history = await handle.fetch_history()
        assert len(history.events) < 2500, "continue-as-new must keep the history small"
        assert desc.run_id != h.first_execution_run_id  # it continued as new
        # Still decidable after a year and several runs.
        result = await handle.execute_update(DisputeWorkflow.decide, decide(seeded, "bm"))
        assert result.status == "resolved"
        await handle.result()
    assert state.sla[name].alerts >= 360
