"""A decision's answer is the truth about what happened: a 200 only when the decision was
applied (or is the replay of one that was, with the same Idempotency-Key), the validator's
refusal otherwise — over HTTP, on the real dev server."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import AuditEvent
from db.session import session_scope
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, error_code, wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
TWO_LEVELS = {"root_cause": "rate_card", "resolution": "partial_credit",
              "credit_lines": [{"line_id": "B1", "amount": "6000.00"}]}


def _two_level_dispute(stack: Stack, people: People) -> str:
    cs = as_user(stack, people, "cs")
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body(
        invoice_number="INV-BIG", disputed_amount="6000.00", line_ids=["B1"])).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    r = as_user(stack, people, "analyst").post(
        f"/api/v1/disputes/{dispute_id}/investigation", json=TWO_LEVELS)
    assert r.status_code == 200, r.text
    assert [a["role"] for a in r.json()["approvals"]] == [
        "billing_manager", "senior_billing_manager"]
    return dispute_id


def _both_roles(stack: Stack, admin_token: str) -> str:
    r = stack.http(admin_token).post("/api/v1/users", json={
        "name": "Dana Twohats", "email": "dana@example.com",
        "roles": ["billing_manager", "senior_billing_manager"]})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def test_second_level_by_the_first_levels_approver_is_refused_not_a_200(
    stack: Stack, people: People, admin_token: str
) -> None:
    dispute_id = _two_level_dispute(stack, people)
    dana = stack.http(_both_roles(stack, admin_token))
    url = f"/api/v1/disputes/{dispute_id}/decision"

    first = dana.post(url, json={"decision": "approve", "comment": "level one"},
                      headers={"Idempotency-Key": "dana-1"})
    assert first.status_code == 200, first.text
    assert [a["status"] for a in first.json()["approvals"]] == ["approved", "pending"]

    # The same person, now for level 2: segregation of duties refuses it, in words.
    second = dana.post(url, json={"decision": "approve", "comment": "level two"})
    assert second.status_code == 403, second.text
    assert error_code(second) == "sod_violation"
    assert "approved level 1" in second.json()["error"]["message"]

    # Sent again without a key, it is again a new request: refused again, never a 200.
    again = dana.post(url, json={"decision": "approve", "comment": "level one"})
    assert again.status_code == 403 and error_code(again) == "sod_violation"

    # A replay carries the same Idempotency-Key: it answers that it was applied, once.
    replay = dana.post(url, json={"decision": "approve", "comment": "level one"},
                       headers={"Idempotency-Key": "dana-1"})
    assert replay.status_code == 200, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert [a["status"] for a in replay.json()["approvals"]] == ["approved", "pending"]
    assert "Idempotent-Replayed" not in first.headers

    view = as_user(stack, people, "cs").get(f"/api/v1/disputes/{dispute_id}").json()
    assert [a["status"] for a in view["approvals"]] == ["approved", "pending"]
    assert view["approvals"][1]["approver_id"] is None
    with session_scope(stack.settings.database_url) as s:
        actions = list(s.scalars(select(AuditEvent.action).where(
            AuditEvent.subject == dispute_id).order_by(AuditEvent.seq)))
    assert actions.count("approval.approved") == 1
    assert actions.count("decision.refused") == 2  # each refusal is in the audit trail

    # The level stays for someone allowed to decide it.
    r = as_user(stack, people, "sbm").post(url, json={"decision": "approve"})
    assert r.status_code == 200, r.text
    assert r.json()["approvals"][1]["status"] == "approved"
    assert r.json()["status"] == "resolved"

    # Replayed once the dispute is closed, the same request still answers as applied, and
    # with the dispute as it is now — not as it was when level 1 was approved.
    late = dana.post(url, json={"decision": "approve", "comment": "level one"},
                     headers={"Idempotency-Key": "dana-1"})
    assert late.status_code == 200, late.text
    assert late.headers["Idempotent-Replayed"] == "true"
    assert late.json()["status"] == "resolved"
    # The same key with another body is another request: refused, the dispute is closed.
    other = dana.post(url, json={"decision": "reject", "comment": "changed my mind"},
                      headers={"Idempotency-Key": "dana-1"})
    assert other.status_code == 409 and error_code(other) == "wrong_state"


def test_a_decision_answers_with_the_new_state_without_its_timeline(
    stack: Stack, people: People
) -> None:
    dispute_id = _two_level_dispute(stack, people)
    r = as_user(stack, people, "bm").post(f"/api/v1/disputes/{dispute_id}/decision",
                                          json={"decision": "approve", "comment": "ok"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["approvals"][0]["status"] == "approved"
    assert body["approvals"][0]["comment"] == "ok"
    assert body["approvals"][1]["status"] == "pending"
    assert body["timeline"] is None  # GET the dispute for its timeline
    got = as_user(stack, people, "cs").get(f"/api/v1/disputes/{dispute_id}").json()
    assert {k: v for k, v in got.items() if k != "timeline"} == {
        k: v for k, v in body.items() if k != "timeline"}
    assert got["timeline"][-1]["action"] == "approval.approved"
