"""API tokens over HTTP: named, expiring, stamped with their last use, reissued and revoked
by their user or an admin; a refused token says whether it was revoked or expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from db.models import ApiToken, AuditEvent
from db.session import session_scope
from tests.conftest import People
from tests.e2e.helpers import as_user, error_code
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def test_a_user_issues_uses_reissues_and_revokes_their_tokens(stack: Stack,
                                                              admin_token: str) -> None:
    r = stack.http(admin_token).post("/api/v1/users", json={
        "name": "Ana Lyst", "email": "ana@example.com", "roles": ["analyst"]})
    uid, me = r.json()["id"], stack.http(r.json()["token"])
    [initial] = me.get(f"/api/v1/users/{uid}/tokens").json()["items"]
    assert initial["name"] == "initial token" and "token" not in initial
    assert initial["last_used_at"] is not None  # stamped by the request that listed it
    expires = datetime.fromisoformat(initial["expires_at"])  # DISPUTEFLOW_TOKEN_DAYS
    assert timedelta(days=364) < expires - datetime.now(UTC) <= timedelta(days=365)

    r = me.post(f"/api/v1/users/{uid}/tokens", json={"name": "reporting job",
                                                     "expires_in_days": 30})
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["token"].startswith("dfl_") and issued["name"] == "reporting job"
    job = stack.http(issued["token"])
    assert job.get("/api/v1/users/me").json()["id"] == uid
    listed = {t["id"]: t for t in me.get(f"/api/v1/users/{uid}/tokens").json()["items"]}
    assert listed[issued["id"]]["last_used_at"] is not None

    # Reissued: the old secret stops at once, the new one works, the name carries over.
    r = me.post(f"/api/v1/users/{uid}/tokens/{issued['id']}/reissue", json={})
    assert r.status_code == 201, r.text
    again = r.json()
    assert again["name"] == "reporting job" and again["id"] != issued["id"]
    r = job.get("/api/v1/users/me")
    assert r.status_code == 401 and "was revoked on" in r.json()["error"]["message"]
    assert stack.http(again["token"]).get("/api/v1/users/me").status_code == 200

    r = me.delete(f"/api/v1/users/{uid}/tokens/{again['id']}")
    assert r.status_code == 200 and r.json()["revoked_by"] == uid
    assert stack.http(again["token"]).get("/api/v1/users/me").status_code == 401
    r = me.delete(f"/api/v1/users/{uid}/tokens/{again['id']}")
    assert r.status_code == 409 and error_code(r) == "wrong_state"
    r = me.delete(f"/api/v1/users/{uid}/tokens/TOK-NOPE")
    assert r.status_code == 404 and error_code(r) == "not_found"
    assert me.get("/api/v1/users/me").status_code == 200  # the initial token still works

    # Issues and revocations are in the hash chain, never the secrets.
    with session_scope(stack.settings.database_url) as s:
        events = [e for e in s.query(AuditEvent).filter(AuditEvent.subject == uid)
                  if e.action.startswith("token.")]
    assert [e.action for e in events] == ["token.issued", "token.issued", "token.revoked",
                                          "token.issued", "token.revoked"]
    assert not any(issued["token"] in (e.message + str(e.data)) for e in events)


def test_an_expired_token_is_refused_and_says_so(stack: Stack, people: People,
                                                 admin_token: str) -> None:
    uid = people.ids["bm"]
    admin = stack.http(admin_token)
    r = admin.post(f"/api/v1/users/{uid}/tokens", json={"name": "slack bridge"})
    assert r.status_code == 201
    token, token_id = r.json()["token"], r.json()["id"]
    with session_scope(stack.settings.database_url) as s:
        s.execute(update(ApiToken).where(ApiToken.id == token_id)
                  .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    r = stack.http(token).get("/api/v1/users/me")
    assert r.status_code == 401 and error_code(r) == "unauthenticated"
    assert "expired on" in r.json()["error"]["message"]
    assert f"/api/v1/users/{uid}/tokens/{token_id}/reissue" in r.json()["error"]["message"]
    r = stack.http("dfl_never-issued").get("/api/v1/users/me")
    assert r.status_code == 401 and "not valid" in r.json()["error"]["message"]

    # The admin reissues it for them; another user may not touch their tokens.
    r = as_user(stack, people, "bm2").post(f"/api/v1/users/{uid}/tokens/{token_id}/reissue")
    assert r.status_code == 403 and error_code(r) == "forbidden"
    r = as_user(stack, people, "bm2").get(f"/api/v1/users/{uid}/tokens")
    assert r.status_code == 403
    assert as_user(stack, people, "auditor").get(f"/api/v1/users/{uid}/tokens").status_code == 200
    r = admin.post(f"/api/v1/users/{uid}/tokens/{token_id}/reissue",
                   json={"expires_in_days": 7})
    assert r.status_code == 201, r.text
    assert stack.http(r.json()["token"]).get("/api/v1/users/me").json()["id"] == uid
    r = admin.post(f"/api/v1/users/{uid}/tokens", json={"name": "", "expires_in_days": 0})
    assert r.status_code == 422
