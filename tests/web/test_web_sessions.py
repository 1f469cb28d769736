"""Web sessions live on the server: signing out ends one for good (a copied cookie is dead
too), revoking the token it was opened with ends it, an admin can sign a user out of every
browser, a removed role is gone from the next page, and a session expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update

from api.deps import SESSION_COOKIE
from db import web_sessions
from db.models import AuditEvent, WebSession
from db.session import session_scope
from tests.conftest import People
from tests.support.web_session import page_csrf
from tests.web.conftest import WebStack


def _replay(stack: WebStack, cookie: str, path: str = "/disputes") -> httpx.Response:
    other = stack.http()
    other.cookies.set(SESSION_COOKIE, cookie)
    return other.get(path)


def test_sign_out_ends_the_session_not_only_the_cookie(web_stack: WebStack,
                                                       people: People) -> None:
    browser = web_stack.browser_session(people.tokens["cs"])
    cookie = browser.cookies[SESSION_COOKIE]
    assert cookie.startswith(web_sessions.SECRET_PREFIX)
    assert cookie != people.tokens["cs"]  # the token never sits in the browser
    assert _replay(web_stack, cookie).status_code == 200
    r = browser.post("/logout", data={"csrf": page_csrf(browser)})
    assert r.status_code == 303
    dead = _replay(web_stack, cookie)
    assert dead.status_code == 303 and dead.headers["location"].startswith("/login")
    # The API's cookie reads end with it.
    refused = _replay(web_stack, cookie, "/api/v1/disputes")
    assert refused.status_code == 401 and "session has ended" in refused.text
    # The token itself still works for the API.
    assert web_stack.http(people.tokens["cs"]).get("/api/v1/disputes").status_code == 200


def test_revoking_the_token_ends_its_sessions(web_stack: WebStack, people: People,
                                              admin_token: str) -> None:
    uid = people.ids["auditor"]
    browser = web_stack.browser_session(people.tokens["auditor"])
    assert browser.get("/audit").status_code == 200
    admin = web_stack.http(admin_token)
    token_id = admin.get(f"/api/v1/users/{uid}/tokens").json()["items"][0]["id"]
    assert admin.delete(f"/api/v1/users/{uid}/tokens/{token_id}").status_code == 200
    r = browser.get("/audit")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Faudit"


def test_admin_signs_a_user_out_everywhere(web_stack: WebStack, people: People,
                                           admin_token: str) -> None:
    uid = people.ids["mgr"]
    laptop = web_stack.browser_session(people.tokens["mgr"])
    phone = web_stack.browser_session(people.tokens["mgr"])
    bystander = web_stack.browser_session(people.tokens["cs"])
    manager_api = web_stack.http(people.tokens["mgr"])
    refused = web_stack.http(people.tokens["cs"]).delete(f"/api/v1/users/{uid}/sessions")
    assert refused.status_code == 403 and "admin or the user" in refused.text
    admin = web_stack.http(admin_token)
    r = admin.delete(f"/api/v1/users/{uid}/sessions", params={"reason": "laptop lost"})
    assert r.status_code == 200 and r.json() == {"ended": 2}
    for browser in (laptop, phone):
        assert browser.get("/dashboard").status_code == 303
    assert bystander.get("/disputes").status_code == 200
    assert manager_api.get("/api/v1/disputes").status_code == 200  # tokens stay
    with session_scope(web_stack.settings.database_url) as session:
        ended = list(session.scalars(select(AuditEvent).where(
            AuditEvent.subject == uid, AuditEvent.action == "sessions.ended")))
    assert [(e.actor, e.data["ended"]) for e in ended] == [("admin", 2)]
    assert "laptop lost" in ended[0].message
    again = admin.delete(f"/api/v1/users/{uid}/sessions", params={"reason": "again"})
    assert again.json() == {"ended": 0}
    assert admin.delete("/api/v1/users/U-NOBODY/sessions").status_code == 404
    # A user may sign themselves out everywhere.
    mine = web_stack.browser_session(people.tokens["cs"])
    r = web_stack.http(people.tokens["cs"]).delete(
        f"/api/v1/users/{people.ids['cs']}/sessions", params={"reason": "new laptop"})
    assert r.json() == {"ended": 2} and mine.get("/disputes").status_code == 303


def test_a_removed_role_is_gone_from_the_next_page(web_stack: WebStack, people: People,
                                                   admin_token: str) -> None:
    browser = web_stack.browser_session(people.tokens["mgr"])
    assert browser.get("/dashboard").status_code == 200
    r = web_stack.http(admin_token).delete(
        f"/api/v1/users/{people.ids['mgr']}/roles/manager", params={"reason": "moved team"})
    assert r.status_code == 200, r.text
    assert browser.get("/dashboard").status_code == 403


def test_a_session_expires(web_stack: WebStack, people: People) -> None:
    browser = web_stack.browser_session(people.tokens["cs"])
    cookie = browser.cookies[SESSION_COOKIE]
    with session_scope(web_stack.settings.database_url) as session:
        row = session.get(WebSession, web_sessions.session_key(cookie))
        assert row is not None and row.via == "token" and row.token_id is not None
        lifetime = row.expires_at - row.created_at
        assert lifetime == timedelta(hours=12)  # DISPUTEFLOW_SESSION_HOURS' default
        session.execute(update(WebSession).where(WebSession.id == row.id).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert browser.get("/disputes").status_code == 303
