"""The whole lifecycle through HTTP against the real Temporal dev server and a worker."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from db import audit
from db.models import Dispute, LedgerPosting
from db.session import session_scope
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, error_code, wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def test_open_investigate_approve_post_resolve(stack: Stack, people: People) -> None:
    cs, analyst = as_user(stack, people, "cs"), as_user(stack, people, "analyst")
    r = cs.post("/api/v1/disputes", json=dispute_body(disputed_amount="6000.00",
                                                      invoice_number="INV-BIG",
                                                      line_ids=["B1"]),
                headers={"Idempotency-Key": "k-1"})
    assert r.status_code == 201, r.text
    dispute = r.json()
    assert dispute["status"] == "investigating"
    assert dispute["disputed_amount"] == "6000.00"
    dispute_id = dispute["id"]

    view = wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    assert view["timeline"][0]["action"] == "dispute.opened"

    r = analyst.post(f"/api/v1/disputes/{dispute_id}/investigation", json={
        "root_cause": "rate_card", "resolution": "full_credit", "prior_period": False,
        "credit_lines": [{"line_id": "B1", "amount": "6000.00"}], "note": "credit in full"})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["status"] == "pending_approval"
    assert [a["role"] for a in view["approvals"]] == ["billing_manager",
                                                      "senior_billing_manager"]
    assert [a["status"] for a in view["approvals"]] == ["pending", "waiting"]
    assert view["policy_version"] == 1
    assert view["credit_memo"]["base_total"] == "6000.00"

    # Out of order: the senior manager cannot decide level 1.
    r = as_user(stack, people, "sbm").post(f"/api/v1/disputes/{dispute_id}/decision",
                                           json={"decision": "approve", "comment": ""})
    assert r.status_code == 403 and error_code(r) == "forbidden"
    # The opener cannot approve, whatever roles they hold.
    r = cs.post(f"/api/v1/disputes/{dispute_id}/decision", json={"decision": "approve"})
    assert r.status_code == 403

    bm = as_user(stack, people, "bm")
    key = {"Idempotency-Key": "bm-level-1"}
    r = bm.post(f"/api/v1/disputes/{dispute_id}/decision", headers=key,
                json={"decision": "approve", "comment": "ok"})
    assert r.status_code == 200, r.text
    assert [a["status"] for a in r.json()["approvals"]] == ["approved", "pending"]
    # A retry with the same Idempotency-Key is a replay: the same answer, decided once.
    r2 = bm.post(f"/api/v1/disputes/{dispute_id}/decision", headers=key,
                 json={"decision": "approve", "comment": "ok"})
    assert r2.status_code == 200, r2.text
    assert r2.json()["approvals"] == r.json()["approvals"]
    # Without it, it is a new request, for the level pending now: not bm's to decide.
    r3 = bm.post(f"/api/v1/disputes/{dispute_id}/decision",
                 json={"decision": "approve", "comment": "ok"})
    assert r3.status_code == 403, r3.text

    r = as_user(stack, people, "sbm").post(f"/api/v1/disputes/{dispute_id}/decision",
                                           json={"decision": "approve", "comment": "fine"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "resolved"  # the answer already shows the posted credit
    view = cs.get(f"/api/v1/disputes/{dispute_id}").json()
    assert view["credit_memo"]["status"] == "posted"
    assert view["credit_memo"]["ledger_reference"]
    actions = [t["action"] for t in view["timeline"]]
    assert "decision.refused" in actions and "credit_memo.posted" in actions

    with session_scope(stack.settings.database_url) as s:
        assert s.scalar(select(func.count()).select_from(LedgerPosting)) == 1
        assert audit.verify(s).ok

    # The same invoice now has 6000.00 less open: a new dispute above that is refused.
    r = cs.post("/api/v1/disputes", json=dispute_body(disputed_amount="74000.01",
                                                      invoice_number="INV-BIG", line_ids=[]))
    assert r.status_code == 422 and "still open" in r.json()["error"]["message"]


def test_reject_returns_to_investigating_with_reason(stack: Stack, people: People) -> None:
    cs = as_user(stack, people, "cs")
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    r = as_user(stack, people, "analyst").post(
        f"/api/v1/disputes/{dispute_id}/investigation",
        json={"root_cause": "rate_card", "resolution": "partial_credit",
              "credit_lines": [{"line_id": "L1", "amount": "250.00"}]})
    assert r.status_code == 200, r.text
    r = as_user(stack, people, "bm").post(f"/api/v1/disputes/{dispute_id}/decision",
                                          json={"decision": "reject",
                                                "comment": "delivery gap not credited"})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["status"] == "investigating"
    assert view["approvals"][0]["status"] == "rejected"
    assert view["approvals"][0]["comment"] == "delivery gap not credited"


def test_deny_and_withdraw(stack: Stack, people: People) -> None:
    cs = as_user(stack, people, "cs")
    first = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    second = cs.post("/api/v1/disputes", json=dispute_body(disputed_amount="10.00")).json()["id"]
    wait_for(cs, first, lambda v: v["findings_ready"])
    r = as_user(stack, people, "analyst").post(
        f"/api/v1/disputes/{first}/investigation",
        json={"root_cause": "customer_misunderstanding", "resolution": "deny",
              "note": "billed per contract"})
    assert r.status_code == 200 and r.json()["status"] == "denied"
    r = cs.post(f"/api/v1/disputes/{second}/withdraw", json={"comment": "client paid"})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    r = cs.post(f"/api/v1/disputes/{second}/withdraw", json={"comment": "again"})
    assert r.status_code == 409 and error_code(r) == "wrong_state"


def test_idempotent_intake(stack: Stack, people: People) -> None:
    cs = as_user(stack, people, "cs")
    headers = {"Idempotency-Key": "same-key"}
    a = cs.post("/api/v1/disputes", json=dispute_body(), headers=headers)
    b = cs.post("/api/v1/disputes", json=dispute_body(), headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] == b.json()["id"]
    c = cs.post("/api/v1/disputes", json=dispute_body(disputed_amount="1.00"), headers=headers)
    assert c.status_code == 409 and error_code(c) == "idempotency_conflict"
    with session_scope(stack.settings.database_url) as s:
        assert s.scalar(select(func.count()).select_from(Dispute)) == 1


def test_list_filters_and_cursor_pagination(stack: Stack, people: People) -> None:
    cs = as_user(stack, people, "cs")
    ids = [cs.post("/api/v1/disputes", json=dispute_body(disputed_amount=f"{i + 1}.00")
                   ).json()["id"] for i in range(5)]
    eu = cs.post("/api/v1/disputes", json=dispute_body(
        account_id="ADV-EU", invoice_number="INV-EU1", currency="EUR", line_ids=["E1"])).json()
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "account_id": "ADV-1"} | ({"cursor": cursor} if cursor else {})
        page = cs.get("/api/v1/disputes", params=params).json()
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    only_eu = cs.get("/api/v1/disputes", params={"account_id": "ADV-EU"}).json()["items"]
    assert [d["id"] for d in only_eu] == [eu["id"]]
    r = cs.get("/api/v1/disputes", params={"status": "bogus"})
    assert r.status_code == 422 and error_code(r) == "validation_error"
    r = cs.get("/api/v1/disputes", params={"cursor": "not-a-cursor"})
    assert r.status_code == 422
