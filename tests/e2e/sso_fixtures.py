"""Fixtures for single sign-on tests: a real OpenID provider (tests/support/identity.py) and
the stack configured to sign in through it, one fresh database per test.

The provider is started once per module with redirect URIs for a handful of API ports
reserved up front, so each test still gets a stack (and a database) of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.web.sso import SIGN_IN_COOKIE
from cli.processes import DevServer, free_port
from db.session import session_scope
from db.users import create_user
from tests.support import identity
from tests.support.identity import CLIENT_ID, CLIENT_SECRET, IdentityServer
from tests.web.conftest import WebStack

PORTS_PER_MODULE = 16

# Who can sign in at the provider (account id -> claims).
ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {"email": "alice@retail.example", "name": "Alice Approver",
              "groups": ["billing-managers", "everyone"]},
    "bob": {"email": "bob@retail.example", "name": "Bob Analyst",
            "groups": ["finance-analysts", "everyone"]},
    "nobody": {"email": "nobody@retail.example", "name": "Nora Nobody",
               "groups": ["marketing"]},
    "mallory": {"email": "admin-person@retail.example", "name": "Mallory",
                "email_verified": False, "groups": ["billing-managers"]},
}
GROUP_ROLES = {"billing-managers": ["billing_manager"], "finance-analysts": ["analyst"]}


def require_provider() -> None:
    """Skip where the provider cannot run, except on CI, where that is a failure: the
    project's set-up (make identity) installs it."""
    why = identity.available()
    if why is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the OpenID provider cannot run: {why}")
    pytest.skip(why)


@dataclass
class Ports:
    free: list[int]

    def take(self) -> int:
        assert self.free, "raise PORTS_PER_MODULE"
        return self.free.pop()


def callback_uri(port: int) -> str:
    return f"http://127.0.0.1:{port}/auth/oidc/callback"


def start_provider(ports: list[int], **kwargs: Any) -> IdentityServer:
    """A provider knowing Disputeflow at each of ``ports``; client-credentials tokens may be
    issued for each port's API (its audience) and for one foreign API."""
    resources = [f"http://127.0.0.1:{p}" for p in ports] + ["https://other-api.example"]
    return IdentityServer(redirect_uris=[callback_uri(p) for p in ports], accounts=ACCOUNTS,
                          resources=resources, **kwargs).start()


@pytest.fixture(scope="module")
def sso_ports() -> Ports:
    return Ports([free_port() for _ in range(PORTS_PER_MODULE)])


@pytest.fixture(scope="module")
def provider(sso_ports: Ports) -> Iterator[IdentityServer]:
    require_provider()
    server = start_provider(list(sso_ports.free))
    yield server
    server.stop()


@pytest.fixture(name="stack")
def stack_with_sso(dev_server: DevServer, db_url: str, admin_token: str,
                   provider: IdentityServer, sso_ports: Ports) -> Iterator[WebStack]:
    """A stack signing in through the module's provider, groups mapped (``GROUP_ROLES``)."""
    stack = sso_stack(dev_server, db_url, admin_token, provider.issuer, sso_ports.take())
    map_groups(stack, admin_token)
    yield stack
    stack.stop()


def sso_stack(dev_server: DevServer, db_url: str, admin_token: str, issuer: str,
              port: int) -> WebStack:
    return WebStack.create(
        temporal_address=dev_server.address, db_url=db_url, admin_token=admin_token,
        with_worker=False, port=port, disputeflow_public_url=f"http://127.0.0.1:{port}",
        disputeflow_oidc_issuer=issuer, disputeflow_oidc_client_id=CLIENT_ID,
        disputeflow_oidc_client_secret=CLIENT_SECRET,
        disputeflow_oidc_scopes="openid email profile groups")


def map_groups(stack: WebStack, admin_token: str,
               mapping: dict[str, list[str]] | None = None) -> None:
    r = stack.http(admin_token).put("/api/v1/sso/group-roles", json=mapping or GROUP_ROLES)
    assert r.status_code == 200, r.text


def add_admin(db_url: str, email: str = "admin-person@retail.example") -> str:
    """A stored admin (whom an unmapped person is told to ask)."""
    with session_scope(db_url) as session:
        user, _ = create_user(session, name="Ada Admin", email=email, roles=["admin"],
                              slack_user_id=None, created_by="test")
        return user.id


def start_sign_in(browser: httpx.Client, next_url: str | None = None) -> str:
    """Click "Sign in with SSO": the provider's authorization URL this browser is sent to."""
    r = browser.get("/auth/oidc/login", params={"next": next_url} if next_url else None)
    assert r.status_code == 303, r.text
    assert browser.cookies.get(SIGN_IN_COOKIE), "the sign-in is bound to this browser"
    return r.headers["location"]


def finish(browser: httpx.Client, callback: str) -> httpx.Response:
    """Follow the provider's redirect back to Disputeflow's callback."""
    return browser.get(callback)


def sign_in_as(stack: WebStack, account: str) -> tuple[httpx.Client, httpx.Response]:
    browser = stack.http()
    response = finish(browser, identity.provider_login(start_sign_in(browser), account))
    return browser, response
