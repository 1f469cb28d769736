"""``disputeflow replay-check`` against the real dev server: the open disputes replay on
this build, and a build with an unguarded change would be caught before it is deployed."""

from __future__ import annotations

import asyncio

import pytest

from cli.replay_check import OPEN_DISPUTES, ReplayCheck, check
from config.temporal import connect
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, wait_for
from tests.support.stack import Stack
from tests.workflows.test_replay import ChangedDisputeWorkflow
from workflows.registry import WORKFLOWS

pytestmark = pytest.mark.e2e


def test_open_disputes_replay_and_a_breaking_build_is_named(stack: Stack, people: People) -> None:
    cs = as_user(stack, people, "cs")
    waiting = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    wait_for(cs, waiting, lambda v: v["findings_ready"])
    r = as_user(stack, people, "analyst").post(f"/api/v1/disputes/{waiting}/investigation", json={
        "root_cause": "rate_card", "resolution": "partial_credit",
        "credit_lines": [{"line_id": "L1", "amount": "100.00"}]})
    assert r.status_code == 200, r.text
    closed = cs.post("/api/v1/disputes", json=dispute_body(disputed_amount="10.00")).json()["id"]
    assert cs.post(f"/api/v1/disputes/{closed}/withdraw",
                   json={"comment": "client paid"}).status_code == 200
    query = f'{OPEN_DISPUTES} AND TaskQueue = "{stack.settings.temporal_task_queue}"'

    async def both() -> tuple[ReplayCheck, ReplayCheck]:
        client = await connect(stack.settings)
        for _ in range(100):  # visibility follows the engine by a moment
            if (await check(client, WORKFLOWS, query=query)).replayed == 1:
                break
            await asyncio.sleep(0.1)
        return (await check(client, WORKFLOWS, query=query),
                await check(client, [ChangedDisputeWorkflow], query=query))

    this_build, breaking = asyncio.run(both())
    assert this_build.replayed == 1 and this_build.broken == {}
    assert list(breaking.broken) == [waiting]
    assert "Nondeterminism" in breaking.broken[waiting]
