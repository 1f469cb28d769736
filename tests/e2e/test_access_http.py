"""Access evidence over HTTP: effective-dated role history, the control test judging each
decision by the roles held when it was made, the auditor's access review, and four eyes on
policy changes and grants of approval roles."""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from approvals.default_policy import DEFAULT_POLICY_DOCUMENT
from cli.processes import DevServer
from db.models import User
from db.session import session_scope
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, error_code, wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def four_eyes(dev_server: DevServer, db_url: str, admin_token: str,
              people: People) -> Iterator[Stack]:
    s = Stack.create(temporal_address=dev_server.address, db_url=db_url,
                     admin_token=admin_token, disputeflow_four_eyes=True)
    yield s
    s.stop()


def _admins(stack: Stack, admin_token: str) -> tuple[httpx.Client, str, httpx.Client, str]:
    """Two stored admins (the bootstrap admin creates them; admin is not an approval role, so
    that grant needs no second pair of eyes)."""
    boot = stack.http(admin_token)
    made = []
    for name in ("Ada Admin", "Bo Admin"):
        r = boot.post("/api/v1/users", json={"name": name, "email": f"{name[:2]}@example.com",
                                             "roles": ["admin"]})
        assert r.status_code == 201, r.text
        made.append((stack.http(r.json()["token"]), r.json()["id"]))
    return made[0][0], made[0][1], made[1][0], made[1][1]


def _investigated(stack: Stack, people: People, amount: str = "250.00") -> str:
    cs = as_user(stack, people, "cs")
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body(disputed_amount=amount)
                         ).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    r = as_user(stack, people, "analyst").post(
        f"/api/v1/disputes/{dispute_id}/investigation",
        json={"root_cause": "rate_card", "resolution": "partial_credit",
              "credit_lines": [{"line_id": "L1", "amount": amount}]})
    assert r.status_code == 200, r.text
    return dispute_id


def _approve(stack: Stack, people: People, who: str, dispute_id: str) -> None:
    r = as_user(stack, people, who).post(f"/api/v1/disputes/{dispute_id}/decision",
                                         json={"decision": "approve"})
    assert r.status_code == 200 and r.json()["status"] == "resolved", r.text


def test_role_grants_and_removals_are_dated_with_who_and_why(
        stack: Stack, people: People, admin_token: str) -> None:
    admin, uid = stack.http(admin_token), people.ids["analyst2"]
    r = admin.post(f"/api/v1/users/{uid}/roles",
                   json={"role": "billing_manager", "reason": "covers the EMEA queue"})
    assert r.status_code == 201, r.text
    assert r.json()["granted_by"] == "admin" and r.json()["removed_at"] is None
    me = as_user(stack, people, "analyst2")
    assert me.get("/api/v1/users/me").json()["roles"] == ["analyst", "billing_manager"]

    r = admin.delete(f"/api/v1/users/{uid}/roles/billing_manager",
                     params={"reason": "EMEA cover ended"})
    assert r.status_code == 200, r.text
    detail = me.get(f"/api/v1/users/{uid}").json()  # a user reads their own history
    assert detail["roles"] == ["analyst"]
    history = {(h["role"], h["granted_by"], h["removed_by"], h["removal_reason"])
               for h in detail["history"]}
    assert history == {("analyst", "test", None, None),
                       ("billing_manager", "admin", "admin", "EMEA cover ended")}
    bm = next(h for h in detail["history"] if h["role"] == "billing_manager")
    assert bm["granted_at"] < bm["removed_at"]

    # Each change is in the hash chain, and the chain still verifies.
    auditor = as_user(stack, people, "auditor")
    assert auditor.get(f"/api/v1/users/{uid}").status_code == 200
    assert auditor.get("/api/v1/audit/verify").json()["ok"] is True

    # Refusals: each says what was wrong, nothing changes.
    r = admin.post(f"/api/v1/users/{uid}/roles", json={"role": "analyst", "reason": "again"})
    assert r.status_code == 409 and "already" in r.json()["error"]["message"]
    r = admin.delete(f"/api/v1/users/{uid}/roles/controller", params={"reason": "tidy up"})
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = admin.delete(f"/api/v1/users/{uid}/roles/analyst")
    assert r.status_code == 422  # a removal needs its reason
    r = admin.post(f"/api/v1/users/{uid}/roles", json={"role": "controller"})
    assert r.status_code == 422
    assert admin.get("/api/v1/users/U-NOPE").status_code == 404
    r = as_user(stack, people, "analyst").get(f"/api/v1/users/{uid}")
    assert r.status_code == 403 and error_code(r) == "forbidden"
    r = as_user(stack, people, "mgr").post(f"/api/v1/users/{uid}/roles",
                                           json={"role": "controller", "reason": "please"})
    assert r.status_code == 403
    assert me.get("/api/v1/users/me").json()["roles"] == ["analyst"]


def test_control_test_judges_the_roles_held_when_each_decision_was_made(
        stack: Stack, people: People, admin_token: str) -> None:
    admin, auditor = stack.http(admin_token), as_user(stack, people, "auditor")
    # bm approves, then leaves the role: the past decision stays authorised.
    _approve(stack, people, "bm", _investigated(stack, people))
    r = admin.delete(f"/api/v1/users/{people.ids['bm']}/roles/billing_manager",
                     params={"reason": "moved to another team"})
    assert r.status_code == 200, r.text
    result = auditor.get("/api/v1/audit/control-test").json()
    assert result["memos_checked"] == 1 and result["ok"] is True, result

    # bm2's role set is edited in the database, outside the role history, and bm2 approves
    # with the role thus taken; an admin's later grant does not cover the earlier decision.
    dispute_id = _investigated(stack, people)
    with session_scope(stack.settings.database_url) as s:
        s.execute(update(User).where(User.id == people.ids["cs2"])
                  .values(roles=["client_services", "billing_manager"]))
    _approve(stack, people, "cs2", dispute_id)
    with session_scope(stack.settings.database_url) as s:
        s.execute(update(User).where(User.id == people.ids["cs2"])
                  .values(roles=["client_services"]))
    r = admin.post(f"/api/v1/users/{people.ids['cs2']}/roles",
                   json={"role": "billing_manager", "reason": "made official"})
    assert r.status_code == 201, r.text
    result = auditor.get("/api/v1/audit/control-test").json()
    assert result["memos_checked"] == 2 and result["ok"] is False
    [exception] = result["exceptions"]
    assert exception["dispute_id"] == dispute_id
    assert exception["check"] == "approver_authorized"
    assert people.ids["cs2"] in exception["message"]


def _review(client: httpx.Client) -> list[dict[str, str]]:
    r = client.get("/api/v1/audit/access-review", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
    assert "attachment" in r.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(r.text)))


def test_access_review_lists_every_holding_its_origin_activity_and_conflicts(
        stack: Stack, people: People, admin_token: str) -> None:
    admin, auditor = stack.http(admin_token), as_user(stack, people, "auditor")
    r = admin.post("/api/v1/users", json={"name": "=HYPERLINK(\"http://evil\")",
                                          "email": "evil@example.com", "roles": ["auditor"]})
    assert r.status_code == 201
    r = admin.post(f"/api/v1/users/{people.ids['bm']}/roles",
                   json={"role": "senior_billing_manager", "reason": "acting senior"})
    assert r.status_code == 201
    _approve(stack, people, "bm2", _investigated(stack, people))

    rows = _review(auditor)
    by = {(row["user_id"], row["role"]): row for row in rows}
    assert len(rows) == sum(len(roles) for roles in people.roles.values()) + 2
    bm_sbm = by[(people.ids["bm"], "senior_billing_manager")]
    assert bm_sbm["granted_by"] == "admin" and bm_sbm["grant_reason"] == "acting senior"
    assert "consecutive levels" in bm_sbm["conflicts"]
    assert "consecutive levels" in by[(people.ids["bm"], "billing_manager")]["conflicts"]
    both = by[(people.ids["analyst_bm"], "analyst")]
    assert "analyst" in both["conflicts"] and "billing_manager" in both["conflicts"]
    assert by[(people.ids["analyst"], "analyst")]["conflicts"] == ""
    assert by[(people.ids["bm2"], "billing_manager")]["last_activity"]  # approved just now
    assert by[(people.ids["dir"], "director_revops")]["last_activity"] == ""
    assert by[(people.ids["sbm"], "senior_billing_manager")]["since"]
    assert any(row["user_name"].startswith("'=") for row in rows)  # no spreadsheet formulas

    items: list[dict[str, Any]] = auditor.get("/api/v1/audit/access-review",
                                              params={"format": "json"}).json()["items"]
    assert len(items) == len(rows)
    item = next(i for i in items if i["user_id"] == people.ids["bm"]
                and i["role"] == "senior_billing_manager")
    assert item["conflicts"] == ["holds billing_manager and senior_billing_manager, "
                                 "consecutive levels of one chain"]
    assert any(i["user_name"].startswith("=") for i in items)  # JSON keeps the exact text

    # Removing the role clears the conflict and its row.
    admin.delete(f"/api/v1/users/{people.ids['bm']}/roles/senior_billing_manager",
                 params={"reason": "acting period over"})
    by = {(row["user_id"], row["role"]): row for row in _review(auditor)}
    assert (people.ids["bm"], "senior_billing_manager") not in by
    assert by[(people.ids["bm"], "billing_manager")]["conflicts"] == ""
    r = as_user(stack, people, "analyst").get("/api/v1/audit/access-review")
    assert r.status_code == 403


def test_without_four_eyes_one_admin_applies_a_policy_at_once(
        stack: Stack, admin_token: str) -> None:
    r = stack.http(admin_token).put("/api/v1/policy", json=DEFAULT_POLICY_DOCUMENT)
    assert r.status_code == 200 and r.json()["version"] == 2


def test_four_eyes_policy_change_waits_for_a_second_admin(
        four_eyes: Stack, admin_token: str, people: People) -> None:
    ada, ada_id, bo, bo_id = _admins(four_eyes, admin_token)
    doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    doc["tiers"][1]["min"] = "100"
    r = ada.put("/api/v1/policy", json=doc, params={"reason": "tighter control over 100"})
    assert r.status_code == 202, r.text
    change = r.json()
    assert change["status"] == "proposed" and change["kind"] == "policy"
    assert change["proposed_by"] == ada_id and change["base_version"] == 1
    assert {"path": "tiers[1].min", "before": "5000", "after": "100"} in change["diff"]
    assert change["backtest"]["summary"] is not None  # the second admin sees its effect
    assert ada.get("/api/v1/policy").json()["version"] == 1  # nothing applied yet

    auditor = as_user(four_eyes, people, "auditor")
    listed = auditor.get("/api/v1/changes", params={"status": "proposed"}).json()["items"]
    assert [c["change_id"] for c in listed] == [change["change_id"]]

    r = ada.post(f"/api/v1/changes/{change['change_id']}/approve", json={})
    assert r.status_code == 403 and error_code(r) == "sod_violation"
    assert ada.get("/api/v1/policy").json()["version"] == 1
    r = as_user(four_eyes, people, "auditor").post(
        f"/api/v1/changes/{change['change_id']}/approve")
    assert r.status_code == 403 and error_code(r) == "forbidden"

    r = bo.post(f"/api/v1/changes/{change['change_id']}/approve",
                json={"comment": "reviewed the back-test"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved" and r.json()["decided_by"] == bo_id
    policy = bo.get("/api/v1/policy").json()
    assert policy["version"] == 2 and policy["created_by"] == ada_id
    assert policy["document"]["tiers"][1]["min"] == "100"
    r = bo.post(f"/api/v1/changes/{change['change_id']}/approve")
    assert r.status_code == 409 and error_code(r) == "wrong_state"

    # New disputes follow the approved version.
    dispute_id = _investigated(four_eyes, people, amount="200.00")
    view = as_user(four_eyes, people, "cs").get(f"/api/v1/disputes/{dispute_id}").json()
    assert view["policy_version"] == 2 and len(view["approvals"]) == 2


def test_four_eyes_refuses_a_stale_proposal_and_applies_nothing_rejected(
        four_eyes: Stack, admin_token: str) -> None:
    ada, _, bo, _ = _admins(four_eyes, admin_token)
    first = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    first["tiers"][1]["min"] = "1000"
    second = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    second["tiers"][1]["min"] = "2000"
    one = ada.put("/api/v1/policy", json=first).json()["change_id"]
    two = bo.put("/api/v1/policy", json=second).json()["change_id"]
    assert ada.post(f"/api/v1/changes/{two}/approve").status_code == 200
    r = bo.post(f"/api/v1/changes/{one}/approve")
    assert r.status_code == 409 and "version 2 is in force" in r.json()["error"]["message"]
    assert ada.get("/api/v1/policy").json()["document"]["tiers"][1]["min"] == "2000"

    three = ada.put("/api/v1/policy", json=first).json()["change_id"]
    r = bo.post(f"/api/v1/changes/{three}/reject", json={"comment": "not this quarter"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert ada.get("/api/v1/policy").json()["version"] == 2
    assert ada.post(f"/api/v1/changes/{three}/approve").status_code == 409
    assert ada.get("/api/v1/changes/CHG-NOPE").status_code == 404
    bad = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    bad["tiers"][2]["levels"] = ["billing_manager", "cfo"]
    r = ada.put("/api/v1/policy", json=bad)
    assert r.status_code == 422  # an invalid policy is refused, not proposed
    assert len(ada.get("/api/v1/changes").json()["items"]) == 3


def test_four_eyes_grant_of_an_approval_role(four_eyes: Stack, admin_token: str,
                                             people: People) -> None:
    ada, ada_id, bo, _ = _admins(four_eyes, admin_token)
    uid = people.ids["analyst2"]
    r = ada.post(f"/api/v1/users/{uid}/roles", json={"role": "controller",
                                                     "reason": "year-end cover"})
    assert r.status_code == 202, r.text
    change = r.json()
    assert change["kind"] == "role_grant"
    assert change["diff"] == [{"path": f"users.{uid}.roles", "before": ["analyst"],
                               "after": ["analyst", "controller"]}]
    assert ada.get(f"/api/v1/users/{uid}").json()["roles"] == ["analyst"]
    r = ada.post(f"/api/v1/changes/{change['change_id']}/approve")
    assert r.status_code == 403 and error_code(r) == "sod_violation"
    assert bo.post(f"/api/v1/changes/{change['change_id']}/approve").status_code == 200
    detail = bo.get(f"/api/v1/users/{uid}").json()
    assert detail["roles"] == ["analyst", "controller"]
    held = next(h for h in detail["history"] if h["role"] == "controller")
    assert held["granted_by"] == ada_id and held["change_id"] == change["change_id"]

    # A role that approves nothing is granted at once; a removal never waits.
    r = ada.post(f"/api/v1/users/{uid}/roles", json={"role": "auditor", "reason": "SOX prep"})
    assert r.status_code == 201
    r = ada.delete(f"/api/v1/users/{uid}/roles/controller", params={"reason": "cover over"})
    assert r.status_code == 200
    assert bo.get(f"/api/v1/users/{uid}").json()["roles"] == ["analyst", "auditor"]


def test_four_eyes_sso_mapping_that_hands_out_an_approval_role(
        four_eyes: Stack, admin_token: str, people: People) -> None:
    """Members take their roles from the mapping at sign-in: giving a group an approval role
    is a grant of authority over money, so it waits for a second admin like one."""
    ada, _, bo, _ = _admins(four_eyes, admin_token)
    r = ada.put("/api/v1/sso/group-roles", json={"finance-analysts": ["analyst"]})
    assert r.status_code == 200  # no approval role: applied at once
    r = ada.put("/api/v1/sso/group-roles", params={"reason": "controllers via SSO"},
                json={"finance-analysts": ["analyst"], "controllers": ["controller"]})
    assert r.status_code == 202, r.text
    change = r.json()
    assert change["kind"] == "group_roles"
    assert change["diff"] == [{"path": "sso.group_roles.controllers", "before": None,
                               "after": ["controller"]}]
    assert ada.get("/api/v1/sso/group-roles").json() == {"finance-analysts": ["analyst"]}
    assert error_code(ada.post(f"/api/v1/changes/{change['change_id']}/approve")) == \
        "sod_violation"
    assert bo.post(f"/api/v1/changes/{change['change_id']}/approve").status_code == 200
    assert bo.get("/api/v1/sso/group-roles").json() == {
        "controllers": ["controller"], "finance-analysts": ["analyst"]}
