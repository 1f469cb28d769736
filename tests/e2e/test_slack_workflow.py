"""Slack as the workflow drives it: prompts reach exactly the right approvers when a level
opens, every message is updated when the level is decided through any channel, a click
in Slack moves the dispute, and a Slack outage delays messages but never approvals."""

from __future__ import annotations

import asyncio
import time

import pytest

from config.temporal import connect
from tests.e2e.helpers import as_user, wait_for
from tests.e2e.test_slack_http import SLACK_IDS, Env, env, pending  # noqa: F401
from tests.support.web_session import sign_in

pytestmark = pytest.mark.e2e


def _prompted(slack_env: Env) -> set[str]:
    return {c.body["channel"] for c in slack_env.fake.of("chat.postMessage")
            if c.body.get("channel", "").startswith("U")}


def test_prompts_go_to_role_holders_and_update_when_the_api_decides(env: Env) -> None:  # noqa: F811
    view = pending(env, amount="6000.00", invoice="INV-BIG", line="B1")
    env.fake.wait_for("chat.postMessage", count=3)
    # Level 1 (billing_manager): every holder of the role with a Slack id (analyst_bm holds
    # it too and did not prepare this memo); not client services, not the senior manager
    # (level 2 is not open yet).
    assert _prompted(env) == {SLACK_IDS["bm"], SLACK_IDS["bm2"], SLACK_IDS["analyst_bm"]}
    prompt = env.fake.of("chat.postMessage")[0].body
    assert "Approve" in str(prompt["blocks"]) and view["id"] in str(prompt["blocks"])

    r = as_user(env.stack, env.people, "bm").post(f"/api/v1/disputes/{view['id']}/decision",
                                                  json={"decision": "approve", "comment": "ok"})
    assert r.status_code == 200, r.text
    updates = env.fake.wait_for("chat.update", count=3)
    for call in updates[:3]:
        text = str(call.body)
        assert "Approved" in text and "dfl_approve" not in text  # the buttons are gone
    env.fake.wait_for("chat.postMessage", count=4)  # level 2 opens: the senior manager
    assert SLACK_IDS["sbm"] in _prompted(env)

    reply = env.ask(SLACK_IDS["sbm"], "dfl_approve", r.json(), "sbm-click", level=2)
    assert "approved" in reply.lower()
    wait_for(as_user(env.stack, env.people, "cs"), view["id"],
             lambda v: v["status"] == "resolved")
    # All of it went through the Slack outbox: no Slack activity in the dispute's history.
    assert asyncio.run(_activities(env, view["id"])) == ["gather_findings", "post_credit_memo"]


async def _activities(slack_env: Env, dispute_id: str) -> list[str]:
    """The (non-local) activities a dispute's workflow scheduled, in order."""
    client = await connect(slack_env.stack.settings)
    history = await client.get_workflow_handle(dispute_id).fetch_history()
    return [e.activity_task_scheduled_event_attributes.activity_type.name
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")]


def test_slack_outage_delays_messages_not_approvals(env: Env) -> None:  # noqa: F811
    env.fake.fail("chat.postMessage", 500, times=50)
    view = pending(env)
    r = as_user(env.stack, env.people, "bm").post(f"/api/v1/disputes/{view['id']}/decision",
                                                  json={"decision": "approve"})
    assert r.status_code == 200 and r.json()["status"] == "resolved", r.text
    # Managers can see that Slack is behind, and why (the steps are kept, not lost).
    mgr = as_user(env.stack, env.people, "mgr")
    deadline = time.monotonic() + 30
    while (health := mgr.get("/api/v1/metrics").json()["slack_outbox"])["failing"] < 1:
        assert time.monotonic() < deadline, health
        time.sleep(0.1)
    assert health["waiting"] >= 1 and health["oldest_waiting_seconds"] is not None
    assert health["last_error"] == "Slack answered HTTP 500: fake_failure", health
    browser = env.stack.http()
    sign_in(browser, env.people.tokens["mgr"])
    notice = browser.get("/dashboard").text
    assert "Slack is behind" in notice and "Slack answered HTTP 500: fake_failure" in notice


@pytest.fixture
def env_with_channel(dev_server, db_url, admin_token, people):  # type: ignore[no-untyped-def]
    import secrets

    from db.models import User
    from db.session import session_scope
    from tests.e2e.test_slack_http import SlackStack
    from tests.support.fake_slack import FakeSlack

    with session_scope(db_url) as s:
        for key, slack_id in SLACK_IDS.items():
            s.get_one(User, people.ids[key]).slack_user_id = slack_id
    fake, secret = FakeSlack.start(), secrets.token_hex(16)
    stack = SlackStack.create(
        temporal_address=dev_server.address, db_url=db_url, admin_token=admin_token,
        slack_bot_token="xoxb-test-" + secrets.token_hex(4), slack_signing_secret=secret,
        slack_api_url=fake.url, slack_managers_channel="C0MANAGERS")
    try:
        yield Env(stack, fake, secret, people, stack.http(admin_token))
    finally:
        stack.stop()
        fake.close()


def test_reminder_and_escalation_in_the_thread_and_breach_in_the_channel(
    env_with_channel: Env,
) -> None:
    import copy

    from approvals.default_policy import DEFAULT_POLICY_DOCUMENT

    e = env_with_channel
    doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    doc["calendar"] = "always"
    doc["levels"]["billing_manager"]["sla"] = "PT3S"
    assert e.http.put("/api/v1/policy", json=doc).status_code == 200
    view = pending(e)
    prompts = e.fake.wait_for("chat.postMessage", count=3)
    prompt_ts = {c.answer["ts"] for c in prompts}
    deadline = 15
    calls = e.fake.wait_for("chat.postMessage", count=9, timeout=deadline)
    threaded = [c for c in calls if c.body.get("thread_ts") in prompt_ts]
    assert any("Reminder" in str(c.body.get("text")) for c in threaded)
    assert any("escalated" in str(c.body.get("text")) for c in threaded)
    managers = [c for c in e.fake.of("chat.postMessage") if c.body["channel"] == "C0MANAGERS"]
    assert managers and "breached" in str(managers[0].body.get("text"))
    assert SLACK_IDS["sbm"] in _prompted(e)  # the backup role gets its own prompt
    assert view["id"] in str(managers[0].body)
