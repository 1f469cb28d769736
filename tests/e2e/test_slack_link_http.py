"""Slack identities linked by email over real HTTP: a user created without a Slack id is
looked up in (a fake of) Slack's Web API by email and linked; where the bot may not, or
Slack does not know the person, the user is still created and the answer says why; an
admin or the user links again later."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cli.processes import DevServer
from db.models import AuditEvent
from db.session import session_scope
from tests.conftest import People
from tests.e2e.helpers import error_code
from tests.support.fake_slack import FakeSlack
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


@dataclass
class Env:
    stack: Stack
    fake: FakeSlack
    admin: httpx.Client
    people: People

    def create(self, name: str, email: str, **extra: Any) -> dict[str, Any]:
        r = self.admin.post("/api/v1/users", json={"name": name, "email": email,
                                                   "roles": ["analyst"], **extra})
        assert r.status_code == 201, r.text
        return dict(r.json())

    def linked_events(self, user_id: str) -> list[AuditEvent]:
        with session_scope(self.stack.settings.database_url) as s:
            return list(s.scalars(select(AuditEvent).where(
                AuditEvent.subject == user_id, AuditEvent.action == "user.slack_linked")))


@pytest.fixture
def env(dev_server: DevServer, db_url: str, admin_token: str, people: People) -> Iterator[Env]:
    fake = FakeSlack.start()
    stack = Stack.create(temporal_address=dev_server.address, db_url=db_url,
                         admin_token=admin_token, with_worker=False,
                         slack_bot_token="xoxb-test-" + secrets.token_hex(4),
                         slack_signing_secret=secrets.token_hex(16), slack_api_url=fake.url)
    try:
        yield Env(stack, fake, stack.http(admin_token), people)
    finally:
        stack.stop()
        fake.close()


def test_a_new_user_is_linked_by_their_email(env: Env) -> None:
    env.fake.add_member("ana@example.com", "U0ANA")
    made = env.create("Ana Lyst", "Ana@Example.com")
    assert made["slack_user_id"] == "U0ANA"
    assert made["slack_link"] == {"linked": True, "slack_user_id": "U0ANA", "via": "email",
                                  "problem": None, "reason": None}
    [call] = env.fake.of("users.lookupByEmail")
    assert call.body == {"email": "ana@example.com"}
    assert env.admin.get(f"/api/v1/users/{made['id']}").json()["slack_user_id"] == "U0ANA"
    [event] = env.linked_events(made["id"])
    assert event.data["via"] == "email" and event.data["after"] == {"slack_user_id": "U0ANA"}

    # A typed id is taken as it is: Slack is not asked.
    typed = env.create("Ty Ped", "ty@example.com", slack_user_id="U0TYPED")
    assert typed["slack_user_id"] == "U0TYPED"
    assert typed["slack_link"]["linked"] is True and typed["slack_link"]["via"] == "typed"
    assert len(env.fake.of("users.lookupByEmail")) == 1


def test_unknown_email_is_created_unlinked_then_linked_when_slack_knows_them(
        env: Env) -> None:
    made = env.create("Newcomer", "new@example.com")
    assert made["slack_user_id"] is None
    link = made["slack_link"]
    assert link["linked"] is False and link["problem"] == "users_not_found"
    assert "Slack has no account with the email new@example.com" in link["reason"]
    me = env.stack.http(made["token"])
    r = me.post(f"/api/v1/users/{made['id']}/slack-link")
    assert r.status_code == 422 and error_code(r) == "validation_error", r.text
    assert r.json()["error"]["details"][0]["field"] == "email"

    # They join Slack; they (or an admin) link again. Others may not.
    env.fake.add_member("new@example.com", "U0NEW")
    other = env.stack.http(env.people.tokens["analyst"])
    assert other.post(f"/api/v1/users/{made['id']}/slack-link").status_code == 403
    auditor = env.stack.http(env.people.tokens["auditor"])
    assert auditor.post(f"/api/v1/users/{made['id']}/slack-link").status_code == 403
    r = me.post(f"/api/v1/users/{made['id']}/slack-link")
    assert r.status_code == 200, r.text
    assert r.json()["linked"] is True and r.json()["slack_user_id"] == "U0NEW"
    assert me.get(f"/api/v1/users/{made['id']}").json()["slack_user_id"] == "U0NEW"
    assert env.admin.post(f"/api/v1/users/{made['id']}/slack-link").status_code == 200
    assert len(env.linked_events(made["id"])) == 1  # linked once; again changes nothing
    assert env.admin.post("/api/v1/users/U-NOPE/slack-link").status_code == 404


def test_missing_scope_or_an_outage_leaves_the_user_unlinked_with_the_reason(
        env: Env) -> None:
    env.fake.add_member("scoped@example.com", "U0SCOPE")
    env.fake.refuse_lookups("missing_scope")
    made = env.create("Scoped", "scoped@example.com")
    assert made["slack_user_id"] is None
    assert made["slack_link"]["problem"] == "missing_scope"
    assert "users:read.email" in made["slack_link"]["reason"]
    r = env.admin.post(f"/api/v1/users/{made['id']}/slack-link")
    assert r.status_code == 502 and error_code(r) == "slack_unavailable"
    assert "users:read.email" in r.json()["error"]["message"]

    env.fake.refuse_lookups("not_allowed_token_type")
    r = env.admin.post(f"/api/v1/users/{made['id']}/slack-link")
    assert r.status_code == 502 and "bot token" in r.json()["error"]["message"]

    env.fake.refuse_lookups(None)
    env.fake.fail("users.lookupByEmail", 503, times=5)
    down = env.create("Outage", "outage@example.com")
    assert down["slack_link"]["problem"] == "slack_unreachable"
    assert "Slack did not answer" in down["slack_link"]["reason"]
    env.fake.reset()
    r = env.admin.post(f"/api/v1/users/{made['id']}/slack-link")
    assert r.status_code == 200 and r.json()["slack_user_id"] == "U0SCOPE"


def test_a_slack_account_linked_to_another_user_is_not_taken(env: Env) -> None:
    first = env.create("First", "first@example.com", slack_user_id="U0SHARED")
    env.fake.add_member("second@example.com", "U0SHARED")
    second = env.create("Second", "second@example.com")
    assert second["slack_user_id"] is None
    assert second["slack_link"]["problem"] == "slack_id_taken"
    assert "linked to First already" in second["slack_link"]["reason"]
    r = env.admin.post(f"/api/v1/users/{second['id']}/slack-link")
    assert r.status_code == 409 and error_code(r) == "wrong_state"
    assert "linked to First already" in r.json()["error"]["message"]
    assert env.admin.get(f"/api/v1/users/{first['id']}").json()["slack_user_id"] == "U0SHARED"
    assert env.linked_events(second["id"]) == []


def test_without_slack_users_are_created_and_linking_says_slack_is_off(
        stack: Stack, admin_token: str) -> None:
    admin = stack.http(admin_token)
    r = admin.post("/api/v1/users", json={"name": "No Slack", "email": "ns@example.com",
                                          "roles": ["analyst"]})
    assert r.status_code == 201, r.text
    assert r.json()["slack_link"]["problem"] == "slack_disabled"
    r = admin.post(f"/api/v1/users/{r.json()['id']}/slack-link")
    assert r.status_code == 409 and "Slack is not configured" in r.json()["error"]["message"]
