"""Small helpers for driving the API over HTTP in end-to-end tests."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.conftest import People
from tests.support.stack import Stack


def dispute_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": "ADV-1", "invoice_number": "INV-1001", "currency": "USD",
        "disputed_amount": "250.00", "reason_code": "rate_mismatch",
        "description": "Billed 12.50 CPM; contract says 10.00", "line_ids": ["L1"],
    }
    body.update(overrides)
    return body


def as_user(stack: Stack, people: People, who: str) -> httpx.Client:
    return stack.http(people.tokens[who])


def wait_for(client: httpx.Client, dispute_id: str, predicate: Any,
             timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        view = client.get(f"/api/v1/disputes/{dispute_id}").json()
        if predicate(view):
            return view
        time.sleep(0.05)
    raise AssertionError(f"condition not reached; last view: {view}")


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"], body
    return str(body["error"]["code"])
