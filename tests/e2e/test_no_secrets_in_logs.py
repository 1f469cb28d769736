"""Tokens and secrets never appear in logs: a whole lifecycle (plus refused and malformed
requests) with every logger at DEBUG, then every captured line is searched for them."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def test_no_token_or_secret_is_logged(stack: Stack, people: People, admin_token: str,
                                      caplog: pytest.LogCaptureFixture,
                                      capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    cs = as_user(stack, people, "cs")
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    as_user(stack, people, "analyst").post(f"/api/v1/disputes/{dispute_id}/investigation", json={
        "root_cause": "rate_card", "resolution": "partial_credit",
        "credit_lines": [{"line_id": "L1", "amount": "250.00"}]})
    as_user(stack, people, "cs").post(f"/api/v1/disputes/{dispute_id}/decision",
                                      json={"decision": "approve"})  # refused
    as_user(stack, people, "bm").post(f"/api/v1/disputes/{dispute_id}/decision",
                                      json={"decision": "approve"})
    stack.http("dfl_wrong-token-abcdefghijklmnop").get("/api/v1/disputes")
    created = stack.http(admin_token).post("/api/v1/users", json={
        "name": "Log Check", "email": "logcheck@example.com", "roles": ["analyst"]}).json()
    stack.http(created["token"]).get("/api/v1/users/me")
    out, err = capfd.readouterr()
    logged = "\n".join(r.getMessage() + " " + str(r.args) for r in caplog.records) + out + err
    secrets = [admin_token, created["token"], *people.tokens.values(),
               "dfl_wrong-token-abcdefghijklmnop"]
    assert caplog.records, "the test must actually capture logs"
    for secret in secrets:
        assert secret not in logged, "a token appeared in the logs"
