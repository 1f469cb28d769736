"""The access pages as an admin and an auditor use them: roles granted and removed with their
reasons, history shown by name, the access review, and four-eyes changes approved on the page
by a second admin only."""

from __future__ import annotations

import copy
import html
from collections.abc import Iterator

import httpx
import pytest

from approvals.default_policy import DEFAULT_POLICY_DOCUMENT
from cli.processes import DevServer
from tests.conftest import People
from tests.support.web_session import page_csrf
from tests.web.conftest import WebStack

pytestmark = pytest.mark.e2e


def _text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text[:500]
    return html.unescape(response.text)


def test_admin_grants_and_removes_a_role_on_the_page(web_stack: WebStack, people: People,
                                                     admin_token: str) -> None:
    admin = web_stack.browser_session(admin_token)
    uid = people.ids["analyst2"]
    page = f"/admin/users/{uid}"
    assert "analyst2" in _text(admin.get("/admin/users"))

    def post(path: str, **form: str) -> str:
        r = admin.post(path, data={"csrf": page_csrf(admin, page), **form})
        assert r.status_code == 303, r.text[:300]
        return _text(admin.get(page))

    after = post(f"{page}/roles", role="controller", reason="year-end cover")
    assert "Role controller granted." in after and "year-end cover" in after
    assert "analyst, controller" in after
    refused = post(f"{page}/roles", role="controller", reason="again please")
    assert "Not granted: analyst2 holds the role controller already." in refused
    refused = post(f"{page}/roles", role="Bad Role", reason="x")
    assert "Not granted:" in refused and "role" in refused.lower()
    assert "Not removed: say why" in post(f"{page}/roles/remove", role="controller", reason="")
    after = post(f"{page}/roles/remove", role="controller", reason="cover over")
    assert "Role controller removed." in after and "cover over" in after
    api = web_stack.http(admin_token)
    history = api.get(f"/api/v1/users/{uid}").json()["history"]
    assert [(h["role"], h["removal_reason"]) for h in history] == [
        ("analyst", None), ("controller", "cover over")]

    # The auditor reads the same page and the access review, with no forms to change them.
    auditor = web_stack.browser_session(people.tokens["auditor"])
    seen = _text(auditor.get(page))
    assert "cover over" in seen and "Grant a role" not in seen
    review = _text(auditor.get("/audit/access-review"))
    assert "analyst_bm" in review and "holds analyst (which prepares credit memos)" in review
    assert 'href="/api/v1/audit/access-review?format=csv"' in auditor.get(
        "/audit/access-review").text
    r = auditor.post(f"{page}/roles", data={"csrf": page_csrf(auditor, page),
                                            "role": "controller", "reason": "let me"})
    assert r.status_code == 403
    assert api.get(f"/api/v1/users/{uid}").json()["roles"] == ["analyst"]
    assert web_stack.browser_session(people.tokens["bm"]).get("/admin/users").status_code == 403


@pytest.fixture
def four_eyes_web(dev_server: DevServer, db_url: str, admin_token: str,
                  people: People) -> Iterator[WebStack]:
    stack = WebStack.create(temporal_address=dev_server.address, db_url=db_url,
                            admin_token=admin_token, disputeflow_four_eyes=True)
    yield stack
    stack.stop()


def test_a_second_admin_approves_a_policy_change_on_the_page(
        four_eyes_web: WebStack, admin_token: str) -> None:
    api = four_eyes_web.http(admin_token)
    second = api.post("/api/v1/users", json={"name": "Bo Admin", "email": "bo@example.com",
                                             "roles": ["admin"]}).json()
    doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    doc["tiers"][1]["min"] = "1000"
    change = api.put("/api/v1/policy", json=doc, params={"reason": "lower the second tier"}
                     ).json()
    cid = change["change_id"]

    proposer = four_eyes_web.browser_session(admin_token)
    listed = _text(proposer.get("/admin/changes"))
    assert cid in listed and "lower the second tier" in listed
    assert "tiers[1].min" in listed and "5000" in listed and "1000" in listed
    assert "Back-test over the memos of" in listed
    assert "disabled" in proposer.get("/admin/changes").text  # the proposer's own button
    assert "waiting for a second admin" in _text(proposer.get("/admin/policy"))
    r = proposer.post(f"/admin/changes/{cid}/approve",
                      data={"csrf": page_csrf(proposer, "/admin/changes")})
    assert r.status_code == 303
    assert "a second admin must approve it" in _text(proposer.get("/admin/changes"))
    assert api.get("/api/v1/policy").json()["version"] == 1

    bo = four_eyes_web.browser_session(second["token"])
    r = bo.post(f"/admin/changes/{cid}/approve",
                data={"csrf": page_csrf(bo, "/admin/changes"), "comment": "checked"})
    assert r.status_code == 303
    assert f"Change {cid} approved." in _text(bo.get("/admin/changes"))
    assert api.get("/api/v1/policy").json()["version"] == 2
    versions = _text(bo.get("/admin/policy"))
    assert "Version 2" in versions and "against 1" in versions
