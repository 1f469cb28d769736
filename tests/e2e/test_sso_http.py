"""Single sign-on against a real OpenID provider (oidc-provider under Node.js) over real HTTP:
people are provisioned by subject and email with roles from their groups, and every way a
sign-in can go wrong ends on a page that says so — with no session."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select

from api.deps import SESSION_COOKIE
from api.oidc import IdentityProvider, SignInRefused
from cli.processes import DevServer, free_port
from db.models import User
from db.session import session_scope
from tests.e2e.sso_fixtures import (
    Ports,
    add_admin,
    finish,
    map_groups,
    require_provider,
    sign_in_as,
    sso_stack,
    start_provider,
    start_sign_in,
)
from tests.e2e.sso_fixtures import provider as provider
from tests.e2e.sso_fixtures import sso_ports as sso_ports
from tests.e2e.sso_fixtures import stack_with_sso as stack_with_sso
from tests.support import identity
from tests.support.identity import IdentityServer
from tests.web.conftest import WebStack

pytestmark = pytest.mark.e2e


def refusal(response: httpx.Response) -> str:
    """The reason code a refusal page states (data-reason), after checking it is a page
    and no session was given."""
    assert response.headers["content-type"].startswith("text/html"), response.text[:300]
    assert SESSION_COOKIE not in response.cookies
    marker = 'data-reason="'
    assert marker in response.text, response.text[:2000]
    return response.text.split(marker, 1)[1].split('"', 1)[0]


def test_first_sign_in_provisions_the_person_with_roles_from_their_groups(
        stack: WebStack, admin_token: str) -> None:
    browser = stack.http()
    authorize = start_sign_in(browser, next_url="/approvals")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["nonce"] and query["state"] and query["client_id"] == [identity.CLIENT_ID]

    landed = finish(browser, identity.provider_login(authorize, "alice"))
    assert landed.status_code == 303, landed.text
    assert landed.headers["location"] == "/approvals"
    page = browser.get("/approvals")
    assert page.status_code == 200 and "Alice Approver" in page.text

    (alice_id,) = user_ids(stack, "alice@retail.example")
    detail = stack.http(admin_token).get(f"/api/v1/users/{alice_id}").json()
    assert detail["roles"] == ["billing_manager"] and detail["name"] == "Alice Approver"
    (grant,) = detail["history"]
    assert grant["role"] == "billing_manager" and grant["granted_by"] == "sso"
    assert "billing-managers" in grant["grant_reason"]

    # Signing in again is the same user, not a second one.
    _, landed = sign_in_as(stack, "alice")
    assert landed.status_code == 303
    assert user_ids(stack, "alice@retail.example") == [alice_id]


def test_roles_follow_the_mapping_at_the_next_sign_in(stack: WebStack, admin_token: str) -> None:
    sign_in_as(stack, "bob")
    admin = stack.http(admin_token)
    (bob_id,) = user_ids(stack, "bob@retail.example")
    assert admin.get(f"/api/v1/users/{bob_id}").json()["roles"] == ["analyst"]

    map_groups(stack, admin_token, {"everyone": ["manager"]})
    browser, landed = sign_in_as(stack, "bob")
    assert landed.status_code == 303
    detail = admin.get(f"/api/v1/users/{bob_id}").json()
    assert detail["roles"] == ["manager"]
    analyst = next(h for h in detail["history"] if h["role"] == "analyst")
    assert analyst["removed_by"] == "sso" and analyst["removed_at"]
    assert browser.get("/dashboard").status_code == 200


def test_a_person_whose_groups_map_to_no_role_is_told_whom_to_ask(
        stack: WebStack, db_url: str) -> None:
    add_admin(db_url)
    browser, page = sign_in_as(stack, "nobody")
    assert page.status_code == 403
    assert "No access yet" in page.text and "marketing" in page.text
    assert "admin-person@retail.example" in page.text  # whom to ask
    assert SESSION_COOKIE not in browser.cookies
    assert browser.get("/disputes").status_code == 303  # back to sign-in


def test_a_callback_this_browser_did_not_start_is_refused(stack: WebStack) -> None:
    victim = stack.http()
    callback = identity.provider_login(start_sign_in(victim), "alice")
    attacker = stack.http()  # another browser: no binding cookie for this state
    page = finish(attacker, callback)
    assert page.status_code == 400 and refusal(page) == "bad_state"
    assert "did not start in this browser" in page.text

    tampered = stack.http()
    start_sign_in(tampered)
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"state": "forged"}
    page = tampered.get(f"{parts.path}?{urlencode(query)}")
    assert page.status_code == 400 and refusal(page) == "bad_state"


def test_a_replayed_callback_or_code_is_refused(stack: WebStack) -> None:
    browser = stack.http()
    callback = identity.provider_login(start_sign_in(browser), "alice")
    assert finish(browser, callback).status_code == 303
    again = finish(browser, callback)  # the same answer twice
    assert again.status_code == 400 and refusal(again) == "bad_state"
    assert "used already" in again.text

    # The code carried into another sign-in of the same browser: the provider refuses it
    # (used, and issued for another PKCE verifier).
    used_code = parse_qs(urlsplit(callback).query)["code"][0]
    second = identity.provider_login(start_sign_in(browser), "alice")
    parts = urlsplit(second)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"code": used_code}
    page = browser.get(f"{parts.path}?{urlencode(query)}")
    assert page.status_code == 400 and refusal(page) == "code_refused"


def test_the_providers_own_refusal_is_shown(stack: WebStack) -> None:
    browser = stack.http()
    start_sign_in(browser)
    page = browser.get("/auth/oidc/callback", params={
        "error": "access_denied", "error_description": "The user cancelled"})
    assert page.status_code == 400 and refusal(page) == "provider_error"
    assert "The user cancelled" in page.text


def test_an_unverified_email_does_not_take_over_an_existing_account(
        stack: WebStack, db_url: str, admin_token: str) -> None:
    admin_id = add_admin(db_url)
    _, page = sign_in_as(stack, "mallory")
    assert page.status_code == 403 and refusal(page) == "refused"
    assert "not verified" in page.text
    detail = stack.http(admin_token).get(f"/api/v1/users/{admin_id}").json()
    assert detail["roles"] == ["admin"]


def test_with_sso_the_token_form_is_for_the_bootstrap_admin_only(
        stack: WebStack, admin_token: str) -> None:
    admin = stack.http(admin_token)
    created = admin.post("/api/v1/users", json={
        "name": "Tess Token", "email": "tess@retail.example", "roles": ["analyst"]}).json()
    browser = stack.http()
    login = browser.get("/login")
    assert "Sign in with SSO" in login.text
    csrf = login.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    refused = browser.post("/login", data={"csrf": csrf, "token": created["token"]})
    assert refused.status_code == 403 and "Sign in with SSO" in refused.text
    assert browser.get("/api/v1/disputes", headers={
        "Authorization": f"Bearer {created['token']}"}).status_code == 200  # API still
    stack.browser_session(admin_token)  # the bootstrap admin still signs in here


def test_signing_out_ends_the_sso_session(stack: WebStack) -> None:
    browser, _ = sign_in_as(stack, "alice")
    assert browser.get("/approvals").status_code == 200
    cookie = browser.cookies[SESSION_COOKIE]
    out = browser.get("/logout")
    assert out.status_code == 303
    copy = stack.http()
    copy.cookies.set(SESSION_COOKIE, cookie)
    assert copy.get("/approvals").status_code == 303  # the old cookie is worthless


def test_an_expired_id_token_is_refused(dev_server: DevServer, db_url: str, admin_token: str,
                                        sso_ports: Ports) -> None:
    """A provider whose clock runs twenty minutes behind issues ID tokens (ten minutes
    long) that are already expired here."""
    require_provider()
    port = sso_ports.take()
    drifted = start_provider([port], clock_offset_s=-1200)
    stack = sso_stack(dev_server, db_url, admin_token, drifted.issuer, port)
    try:
        map_groups(stack, admin_token)
        _, page = sign_in_as(stack, "alice")
        assert page.status_code == 401 and refusal(page) == "token_expired"
        assert "expired" in page.text
    finally:
        stack.stop()
        drifted.stop()


def test_an_id_token_for_another_application_is_refused(stack: WebStack,
                                                        provider: IdentityServer) -> None:
    """An ID token the provider issued to another application (a real one, by a real code
    flow) does not sign anyone in to Disputeflow."""
    nonce = "n" * 32
    foreign = identity.id_token_for_other_app(
        provider, account="alice", nonce=nonce,
        redirect_uri=f"{stack.base_url}/auth/oidc/callback")
    with pytest.raises(SignInRefused) as refused:
        IdentityProvider(stack.settings).id_claims(foreign, nonce=nonce)
    assert refused.value.reason == "wrong_audience"
    assert "not for Disputeflow" in refused.value.message


def user_ids(stack: WebStack, email: str) -> list[str]:
    with session_scope(stack.settings.database_url, readonly=True) as session:
        return list(session.scalars(select(User.id).where(User.email == email)))


def test_an_unreachable_provider_is_said_plainly(dev_server: DevServer, db_url: str,
                                                 admin_token: str, sso_ports: Ports) -> None:
    port = sso_ports.take()
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    stack = sso_stack(dev_server, db_url, admin_token, down, port)
    try:
        page = stack.http().get("/auth/oidc/login")
        assert page.status_code == 503 and refusal(page) == "unreachable"
        assert "could not be reached" in page.text
        # An API client's JWT is not called wrong while its issuer cannot be asked.
        jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJlcnAifQ.c2ln"
        api = stack.http(jwt_like).get("/api/v1/disputes")
        assert api.status_code == 503
        assert api.json()["error"]["code"] == "identity_provider_unavailable"
    finally:
        stack.stop()
