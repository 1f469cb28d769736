"""Every route by every role, generated from the route table: a route without a declared
rule fails here, and each role is admitted or refused exactly as declared."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute

from api.app import create_app
from api.deps import ANY_ROLE, ANY_WRITER, READ_ONLY_ROLES
from config.settings import Settings
from tests.conftest import People
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
# Public or authenticated otherwise: Slack requests carry Slack's signature, not a token.
PUBLIC = {"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
          "/slack/interactions"}
ROLE_USERS = {"client_services": "cs", "analyst": "analyst", "billing_manager": "bm",
              "manager": "mgr", "auditor": "auditor"}


def declared_roles(route: APIRoute) -> tuple[str, ...] | None:
    def walk(dependant: Any) -> tuple[str, ...] | None:
        for dep in dependant.dependencies:
            roles = getattr(dep.call, "roles", None)
            if roles is not None:
                return tuple(roles)
            found = walk(dep)
            if found is not None:
                return found
        return None

    return walk(route.dependant)


def _flatten(routes: list[Any]) -> list[APIRoute]:
    """The app's API routes, through included routers (which FastAPI may nest)."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            out += _flatten(route.original_router.routes)
        elif hasattr(route, "routes"):
            out += _flatten(route.routes)
    return out


def api_routes() -> list[tuple[str, str, tuple[str, ...]]]:
    app = create_app(Settings())
    out = []
    for route in _flatten(app.routes):
        if route.path in PUBLIC or not route.include_in_schema:  # pages: tests/web
            continue
        roles = declared_roles(route)
        assert roles is not None, f"{route.path} declares no roles: add a deps.require rule"
        for method in sorted(route.methods or ()):
            out.append((method, route.path, roles))
    return out


ROUTES = api_routes()


def allowed(roles: tuple[str, ...], role: str) -> bool:
    if ANY_ROLE in roles or role in roles:
        return True
    return ANY_WRITER in roles and role not in READ_ONLY_ROLES


def test_every_route_declares_its_roles() -> None:
    assert len(ROUTES) >= 10


# POSTs that only compute (their input is too large for a query string) and write nothing:
# tests/db/test_policy_backtest.py checks that the back-test leaves every row as it was.
COMPUTE_ONLY = {("POST", "/api/v1/policy/backtest")}


def test_auditors_can_write_nothing() -> None:
    for method, path, roles in ROUTES:
        if method in ("POST", "PUT", "PATCH", "DELETE") and (method, path) not in COMPUTE_ONLY:
            assert not allowed(roles, "auditor"), f"{method} {path} admits auditors"


# Reads of one user's own record: any role reads its own, only these roles anyone's (the id
# the matrix uses is nobody's). tests/e2e/test_access_http.py reads a user's own history,
# tests/e2e/test_tokens_http.py manages a user's own tokens, tests/e2e/test_slack_link_http.py
# links a user's own Slack account, tests/web/test_access_pages.py reads a user's own
# delegations.
OWN_RECORD = {("GET", "/api/v1/users/{user_id}"): ("admin", "auditor"),
              ("GET", "/api/v1/users/{user_id}/tokens"): ("admin", "auditor"),
              ("POST", "/api/v1/users/{user_id}/tokens/{token_id}/reissue"): ("admin",),
              ("DELETE", "/api/v1/users/{user_id}/tokens/{token_id}"): ("admin",),
              ("DELETE", "/api/v1/users/{user_id}/sessions"): ("admin",),
              ("POST", "/api/v1/users/{user_id}/slack-link"): ("admin",),
              ("GET", "/api/v1/users/{user_id}/delegations"): ("admin", "auditor")}


def test_matrix_over_http(stack: Stack, people: People, admin_token: str) -> None:
    tokens = {role: people.tokens[who] for role, who in ROLE_USERS.items()}
    tokens["admin"] = admin_token
    for method, path, roles in ROUTES:
        url = re.sub(r"\{[^}]+\}", "X-1", path)
        anon = stack.http().request(method, url, json={})
        assert anon.status_code == 401, (method, path, anon.text)
        for role, token in tokens.items():
            r = stack.http(token).request(method, url, json={})
            if allowed(OWN_RECORD.get((method, path), roles), role):
                assert r.status_code not in (401, 403), (method, path, role, r.text)
            else:
                assert r.status_code == 403, (method, path, role, r.text)
                assert r.json()["error"]["code"] == "forbidden"
