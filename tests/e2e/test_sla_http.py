"""On the real dev server: a breach shows in /api/v1/sla/breaches within a second of its
deadline, and the escalated approver can act at once."""

from __future__ import annotations

import copy
import time
from datetime import datetime

import pytest

from approvals.default_policy import DEFAULT_POLICY_DOCUMENT
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def test_breach_is_visible_within_a_second_and_escalation_acts(
    stack: Stack, people: People, admin_token: str
) -> None:
    doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    doc["calendar"] = "always"
    doc["sla"] = {"acknowledge": "PT2S", "investigate": "PT1H", "resolve": "PT2H",
                  "remind_at": "0.5"}
    doc["levels"]["billing_manager"]["sla"] = "PT3S"
    assert stack.http(admin_token).put("/api/v1/policy", json=doc).status_code == 200

    cs, mgr = as_user(stack, people, "cs"), as_user(stack, people, "mgr")
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    view = wait_for(cs, dispute_id, lambda v: "acknowledge" in v["sla"])
    due = datetime.fromisoformat(view["sla"]["acknowledge"]["due_at"])

    seen_at = None
    deadline = time.time() + 10
    while time.time() < deadline:
        items = mgr.get("/api/v1/sla/breaches", params={"open": "true"}).json()["items"]
        if any(b["dispute_id"] == dispute_id and b["clock"] == "acknowledge" for b in items):
            seen_at = time.time()
            break
        time.sleep(0.05)
    assert seen_at is not None, "the acknowledge breach never appeared"
    lag = seen_at - due.timestamp()
    assert lag < 1.0, f"breach appeared {lag:.2f}s after its deadline"
    breach = next(b for b in items if b["clock"] == "acknowledge")
    assert breach["assignee_role"] == "analyst" and breach["amount"] == "250.00"
    assert cs.get(f"/api/v1/disputes/{dispute_id}").json()["sla"]["acknowledge"]["breached"]
    assert mgr.get("/api/v1/disputes", params={"breached": "true"}).json()["items"]

    r = as_user(stack, people, "analyst").post(
        f"/api/v1/disputes/{dispute_id}/investigation",
        json={"root_cause": "rate_card", "resolution": "partial_credit",
              "credit_lines": [{"line_id": "L1", "amount": "250.00"}]})
    assert r.status_code == 200, r.text
    view = wait_for(cs, dispute_id,
                    lambda v: v["approvals"] and v["approvals"][0]["status"] == "escalated")
    items = mgr.get("/api/v1/sla/breaches", params={"clock": "approval"}).json()["items"]
    assert items and items[0]["escalated_to"] == "senior_billing_manager"
    r = as_user(stack, people, "sbm").post(f"/api/v1/disputes/{dispute_id}/decision",
                                           json={"decision": "approve", "comment": "escalated"})
    assert r.status_code == 200 and r.json()["status"] == "resolved", r.text
    closed = mgr.get("/api/v1/sla/breaches", params={"open": "false"}).json()["items"]
    assert {b["clock"] for b in closed} >= {"acknowledge"}
    assert as_user(stack, people, "cs").get("/api/v1/sla/breaches").status_code == 403
