"""SIGKILL the worker at the worst moments: every dispute still finishes, each credit memo
is posted exactly once, and the audit chain verifies."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import func, select

from db import audit
from db.models import LedgerPosting
from db.session import session_scope
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, error_code, wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.faults
CREDIT = {"root_cause": "rate_card", "resolution": "partial_credit",
          "credit_lines": [{"line_id": "L1", "amount": "250.00"}]}


def _postings(stack: Stack) -> int:
    with session_scope(stack.settings.database_url) as s:
        return int(s.scalar(select(func.count()).select_from(LedgerPosting)) or 0)


def _chain_ok(stack: Stack) -> bool:
    with session_scope(stack.settings.database_url) as s:
        return audit.verify(s).ok


def test_kill_while_investigating_and_while_pending(
    api_only: Stack, people: People, worker_factory: Any
) -> None:
    worker = worker_factory().start()
    cs = as_user(api_only, people, "cs")
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    worker.kill()  # possibly in the middle of the findings
    worker = worker_factory().start()
    wait_for(cs, dispute_id, lambda v: v["findings_ready"], timeout=60)

    r = as_user(api_only, people, "analyst").post(
        f"/api/v1/disputes/{dispute_id}/investigation", json=CREDIT)
    assert r.status_code == 200, r.text
    worker.kill()  # a level is pending
    bm, key = as_user(api_only, people, "bm"), {"Idempotency-Key": "bm-after-crash"}
    url = f"/api/v1/disputes/{dispute_id}/decision"
    r = bm.post(url, json={"decision": "approve"}, headers=key)
    assert r.status_code == 503  # nobody to run it: not applied now, nothing half-done
    assert "the same key" in r.json()["error"]["message"]
    worker = worker_factory().start()
    r = bm.post(url, json={"decision": "approve"}, headers=key)  # the same request again
    assert r.status_code == 200, r.text
    assert r.json()["approvals"][0]["approver_id"] == people.ids["bm"]
    again = bm.post(url, json={"decision": "approve"})  # a new request: refused, in words
    assert again.status_code == 409 and error_code(again) == "wrong_state"
    wait_for(cs, dispute_id, lambda v: v["status"] == "resolved", timeout=60)
    assert _postings(api_only) == 1 and _chain_ok(api_only)


def test_kill_between_ledger_post_and_its_read_model_write(
    api_only: Stack, people: People, worker_factory: Any
) -> None:
    crashing = worker_factory(DISPUTEFLOW_CRASH_AT="after_ledger_post").start()
    cs = as_user(api_only, people, "cs")
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"], timeout=60)
    as_user(api_only, people, "analyst").post(f"/api/v1/disputes/{dispute_id}/investigation",
                                              json=CREDIT)
    r = as_user(api_only, people, "bm").post(f"/api/v1/disputes/{dispute_id}/decision",
                                             json={"decision": "approve"})
    assert r.status_code in (200, 202), r.text  # the decision itself was recorded
    assert crashing.wait_exit(30) == -9  # the worker died right after the ledger commit
    assert _postings(api_only) == 1
    assert cs.get(f"/api/v1/disputes/{dispute_id}").json()["status"] == "pending_approval"

    worker_factory().start()  # the activity is retried after its timeout
    view = wait_for(cs, dispute_id, lambda v: v["status"] == "resolved", timeout=90)
    assert view["credit_memo"]["status"] == "posted"
    assert _postings(api_only) == 1, "the retried posting must find the first one"
    assert _chain_ok(api_only)


def _polling(stack: Stack, pid: int) -> bool:
    """Whether the worker process ``pid`` is polling the stack's workflow task queue."""
    import asyncio

    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    from config.temporal import connect

    async def describe() -> bool:
        client = await connect(stack.settings)
        resp = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
            namespace=stack.settings.temporal_namespace,
            task_queue=TaskQueue(name=stack.settings.temporal_task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
        return any(p.identity.startswith(f"{pid}@") for p in resp.pollers)

    return asyncio.run(describe())


def test_a_decision_right_after_a_worker_restart_is_applied(
    api_only: Stack, people: People, worker_factory: Any
) -> None:
    """Kubernetes kills a worker and starts another: a decision sent 2 s after the new one
    polls is applied — the dispute's task does not sit on the dead worker's sticky queue."""
    worker = worker_factory().start()
    cs = as_user(api_only, people, "cs")
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"], timeout=60)
    r = as_user(api_only, people, "analyst").post(
        f"/api/v1/disputes/{dispute_id}/investigation", json=CREDIT)
    assert r.status_code == 200, r.text  # the dispute is now cached on this worker
    worker.kill()
    worker = worker_factory().start()
    assert worker.proc is not None
    deadline = time.monotonic() + 30
    while not _polling(api_only, worker.proc.pid):
        assert time.monotonic() < deadline, "the new worker never polled"
        time.sleep(0.1)
    time.sleep(2)
    started = time.monotonic()
    r = as_user(api_only, people, "bm").post(f"/api/v1/disputes/{dispute_id}/decision",
                                             json={"decision": "approve"})
    took = time.monotonic() - started
    assert r.status_code in (200, 202), r.text
    assert r.json()["approvals"][0]["status"] == "approved"
    assert took < 5, f"the decision took {took:.1f} s"
    wait_for(cs, dispute_id, lambda v: v["status"] == "resolved", timeout=60)
    assert _postings(api_only) == 1 and _chain_ok(api_only)
