"""Policy versions through the API, and segregation of duties over HTTP."""

from __future__ import annotations

import copy

import pytest

from approvals.default_policy import DEFAULT_POLICY_DOCUMENT
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, error_code, wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def test_new_policy_version_drives_new_chains_only(stack: Stack, people: People,
                                                   admin_token: str) -> None:
    admin, cs = stack.http(admin_token), as_user(stack, people, "cs")
    analyst = as_user(stack, people, "analyst")
    old = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    wait_for(cs, old, lambda v: v["findings_ready"])
    r = analyst.post(f"/api/v1/disputes/{old}/investigation", json={
        "root_cause": "rate_card", "resolution": "partial_credit",
        "credit_lines": [{"line_id": "L1", "amount": "250.00"}]})
    assert r.json()["policy_version"] == 1

    doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    doc["tiers"][1]["min"] = "100"
    r = admin.put("/api/v1/policy", json=doc)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    assert admin.get("/api/v1/policy").json()["version"] == 2
    assert [v["version"] for v in admin.get("/api/v1/policy/versions").json()["items"]] == [2, 1]

    new = cs.post("/api/v1/disputes", json=dispute_body(disputed_amount="200.00",
                                                        invoice_number="INV-1001",
                                                        line_ids=["L2"])).json()["id"]
    wait_for(cs, new, lambda v: v["findings_ready"])
    r = analyst.post(f"/api/v1/disputes/{new}/investigation", json={
        "root_cause": "rate_card", "resolution": "partial_credit",
        "credit_lines": [{"line_id": "L2", "amount": "200.00"}]})
    view = r.json()
    assert view["policy_version"] == 2
    assert [a["role"] for a in view["approvals"]] == ["billing_manager",
                                                      "senior_billing_manager"]
    # The dispute approved under v1 keeps its one-level chain.
    assert len(cs.get(f"/api/v1/disputes/{old}").json()["approvals"]) == 1


def test_bad_policy_is_422_naming_the_field(stack: Stack, admin_token: str,
                                            people: People) -> None:
    admin = stack.http(admin_token)
    doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    doc["tiers"][2]["levels"] = ["billing_manager", "cfo"]
    r = admin.put("/api/v1/policy", json=doc)
    assert r.status_code == 422 and error_code(r) == "validation_error"
    assert any(d["field"].startswith("tiers[2]") for d in r.json()["error"]["details"])
    assert admin.get("/api/v1/policy").json()["version"] == 1
    r = as_user(stack, people, "auditor").put("/api/v1/policy", json=DEFAULT_POLICY_DOCUMENT)
    assert r.status_code == 403


def test_preparer_who_holds_the_role_gets_sod_violation(stack: Stack, people: People) -> None:
    cs = as_user(stack, people, "cs")
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    preparer = as_user(stack, people, "analyst_bm")
    r = preparer.post(f"/api/v1/disputes/{dispute_id}/investigation", json={
        "root_cause": "rate_card", "resolution": "partial_credit",
        "credit_lines": [{"line_id": "L1", "amount": "250.00"}]})
    assert r.status_code == 200, r.text
    r = preparer.post(f"/api/v1/disputes/{dispute_id}/decision", json={"decision": "approve"})
    assert r.status_code == 403 and error_code(r) == "sod_violation"
    assert "prepared" in r.json()["error"]["message"]
    timeline = cs.get(f"/api/v1/disputes/{dispute_id}").json()["timeline"]
    refused = [t for t in timeline if t["action"] == "decision.refused"]
    assert refused and refused[-1]["actor"] == people.ids["analyst_bm"]


def test_delegation_through_the_api_and_revision_restarts_the_chain(
    stack: Stack, people: People, admin_token: str
) -> None:
    from datetime import UTC, datetime, timedelta

    cs, analyst = as_user(stack, people, "cs"), as_user(stack, people, "analyst")
    now = datetime.now(UTC)
    r = as_user(stack, people, "bm").post(f"/api/v1/users/{people.ids['bm']}/delegations", json={
        "delegate_id": people.ids["mgr"], "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=7)).isoformat()})
    assert r.status_code == 201, r.text
    r = as_user(stack, people, "cs").post(f"/api/v1/users/{people.ids['bm']}/delegations",
                                          json={"delegate_id": people.ids["cs2"],
                                                "starts_at": now.isoformat(),
                                                "ends_at": (now + timedelta(days=1)).isoformat()})
    assert r.status_code == 403  # only the user or an admin delegates that authority
    r = stack.http(admin_token).post(f"/api/v1/users/{people.ids['bm']}/delegations", json={
        "delegate_id": people.ids["mgr"], "starts_at": now.isoformat(),
        "ends_at": (now - timedelta(days=1)).isoformat()})
    assert r.status_code == 422

    dispute_id = cs.post("/api/v1/disputes", json=dispute_body(
        invoice_number="INV-BIG", line_ids=["B1"], disputed_amount="6000.00")).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    r = analyst.post(f"/api/v1/disputes/{dispute_id}/investigation", json={
        "root_cause": "rate_card", "resolution": "partial_credit",
        "credit_lines": [{"line_id": "B1", "amount": "5500.00"}]})
    assert [a["role"] for a in r.json()["approvals"]] == ["billing_manager",
                                                          "senior_billing_manager"]
    r = as_user(stack, people, "mgr").post(f"/api/v1/disputes/{dispute_id}/decision",
                                           json={"decision": "approve", "comment": "as delegate"})
    assert r.status_code == 200, r.text
    level = r.json()["approvals"][0]
    assert level["approver_id"] == people.ids["mgr"] and level["delegate_of"] == people.ids["bm"]

    # A change after an approval: the approvals are voided and the chain starts again.
    r = analyst.post(f"/api/v1/disputes/{dispute_id}/credit-memo", json={
        "credit_lines": [{"line_id": "B1", "amount": "4000.00"}], "note": "agreed 4,000"})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["credit_memo"]["total"] == "4000.00"
    assert view["credit_memo"]["number"].endswith("-2")
    assert [a["status"] for a in view["approvals"]] == ["pending"]  # 4,000: one level now
    timeline = analyst.get(f"/api/v1/disputes/{dispute_id}").json()["timeline"]
    assert "credit_memo.revised" in [t["action"] for t in timeline]
    r = as_user(stack, people, "auditor").post(f"/api/v1/disputes/{dispute_id}/credit-memo",
                                               json={"credit_lines": [{"line_id": "B1",
                                                                       "amount": "1.00"}]})
    assert r.status_code == 403


def test_back_test_runs_a_proposal_over_memos_the_workflow_wrote(
    stack: Stack, people: People, admin_token: str
) -> None:
    from datetime import UTC, datetime, timedelta

    cs, analyst = as_user(stack, people, "cs"), as_user(stack, people, "analyst")
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    r = analyst.post(f"/api/v1/disputes/{dispute_id}/investigation", json={
        "root_cause": "rate_card", "resolution": "partial_credit",
        "credit_lines": [{"line_id": "L1", "amount": "250.00"}]})
    number = r.json()["credit_memo"]["number"]
    now = datetime.now(UTC)
    doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    doc["tiers"][1]["min"] = "100"
    body = {"policy": doc, "from": (now - timedelta(days=1)).isoformat(),
            "to": (now + timedelta(days=1)).isoformat()}

    r = as_user(stack, people, "auditor").post("/api/v1/policy/backtest", json=body)
    assert r.status_code == 200, r.text
    result = r.json()
    [memo] = result["memos"]
    assert memo["number"] == number and memo["dispute_id"] == dispute_id
    assert memo["chain_then"] == ["billing_manager"]
    assert memo["chain_proposed"] == ["billing_manager", "senior_billing_manager"]
    assert memo["change"] == "more" and memo["amount_base"] == "250.00"
    assert result["summary"]["more_levels"] == 1
    assert {"role": "senior_billing_manager", "recorded": 0, "proposed": 1,
            "change": 1} in result["summary"]["load"]
    # Nothing changed: the policy in force and the dispute's chain are as before.
    assert stack.http(admin_token).get("/api/v1/policy").json()["version"] == 1
    assert [a["role"] for a in cs.get(f"/api/v1/disputes/{dispute_id}").json()["approvals"]] \
        == ["billing_manager"]

    assert as_user(stack, people, "analyst").post(
        "/api/v1/policy/backtest", json=body).status_code == 403
    bad = {**body, "policy": {**doc, "aggregation_window_days": 400}}
    r = stack.http(admin_token).post("/api/v1/policy/backtest", json=bad)
    assert r.status_code == 422 and error_code(r) == "validation_error"
    assert [d["field"] for d in r.json()["error"]["details"]] == [
        "policy.aggregation_window_days"]
    r = stack.http(admin_token).post("/api/v1/policy/backtest",
                                     json={**body, "to": body["from"]})
    assert r.status_code == 422 and "'to' must be after 'from'" in r.json()["error"]["message"]
    r = stack.http(admin_token).post("/api/v1/policy/backtest", json={"policy": doc})
    assert r.status_code == 422
    assert {d["field"] for d in r.json()["error"]["details"]} >= {"from", "to"}
