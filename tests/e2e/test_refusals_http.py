"""Every bad input is a clear 4xx, never a 500; auth and availability refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cli.processes import DevServer, free_port
from db.models import Dispute, IdempotencyKey
from db.session import session_scope
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, error_code, wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

BAD_INTAKE: list[tuple[str, dict[str, Any], str]] = [
    ("unknown account", {"account_id": "NOPE"}, "account_id"),
    ("unknown invoice", {"invoice_number": "INV-NONE"}, "invoice_number"),
    ("invoice of another account", {"account_id": "ADV-EU"}, "invoice_number"),
    ("currency mismatch", {"currency": "EUR"}, "currency"),
    ("zero amount", {"disputed_amount": "0.00"}, "disputed_amount"),
    ("negative amount", {"disputed_amount": "-5.00"}, "disputed_amount"),
    ("above the invoice", {"disputed_amount": "2050.01"}, "disputed_amount"),
    ("too many decimals", {"disputed_amount": "10.005"}, "disputed_amount"),
    ("float amount", {"disputed_amount": 10.5}, "disputed_amount"),
    ("unknown reason", {"reason_code": "because"}, "reason_code"),
    ("unknown line", {"line_ids": ["L99"]}, "line_ids"),
    ("huge description", {"description": "x" * 100_000}, "description"),
    ("missing field", {"account_id": None}, "account_id"),
    ("wrong type", {"line_ids": "L1"}, "line_ids"),
    ("unknown field", {"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_INTAKE, ids=[c[0] for c in BAD_INTAKE])
def test_bad_intake_is_422_naming_the_field(
    stack: Stack, people: People, case: str, change: dict[str, Any], field: str
) -> None:
    body = dispute_body(**change)
    body = {k: v for k, v in body.items() if v is not None}
    r = as_user(stack, people, "cs").post("/api/v1/disputes", json=body)
    assert r.status_code == 422, (case, r.text)
    assert error_code(r) == "validation_error"
    err = r.json()["error"]
    assert field in err["message"] or any(field in d["field"] for d in err.get("details", []))
    with session_scope(stack.settings.database_url) as s:
        assert s.scalar(select(func.count()).select_from(Dispute)) == 0


def test_zero_decimal_currency_and_malformed_json(stack: Stack, people: People) -> None:
    cs = as_user(stack, people, "cs")
    r = cs.post("/api/v1/disputes", json=dispute_body(
        account_id="ADV-JP", invoice_number="INV-JP1", currency="JPY",
        disputed_amount="100.5", line_ids=[]))
    assert r.status_code == 422 and "decimals" in r.json()["error"]["message"]
    r = cs.post("/api/v1/disputes", content=b"{not json", headers={
        "Content-Type": "application/json"})
    assert r.status_code == 422 and error_code(r) == "validation_error"
    r = cs.post("/api/v1/disputes", content=b"x" * 2_000_000,
                headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and error_code(r) == "payload_too_large"


def test_bad_investigation_is_refused_with_reasons(stack: Stack, people: People) -> None:
    cs, analyst = as_user(stack, people, "cs"), as_user(stack, people, "analyst")
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    url = f"/api/v1/disputes/{dispute_id}/investigation"
    cases = [
        ({"root_cause": "gremlins", "resolution": "deny"}, 422),
        ({"root_cause": "rate_card", "resolution": "partial_credit", "credit_lines": []}, 422),
        ({"root_cause": "rate_card", "resolution": "partial_credit",
          "credit_lines": [{"line_id": "L1", "amount": "1300.00"}]}, 422),
        ({"root_cause": "rate_card", "resolution": "partial_credit",
          "credit_lines": [{"line_id": "ZZ", "amount": "1.00"}]}, 422),
        ({"root_cause": "rate_card", "resolution": "deny",
          "credit_lines": [{"line_id": "L1", "amount": "1.00"}]}, 422),
    ]
    for body, status in cases:
        r = analyst.post(url, json=body)
        assert r.status_code == status, (body, r.text)
        assert error_code(r) == "validation_error"
    r = analyst.post(url, json=cases[2][0])  # over what is open on line L1
    assert r.json()["error"]["details"][0]["field"] == "credit_lines"
    assert r.json()["error"]["details"][0]["line_id"] == "L1"
    r = cs.post(url, json={"root_cause": "rate_card", "resolution": "deny"})
    assert r.status_code == 403 and error_code(r) == "forbidden"
    r = as_user(stack, people, "bm").post(f"/api/v1/disputes/{dispute_id}/decision",
                                          json={"decision": "approve"})
    assert r.status_code == 409 and error_code(r) == "wrong_state"
    assert wait_for(cs, dispute_id, lambda v: True)["status"] == "investigating"


def test_authentication_and_roles(stack: Stack, people: People, admin_token: str) -> None:
    anon = stack.http()
    r = anon.get("/api/v1/disputes")
    assert r.status_code == 401 and error_code(r) == "unauthenticated"
    r = stack.http("not-a-token").get("/api/v1/disputes")
    assert r.status_code == 401
    r = as_user(stack, people, "auditor").post("/api/v1/disputes", json=dispute_body())
    assert r.status_code == 403 and error_code(r) == "forbidden"
    r = as_user(stack, people, "cs").post("/api/v1/users", json={
        "name": "x", "email": "x@example.com", "roles": ["admin"]})
    assert r.status_code == 403
    r = as_user(stack, people, "cs").get("/api/v1/disputes/DSP-NOPE")
    assert r.status_code == 404 and error_code(r) == "not_found"

    admin = stack.http(admin_token)
    r = admin.post("/api/v1/users", json={"name": "Nina", "email": "nina@example.com",
                                          "roles": ["billing_manager"], "slack_user_id": "U123ABC"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["token"] and created["roles"] == ["billing_manager"]
    r = stack.http(created["token"]).get("/api/v1/users/me")
    assert r.status_code == 200 and r.json()["id"] == created["id"]
    r = admin.post("/api/v1/users", json={"name": "Dup", "email": "nina@example.com",
                                          "roles": ["analyst"]})
    assert r.status_code == 422
    r = admin.get("/api/v1/policy")
    assert r.status_code == 200 and r.json()["version"] == 1


def test_temporal_unreachable_means_503_and_nothing_written(
    db_url: str, people: People, admin_token: str, dev_server: DevServer
) -> None:
    down = Stack.create(temporal_address=f"127.0.0.1:{free_port()}", db_url=db_url,
                        admin_token=admin_token, with_worker=False)
    try:
        cs = down.http(people.tokens["cs"])
        r = cs.post("/api/v1/disputes", json=dispute_body(), headers={"Idempotency-Key": "k9"})
        assert r.status_code == 503 and error_code(r) == "temporal_unavailable"
        health = down.http().get("/healthz")
        assert health.status_code == 503
        assert health.json() == {"status": "unavailable", "database": "ok",
                                 "temporal": "unavailable"}
        with session_scope(db_url) as s:
            assert s.scalar(select(func.count()).select_from(Dispute)) == 0
            assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
    finally:
        down.stop()
    # Temporal is back: the same request with the same key succeeds, once.
    up = Stack.create(temporal_address=dev_server.address, db_url=db_url,
                      admin_token=admin_token)
    try:
        cs = up.http(people.tokens["cs"])
        r = cs.post("/api/v1/disputes", json=dispute_body(), headers={"Idempotency-Key": "k9"})
        assert r.status_code == 201, r.text
        again = cs.post("/api/v1/disputes", json=dispute_body(),
                        headers={"Idempotency-Key": "k9"})
        assert again.json()["id"] == r.json()["id"]
        assert up.http().get("/healthz").json() == {"status": "ok", "database": "ok",
                                                    "temporal": "ok"}
    finally:
        up.stop()


def test_no_worker_means_503_worker_unavailable(
    db_url: str, people: People, admin_token: str, dev_server: DevServer
) -> None:
    s = Stack.create(temporal_address=dev_server.address, db_url=db_url,
                     admin_token=admin_token, with_worker=False)
    try:
        cs = s.http(people.tokens["cs"])
        dispute = cs.post("/api/v1/disputes", json=dispute_body())
        assert dispute.status_code == 201  # intake only needs Temporal; the worker runs it later
        r = s.http(people.tokens["analyst"]).post(
            f"/api/v1/disputes/{dispute.json()['id']}/investigation",
            json={"root_cause": "other", "resolution": "deny"})
        assert r.status_code == 503 and error_code(r) == "worker_unavailable"
        assert cs.get(f"/api/v1/disputes/{dispute.json()['id']}").status_code == 200
    finally:
        s.stop()


def test_unknown_route_is_json_404(stack: Stack) -> None:
    r = httpx.get(stack.base_url + "/api/v1/nothing-here")
    assert r.status_code == 404 and error_code(r) == "not_found"


def test_token_guessing_is_rate_limited_per_client(stack: Stack, people: People) -> None:
    guesser = stack.http("dfl_guess")
    codes = [guesser.get("/api/v1/disputes").status_code for _ in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429
    r = stack.http(people.tokens["cs"]).get("/api/v1/disputes")  # same address, right token
    assert r.status_code == 429 and error_code(r) == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
