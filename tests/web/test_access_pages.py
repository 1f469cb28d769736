"""The access pages beyond roles, over real HTTP as a person uses them: API tokens issued
(shown once, working as a bearer token), reissued and revoked; delegations given, used and
ended; every browser of a user signed out; the single sign-on group mapping saved; a Slack
account linked by email."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from cli.processes import DevServer
from db.models import AuditEvent
from db.session import session_scope
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, error_code, wait_for
from tests.support.fake_slack import FakeSlack
from tests.support.web_session import page_csrf
from tests.web.conftest import WebStack

pytestmark = pytest.mark.e2e


def _text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text[:500]
    return html.unescape(response.text)


def _secret(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text[:500]
    assert "Copy it now" in response.text and "shown only this once" in response.text
    match = re.search(r'value="(dfl_[^"]+)"', response.text)
    assert match, response.text[:800]
    return match.group(1)


def _token_id(page: str, name: str) -> str:
    match = re.search(rf'<tr id="(TOK-[A-Z0-9]+)">\s*<th scope="row">{re.escape(name)}</th>',
                      page)
    assert match, page[:2000]
    return match.group(1)


def _events(stack: WebStack, action: str) -> list[AuditEvent]:
    with session_scope(stack.settings.database_url) as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.seq)))


def test_tokens_are_shown_once_work_and_stop_when_revoked(web_stack: WebStack, people: People,
                                                          admin_token: str) -> None:
    admin = web_stack.browser_session(admin_token)
    uid = people.ids["analyst2"]
    page = f"/admin/users/{uid}"
    assert "initial token" in _text(admin.get(page))

    r = admin.post(f"{page}/tokens", data={"csrf": page_csrf(admin, page),
                                           "name": "month-end export", "expires_in_days": "30"})
    secret = _secret(r)
    api = web_stack.http(secret)
    assert api.get("/api/v1/users/me").json()["id"] == uid  # a working bearer token
    listed = admin.get(page).text
    assert secret not in listed and "month-end export" in listed  # never shown again
    token_id = _token_id(listed, "month-end export")

    # Reissued: a new secret, shown once; the old one stops at once.
    r = admin.post(f"{page}/tokens/{token_id}/reissue", data={"csrf": page_csrf(admin, page)})
    renewed = _secret(r)
    assert renewed != secret
    assert api.get("/api/v1/users/me").status_code == 401
    renewed_api = web_stack.http(renewed)
    assert renewed_api.get("/api/v1/users/me").status_code == 200

    listed = admin.get(page).text
    new_id = _token_id(listed, "month-end export")
    r = admin.post(f"{page}/tokens/{new_id}/revoke", data={"csrf": page_csrf(admin, page)})
    assert r.status_code == 303
    after = _text(admin.get(page))
    assert "revoked: it no longer works" in after
    assert renewed_api.get("/api/v1/users/me").status_code == 401
    r = admin.post(f"{page}/tokens/{new_id}/revoke", data={"csrf": page_csrf(admin, page)})
    again = _text(admin.get(page))
    assert f"Not revoked: Token {new_id} was revoked already" in again
    r = admin.post(f"{page}/tokens", data={"csrf": page_csrf(admin, page), "name": ""})
    assert r.status_code == 303
    assert "Not issued:" in _text(admin.get(page))
    r = admin.post(f"{page}/tokens", data={"name": "no csrf"})
    assert r.status_code == 403 and "expired or did not come from" in r.text

    # A user manages their own tokens on /account; an auditor reads theirs, changes none.
    me = web_stack.browser_session(people.tokens["analyst"])
    r = me.post("/account/tokens", data={"csrf": page_csrf(me, "/account"), "name": "laptop"})
    mine = _secret(r)
    assert web_stack.http(mine).get("/api/v1/users/me").json()["id"] == people.ids["analyst"]
    assert "laptop" in _text(me.get("/account")) and mine not in me.get("/account").text
    auditor = web_stack.browser_session(people.tokens["auditor"])
    seen = _text(auditor.get("/account"))
    assert "initial token" in seen and "Issue a token" not in seen
    r = auditor.post("/account/tokens", data={"csrf": page_csrf(auditor, "/account"),
                                              "name": "mine"})
    assert r.status_code == 403
    assert web_stack.browser_session(people.tokens["bm"]).post(
        f"{page}/tokens", data={"csrf": page_csrf(me, "/account"), "name": "x"}
    ).status_code == 403
    assert [e.data["name"] for e in _events(web_stack, "token.issued")][-1] == "laptop"


def _pending(stack: WebStack, people: People) -> str:
    cs = as_user(stack, people, "cs")
    r = cs.post("/api/v1/disputes", json=dispute_body(disputed_amount="250.00"))
    assert r.status_code == 201, r.text
    dispute_id = str(r.json()["id"])
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    r = as_user(stack, people, "analyst").post(
        f"/api/v1/disputes/{dispute_id}/investigation", json={
            "root_cause": "rate_card", "resolution": "partial_credit",
            "credit_lines": [{"line_id": "L1", "amount": "250.00"}]})
    assert r.status_code == 200 and r.json()["status"] == "pending_approval", r.text
    return dispute_id


def _local(at: datetime) -> str:
    """A time as the form's datetime-local field sends it, in the policy's time zone."""
    return at.astimezone(ZoneInfo("America/Los_Angeles")).strftime("%Y-%m-%dT%H:%M")


def test_a_delegation_lets_the_delegate_act_until_it_is_ended(
        web_stack: WebStack, people: People, admin_token: str) -> None:
    first, second = _pending(web_stack, people), _pending(web_stack, people)
    bm = web_stack.browser_session(people.tokens["bm"])
    now = datetime.now(ZoneInfo("UTC"))
    r = bm.post("/account/delegations", data={
        "csrf": page_csrf(bm, "/account"), "delegate_id": people.ids["mgr"],
        "starts_at": _local(now - timedelta(minutes=5)),
        "ends_at": _local(now + timedelta(days=2))})
    assert r.status_code == 303
    mine = _text(bm.get("/account"))
    assert "Delegation" in mine and "recorded" in mine
    assert 'data-state="active"' in bm.get("/account").text
    refused = bm.post("/account/delegations", data={
        "csrf": page_csrf(bm, "/account"), "delegate_id": people.ids["mgr"],
        "starts_at": _local(now + timedelta(days=2)), "ends_at": _local(now)})
    assert refused.status_code == 303
    assert "Not delegated: ends_at must be after starts_at" in _text(bm.get("/account"))
    bm.post("/account/delegations", data={"csrf": page_csrf(bm, "/account"),
                                          "delegate_id": people.ids["mgr"],
                                          "ends_at": "next tuesday"})
    assert "Not delegated: Ends: enter a date and time" in _text(bm.get("/account"))

    # The delegate sees it received, and decides in the billing manager's place.
    mgr = web_stack.browser_session(people.tokens["mgr"])
    assert "bm" in _text(mgr.get("/account")) and 'href="/approvals"' in mgr.get(
        "/account").text
    r = as_user(web_stack, people, "mgr").post(f"/api/v1/disputes/{first}/decision",
                                               json={"decision": "approve"})
    assert r.status_code == 200, r.text
    assert r.json()["approvals"][0]["delegate_of"] == people.ids["bm"]

    # An admin ends it on the billing manager's page: the delegate can act no more.
    admin = web_stack.browser_session(admin_token)
    page = f"/admin/users/{people.ids['bm']}"
    delegation_id = re.search(r'data-delegation="(\d+)" data-state="active"',
                              admin.get(page).text)
    assert delegation_id
    did = delegation_id.group(1)
    r = admin.post(f"{page}/delegations/{did}/end", data={"csrf": page_csrf(admin, page),
                                                          "reason": ""})
    assert "Not ended: say why" in _text(admin.get(page))
    r = admin.post(f"{page}/delegations/{did}/end", data={"csrf": page_csrf(admin, page),
                                                          "reason": "back from leave"})
    assert r.status_code == 303
    ended = _text(admin.get(page))
    assert f"Delegation {did} ended" in ended and 'data-state="ended"' in admin.get(page).text
    r = as_user(web_stack, people, "mgr").post(f"/api/v1/disputes/{second}/decision",
                                               json={"decision": "approve"})
    assert r.status_code == 403, r.text
    assert 'href="/approvals"' not in mgr.get("/account").text
    [event] = _events(web_stack, "delegation.ended")
    assert event.data["reason"] == "back from leave" and event.actor == "admin"
    api = web_stack.http(admin_token)
    listed = api.get(f"/api/v1/users/{people.ids['bm']}/delegations").json()
    assert [d["state"] for d in listed["given"]] == ["ended"]
    r = api.delete(f"/api/v1/users/{people.ids['bm']}/delegations/{did}",
                   params={"reason": "again"})
    assert r.status_code == 409 and error_code(r) == "wrong_state"


def test_delegations_over_the_api(web_stack: WebStack, people: People,
                                  admin_token: str) -> None:
    bm_api = as_user(web_stack, people, "bm")
    now = datetime.now(ZoneInfo("UTC"))
    r = bm_api.post(f"/api/v1/users/{people.ids['bm']}/delegations", json={
        "delegate_id": people.ids["bm2"], "starts_at": (now + timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=3)).isoformat()})
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    received = as_user(web_stack, people, "bm2").get(
        f"/api/v1/users/{people.ids['bm2']}/delegations").json()["received"]
    assert [(d["id"], d["state"]) for d in received] == [(did, "upcoming")]
    assert as_user(web_stack, people, "cs").get(
        f"/api/v1/users/{people.ids['bm']}/delegations").status_code == 403
    r = as_user(web_stack, people, "bm2").delete(
        f"/api/v1/users/{people.ids['bm']}/delegations/{did}", params={"reason": "mine now"})
    assert r.status_code == 403
    r = bm_api.delete(f"/api/v1/users/{people.ids['bm']}/delegations/{did}",
                      params={"reason": "plans changed"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "ended" and r.json()["ends_at"] == r.json()["starts_at"]
    r = bm_api.delete(f"/api/v1/users/{people.ids['bm']}/delegations/999999",
                      params={"reason": "nothing"})
    assert r.status_code == 404
    assert bm_api.delete(f"/api/v1/users/{people.ids['bm']}/delegations/{did}"
                         ).status_code == 422  # the reason is required


def test_sign_out_everywhere_ends_the_users_browsers(web_stack: WebStack, people: People,
                                                     admin_token: str) -> None:
    browser = web_stack.browser_session(people.tokens["analyst"])
    assert browser.get("/disputes").status_code == 200
    admin = web_stack.browser_session(admin_token)
    page = f"/admin/users/{people.ids['analyst']}"
    r = admin.post(f"{page}/sessions/end", data={"csrf": page_csrf(admin, page),
                                                 "reason": "laptop stolen"})
    assert r.status_code == 303
    assert "Signed out everywhere: 1 web session ended" in _text(admin.get(page))
    r = browser.get("/disputes")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert as_user(web_stack, people, "analyst").get("/api/v1/users/me").status_code == 200
    assert web_stack.browser_session(people.tokens["cs"]).post(
        f"{page}/sessions/end", data={"csrf": page_csrf(admin, page), "reason": "x" * 5}
    ).status_code == 403


def test_the_group_mapping_is_saved_shown_and_audited(web_stack: WebStack, people: People,
                                                      admin_token: str) -> None:
    admin = web_stack.browser_session(admin_token)
    assert "No group gives a role" in _text(admin.get("/admin/sso"))
    r = admin.post("/admin/sso", data={"csrf": page_csrf(admin, "/admin/sso"), "mapping":
                                       "finance-approvers: billing_manager\n"
                                       "# comment\n\nAudit Team: auditor, manager\n"})
    assert r.status_code == 303
    shown = _text(admin.get("/admin/sso"))
    assert "Mapping saved: 2 groups give roles" in shown
    assert "finance-approvers" in shown and "billing manager" in shown
    assert "Audit Team: auditor, manager" in shown  # the form, ready for the next edit
    api = web_stack.http(admin_token)
    assert api.get("/api/v1/sso/group-roles").json() == {
        "Audit Team": ["auditor", "manager"], "finance-approvers": ["billing_manager"]}
    [event] = _events(web_stack, "sso.group_roles_set")
    assert event.actor == "admin" and event.data["before"] == {}
    assert event.data["after"]["finance-approvers"] == ["billing_manager"]

    r = admin.post("/admin/sso", data={"csrf": page_csrf(admin, "/admin/sso"),
                                       "mapping": "finance-approvers billing_manager"})
    assert r.status_code == 422 and "Line 1" in html.unescape(r.text)
    assert "finance-approvers billing_manager</textarea>" in r.text  # what was typed stays
    r = admin.post("/admin/sso", data={"csrf": page_csrf(admin, "/admin/sso"),
                                       "mapping": "ops: analyst, Bad Role"})
    assert r.status_code == 422
    assert "group ops, role “Bad Role”" in html.unescape(r.text)
    assert len(_events(web_stack, "sso.group_roles_set")) == 1  # refusals change nothing

    auditor = web_stack.browser_session(people.tokens["auditor"])
    seen = _text(auditor.get("/admin/sso"))
    assert "finance-approvers" in seen and "Edit the mapping" not in seen
    r = auditor.post("/admin/sso", data={"csrf": page_csrf(auditor, "/admin/sso"),
                                         "mapping": "x: admin"})
    assert r.status_code == 403
    assert web_stack.browser_session(people.tokens["bm"]).get("/admin/sso").status_code == 403
    r = admin.post("/admin/sso", data={"mapping": "x: admin"})
    assert r.status_code == 403 and "expired or did not come from" in r.text
    assert api.get("/api/v1/sso/group-roles").json()["finance-approvers"] == [
        "billing_manager"]


@pytest.fixture
def slack_web(dev_server: DevServer, db_url: str, admin_token: str,
              people: People) -> Iterator[tuple[WebStack, FakeSlack]]:
    fake = FakeSlack.start()
    stack = WebStack.create(temporal_address=dev_server.address, db_url=db_url,
                            admin_token=admin_token, with_worker=False,
                            slack_bot_token="xoxb-test-" + secrets.token_hex(4),
                            slack_signing_secret=secrets.token_hex(16), slack_api_url=fake.url)
    assert isinstance(stack, WebStack)
    try:
        yield stack, fake
    finally:
        stack.stop()
        fake.close()


def test_slack_account_linked_from_the_pages(slack_web: tuple[WebStack, FakeSlack],
                                             people: People, admin_token: str) -> None:
    stack, fake = slack_web
    admin = stack.browser_session(admin_token)
    page = f"/admin/users/{people.ids['sbm']}"
    assert "not linked" in _text(admin.get(page))
    r = admin.post(f"{page}/slack-link", data={"csrf": page_csrf(admin, page)})
    assert r.status_code == 303
    assert "Slack not linked: Slack has no account with the email sbm@example.com" in _text(
        admin.get(page))
    fake.add_member("sbm@example.com", "U0SBM")
    admin.post(f"{page}/slack-link", data={"csrf": page_csrf(admin, page)})
    after = _text(admin.get(page))
    assert "Linked to Slack user U0SBM, found by email." in after

    me = stack.browser_session(people.tokens["dir"])
    fake.add_member("dir@example.com", "U0DIR")
    r = me.post("/account/slack-link", data={"csrf": page_csrf(me, "/account")})
    assert r.status_code == 303
    mine: Any = _text(me.get("/account"))
    assert "Linked to Slack user U0DIR" in mine
