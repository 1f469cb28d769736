"""API clients with client-credentials access tokens from the same OpenID provider (real
oidc-provider, real HTTP): accepted when issued for this API to a known client, refused
otherwise, and still accepted after the provider rotates its signing keys."""

from __future__ import annotations

import httpx
import pytest

from cli.processes import DevServer
from tests.e2e.sso_fixtures import Ports, require_provider, sso_stack, start_provider
from tests.e2e.sso_fixtures import provider as provider
from tests.e2e.sso_fixtures import sso_ports as sso_ports
from tests.e2e.sso_fixtures import stack_with_sso as stack_with_sso
from tests.support.identity import SERVICE_ID, IdentityServer, signing_key
from tests.web.conftest import WebStack

pytestmark = pytest.mark.e2e


def register_service(stack: WebStack, admin_token: str) -> str:
    """The ERP integration as a Disputeflow user, known by its OAuth client id."""
    r = stack.http(admin_token).post("/api/v1/users", json={
        "name": "ERP sync", "email": "erp-sync@retail.example", "roles": ["client_services"],
        "oidc_subject": SERVICE_ID})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def call(stack: WebStack, token: str) -> httpx.Response:
    return stack.http(token).get("/api/v1/disputes")


def test_a_registered_client_calls_the_api_with_its_access_token(
        stack: WebStack, admin_token: str, provider: IdentityServer) -> None:
    token = provider.client_credentials(resource=stack.settings.oidc_audience)
    refused = call(stack, token)
    assert refused.status_code == 401  # not registered yet
    assert "not a Disputeflow user" in refused.json()["error"]["message"]

    register_service(stack, admin_token)
    assert call(stack, token).status_code == 200
    created = stack.http(token).post("/api/v1/disputes", json={})
    assert created.status_code == 422  # acting as client services: its input is checked


def test_a_token_for_another_api_or_tampered_with_is_refused(
        stack: WebStack, admin_token: str, provider: IdentityServer) -> None:
    register_service(stack, admin_token)
    foreign = provider.client_credentials(resource="https://other-api.example")
    r = call(stack, foreign)
    assert r.status_code == 401 and "not for Disputeflow" in r.json()["error"]["message"]

    good = provider.client_credentials(resource=stack.settings.oidc_audience)
    head, payload, signature = good.split(".")
    forged = ".".join([head, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA"
                                                        else "BBBB")])
    r = call(stack, forged)
    assert r.status_code == 401 and "signature" in r.json()["error"]["message"]


def test_tokens_signed_by_a_rotated_key_are_accepted(
        dev_server: DevServer, db_url: str, admin_token: str, sso_ports: Ports) -> None:
    require_provider()
    port = sso_ports.take()
    idp = start_provider([port])
    stack = sso_stack(dev_server, db_url, admin_token, idp.issuer, port)
    try:
        register_service(stack, admin_token)
        before = idp.client_credentials(resource=stack.settings.oidc_audience)
        assert call(stack, before).status_code == 200  # the API now holds key k1

        idp.restart(keys=[signing_key("k2"), *idp.keys])  # k2 signs from now on
        after = idp.client_credentials(resource=stack.settings.oidc_audience)
        assert call(stack, after).status_code == 200  # unknown kid: keys fetched again
        assert call(stack, before).status_code == 200  # k1 is still published
    finally:
        stack.stop()
        idp.stop()
