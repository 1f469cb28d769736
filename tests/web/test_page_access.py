"""Who may open which page, over plain HTTP: generated from the web router's route table
(every page route must declare its roles), plus sign-in, sign-out, CSRF and the cookie on the
API. Runs against the real stack (worker, Temporal dev server), like the API's matrix."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.routing import APIRoute

from api import web
from api.deps import ANY_ROLE, ANY_WRITER, READ_ONLY_ROLES, SESSION_COOKIE
from tests.conftest import People
from tests.e2e.helpers import dispute_body, wait_for
from tests.support.web_session import login_csrf, page_csrf, sign_in
from tests.web.conftest import WebStack

pytestmark = pytest.mark.e2e
# Reachable without a session by design (signing in and out, the SSO redirect and callback).
PUBLIC = {"/login", "/logout", "/auth/oidc/login", "/auth/oidc/callback"}
ROLE_USERS = {"client_services": "cs", "analyst": "analyst", "billing_manager": "bm",
              "manager": "mgr", "auditor": "auditor"}


def declared_roles(route: APIRoute) -> tuple[str, ...] | None:
    for dep in route.dependant.dependencies:
        roles = getattr(dep.call, "roles", None)
        if roles is not None:
            return tuple(roles)
    return None


def _flatten(routes: list[Any]) -> list[APIRoute]:
    """Routes through included routers (which FastAPI may nest)."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            out += _flatten(route.original_router.routes)
        elif hasattr(route, "routes"):
            out += _flatten(route.routes)
    return out


def page_routes() -> list[tuple[str, str, tuple[str, ...]]]:
    out = []
    for route in _flatten(web.router.routes):
        if route.path in PUBLIC:
            continue
        roles = declared_roles(route)
        assert roles is not None, f"{route.path} declares no roles: use auth.page_user/form_user"
        out += [(method, route.path, roles) for method in sorted(route.methods or ())]
    return out


ROUTES = page_routes()


def allowed(roles: tuple[str, ...], role: str) -> bool:
    if ANY_ROLE in roles or role in roles:
        return True
    return ANY_WRITER in roles and role not in READ_ONLY_ROLES


def url_for(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X-1", path)


def test_every_page_declares_roles_and_auditors_post_nothing() -> None:
    assert len(ROUTES) >= 12
    for method, path, roles in ROUTES:
        if method == "POST" and path != "/logout":
            assert not allowed(roles, "auditor"), f"POST {path} admits auditors"


def test_matrix_over_http(web_stack: WebStack, people: People, admin_token: str) -> None:
    sessions = {role: web_stack.browser_session(people.tokens[who])
                for role, who in ROLE_USERS.items()}
    sessions["admin"] = web_stack.browser_session(admin_token)
    csrf = {role: page_csrf(client) for role, client in sessions.items()}
    anon = web_stack.http()
    for method, path, roles in ROUTES:
        url = url_for(path)
        r = anon.request(method, url, data={"csrf": "x"})
        assert r.status_code == 303, (method, path, r.text)
        assert r.headers["location"].startswith("/login?next="), (method, path)
        for role, client in sessions.items():
            data: dict[str, Any] = {"csrf": csrf[role]} if method == "POST" else {}
            r = client.request(method, url, data=data) if data else client.request(method, url)
            if allowed(roles, role):
                assert r.status_code != 403, (method, path, role, r.text[:300])
                assert not r.headers.get("location", "").startswith("/login"), (method, path)
            else:
                assert r.status_code == 403, (method, path, role, r.status_code)
                assert "text/html" in r.headers["content-type"]
                assert "Not allowed" in r.text, r.text
                assert "needs the role" in r.text or "can read but not change" in r.text


def test_no_cookie_redirects_to_login_and_back(web_stack: WebStack, people: People) -> None:
    anon = web_stack.http()
    r = anon.get("/disputes?status=investigating")
    assert r.status_code == 303
    target = urlsplit(r.headers["location"])
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == ["/disputes?status=investigating"]
    login = sign_in(anon, people.tokens["cs"], next_url="/disputes?status=investigating")
    assert login.headers["location"] == "/disputes?status=investigating"
    assert anon.get("/disputes?status=investigating").status_code == 200


def test_wrong_role_sees_a_403_page(web_stack: WebStack, people: People) -> None:
    cs = web_stack.browser_session(people.tokens["cs"])
    for path in ("/audit", "/dashboard"):
        r = cs.get(path)
        assert r.status_code == 403 and "text/html" in r.headers["content-type"], path
        assert "<h1>Not allowed</h1>" in r.text and "client services" in r.text
    analyst = web_stack.browser_session(people.tokens["analyst"])
    assert analyst.get("/audit").status_code == 403
    auditor = web_stack.browser_session(people.tokens["auditor"])
    r = auditor.post("/disputes/X-1/decision",
                     data={"csrf": page_csrf(auditor, "/audit"), "decision": "approve"})
    assert r.status_code == 403 and "can read but not change" in r.text
    assert auditor.get("/approvals").status_code == 403
    assert auditor.get("/audit").status_code == 200


def test_csrf_missing_or_wrong_is_refused(web_stack: WebStack, people: People) -> None:
    bm = web_stack.browser_session(people.tokens["bm"])
    good = page_csrf(bm, "/approvals")
    for data in ({}, {"csrf": ""}, {"csrf": "0" * 64}, {"csrf": good[:-1] + "x"},
                 {"csrf": "é" * 64}):
        r = bm.post("/approvals", data={**data, "bulk": "approve", "selected": "X-1"})
        assert r.status_code == 403, (data, r.text[:200])
        assert "expired or did not come from a Disputeflow page" in r.text
    # Another user's token is no good either: it is bound to the session's token.
    other = page_csrf(web_stack.browser_session(people.tokens["bm2"]), "/approvals")
    assert other != good
    assert bm.post("/approvals", data={"csrf": other}).status_code == 403
    assert bm.post("/approvals", data={"csrf": good}).status_code == 422  # nothing selected
    # The sign-in form: its double-submit token must match its cookie.
    anon = web_stack.http()
    login_csrf(anon)
    r = anon.post("/login", data={"csrf": "forged", "token": people.tokens["bm"]})
    assert r.status_code == 403 and SESSION_COOKIE not in r.cookies


def test_bad_token_shows_the_form_again(web_stack: WebStack) -> None:
    anon = web_stack.http()
    r = anon.post("/login", data={"csrf": login_csrf(anon), "token": "dfl_not-a-real-token",
                                  "next": "/approvals"})
    assert r.status_code == 401
    assert "That token is not valid or was revoked" in r.text
    assert 'name="token"' in r.text and 'aria-invalid="true"' in r.text
    assert 'value="/approvals"' in r.text  # still going back there after a good sign-in
    assert SESSION_COOKIE not in anon.cookies
    r = anon.post("/login", data={"csrf": login_csrf(anon), "token": ""})
    assert r.status_code == 422 and "Enter your API token" in r.text
    r = anon.post("/login", data={"csrf": login_csrf(anon), "token": "dfl_é" * 10})
    assert r.status_code == 401 and "not valid" in r.text  # refused, not a crash


def test_session_cookie_and_logout(web_stack: WebStack, people: People) -> None:
    client = web_stack.http()
    r = sign_in(client, people.tokens["mgr"])
    assert r.headers["location"] == "/dashboard"  # each role starts on its own page
    cookie = next(v for k, v in r.headers.multi_items()
                  if k == "set-cookie" and v.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on localhost
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    r = client.post("/logout", data={"csrf": page_csrf(client, "/dashboard")})
    assert r.status_code == 303 and r.headers["location"] == "/login?signed_out=1"
    cleared = next(v for k, v in r.headers.multi_items()
                   if k == "set-cookie" and v.startswith(f"{SESSION_COOKIE}="))
    assert "Max-Age=0" in cleared
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/dashboard").status_code == 303
    assert "You are signed out" in client.get("/login?signed_out=1").text
    # GET /logout (a plain link) does the same.
    sign_in(client, people.tokens["mgr"])
    assert client.get("/logout").status_code == 303 and SESSION_COOKIE not in client.cookies


def test_dead_cookie_and_open_redirects(web_stack: WebStack, people: People) -> None:
    client = web_stack.http()
    client.cookies.set(SESSION_COOKIE, "dfl_revoked-or-made-up")
    r = client.get("/approvals")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fapprovals"
    cleared = [v for k, v in r.headers.multi_items()
               if k == "set-cookie" and v.startswith(f"{SESSION_COOKIE}=")]
    assert cleared and "Max-Age=0" in cleared[0]  # cleared, not retried on every page
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = sign_in(web_stack.http(), people.tokens["cs"], next_url=evil)
        assert r.headers["location"] == "/disputes", evil


def test_cookie_works_on_api_reads_only(web_stack: WebStack, people: People) -> None:
    auditor = web_stack.browser_session(people.tokens["auditor"])
    assert "authorization" not in auditor.headers
    r = auditor.get("/api/v1/audit/verify")
    assert r.status_code == 200 and r.json()["ok"] is True
    csv = auditor.get("/api/v1/audit/approval-chains", params={"format": "csv"})
    assert csv.status_code == 200 and csv.text.startswith("dispute_id,")
    cs = web_stack.browser_session(people.tokens["cs"])
    r = cs.post("/api/v1/disputes", json=dispute_body())
    assert r.status_code == 401  # a write needs the bearer header: the cookie is not enough
    assert cs.get("/api/v1/audit/verify").status_code == 403


def test_user_text_is_escaped(web_stack: WebStack, people: People) -> None:
    api = web_stack.http(people.tokens["cs"])
    body = dispute_body(description='<script>alert("x")</script> & <b>bold</b>')
    dispute_id = api.post("/api/v1/disputes", json=body).json()["id"]
    wait_for(api, dispute_id, lambda v: v["findings_ready"])
    page = web_stack.browser_session(people.tokens["analyst"]).get(f"/disputes/{dispute_id}")
    assert page.status_code == 200
    assert "<script>" not in page.text and "<b>bold</b>" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" \
        in page.text


def test_my_approvals_is_offered_to_those_who_can_approve(web_stack: WebStack, people: People,
                                                          admin_token: str) -> None:
    from datetime import UTC, datetime, timedelta

    def nav(who: str) -> bool:
        page = web_stack.browser_session(people.tokens[who]).get("/disputes").text
        return 'href="/approvals"' in page

    assert nav("bm") and nav("sbm") and nav("analyst_bm")
    assert not nav("cs") and not nav("analyst") and not nav("mgr")
    empty = web_stack.browser_session(people.tokens["cs"]).get("/approvals")
    assert empty.status_code == 200 and "You hold no approval role" in empty.text
    now = datetime.now(UTC)
    r = web_stack.http(admin_token).post(
        f"/api/v1/users/{people.ids['bm']}/delegations",
        json={"delegate_id": people.ids["mgr"], "starts_at": (now - timedelta(hours=1))
              .isoformat(), "ends_at": (now + timedelta(days=1)).isoformat()})
    assert r.status_code == 201, r.text
    assert nav("mgr")  # acting for a billing manager now


def test_times_read_in_the_policy_time_zone(web_stack: WebStack, people: People) -> None:
    """The default policy's calendar is America/Los_Angeles: the list shows Pacific time,
    with the zone written."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    cs = web_stack.http(people.tokens["cs"])
    view = cs.post("/api/v1/disputes", json=dispute_body()).json()
    opened = datetime.fromisoformat(view["opened_at"]).astimezone(UTC)
    local = opened.astimezone(ZoneInfo("America/Los_Angeles")).strftime("%Y-%m-%d %H:%M %Z")
    page = web_stack.browser_session(people.tokens["cs"]).get("/disputes").text
    assert local in page and local.endswith(("PST", "PDT"))


def test_list_sorts_by_a_column_and_keeps_the_filters(web_stack: WebStack,
                                                      people: People) -> None:
    cs = web_stack.http(people.tokens["cs"])
    small = cs.post("/api/v1/disputes", json=dispute_body(disputed_amount="40.00")).json()["id"]
    large = cs.post("/api/v1/disputes", json=dispute_body(disputed_amount="900.00")).json()["id"]
    page = web_stack.browser_session(people.tokens["cs"])
    newest = page.get("/disputes?reason_code=rate_mismatch").text
    assert newest.index(large) < newest.index(small)
    assert 'href="/disputes?reason_code=rate_mismatch&amp;sort=amount"' in newest
    by_amount = page.get("/disputes?reason_code=rate_mismatch&sort=amount").text
    assert "largest amount first" in by_amount
    assert by_amount.index(f">{large}<") < by_amount.index(f">{small}<")
    oldest = page.get("/disputes?sort=oldest").text
    assert oldest.index(f">{small}<") < oldest.index(f">{large}<")
    r = cs.get("/api/v1/disputes", params={"sort": "amount", "limit": 1})
    assert r.json()["items"][0]["id"] == large
    assert cs.get("/api/v1/disputes", params={"sort": "cheapest"}).status_code == 422
