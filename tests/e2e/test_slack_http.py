"""Slack interactivity end to end: signed payloads over HTTP to the real API, a worker on the
real Temporal dev server, and the fake Slack Web API receiving views.open and response_url
replies. Payloads are signed exactly as Slack signs them (HMAC-SHA256 of v0:ts:body)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from activities.slack_blocks import (
    ACTION_APPROVE,
    ACTION_REJECT,
    REASON_ACTION,
    REASON_BLOCK,
    VIEW_REJECT,
    button_value,
)
from api import slack_actions as sa
from api.app import create_app
from api.routes import slack as slack_route
from cli.processes import DevServer
from config.settings import Settings
from db import ratelimit, slack_clicks
from db.models import AuditEvent, SlackClick, User
from db.session import session_scope
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, wait_for
from tests.support.fake_slack import FakeSlack
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
SLACK_IDS = {"bm": "U0BM", "bm2": "U0BM2", "sbm": "U0SBM", "analyst_bm": "U0PREP", "cs": "U0CS"}


def _paths(routes: Any) -> Iterator[str]:
    """Every route path, through included routers (which FastAPI may nest)."""
    for route in routes:
        if isinstance(getattr(route, "path", None), str):
            yield route.path
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        yield from _paths(inner if inner is not None else getattr(route, "routes", []))


def slack_app(settings: Settings) -> FastAPI:
    """The API with the Slack router, whether or not api/app.py includes it yet."""
    app = create_app(settings)
    if "/slack/interactions" not in set(_paths(app.routes)):
        app.include_router(slack_route.router)
    return app


class SlackStack(Stack):
    """tests/support/stack.py's Stack, serving slack_app (same worker, same lifecycle)."""

    app: FastAPI | None = None

    def build_app(self) -> FastAPI:
        self.app = slack_app(self.settings)
        return self.app


@dataclass
class Env:
    stack: SlackStack
    fake: FakeSlack
    secret: str
    people: People
    http: httpx.Client

    def post(self, payload: dict[str, Any], *, ts: int | None = None,
             secret: str | None = None) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)})
        stamp = str(int(time.time()) if ts is None else ts)
        digest = hmac.new((secret or self.secret).encode(), f"v0:{stamp}:{body}".encode(),
                          hashlib.sha256).hexdigest()
        started = time.monotonic()
        r = self.http.post("/slack/interactions", content=body, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"})
        assert time.monotonic() - started < 3, "Slack needs an answer within 3 seconds"
        return r

    def click(self, who: str, action_id: str, view: dict[str, Any], reply: str,
              level: int = 1) -> httpx.Response:
        value = button_value(view["id"], view["credit_memo"]["number"], level)
        return self.post({
            "type": "block_actions", "user": {"id": who, "username": who}, "team": {"id": "T0"},
            "trigger_id": f"trig-{reply}", "response_url": self.fake.response_url(reply),
            "container": {"type": "message", "message_ts": "1700000000.000001"},
            "actions": [{"type": "button", "action_id": action_id, "block_id": "dfl_decision",
                         "value": value, "action_ts": str(time.time())}]})

    def ask(self, who: str, action_id: str, view: dict[str, Any], name: str,
            level: int = 1) -> str:
        """Click, expect Slack's 200 at once, and return the words the clicker sees."""
        assert self.click(who, action_id, view, name, level).status_code == 200
        return self.reply_text(name)

    def reply_text(self, name: str) -> str:
        call = self.fake.wait_for(f"response/{name}")[-1]
        assert call.body["response_type"] == "ephemeral"
        return str(call.body["text"])

    def answered_clicks(self, timeout: float = 5) -> list[SlackClick]:
        """The kept clicks, once there are some and every one is closed (answered)."""
        deadline = time.monotonic() + timeout
        while True:
            with session_scope(self.stack.settings.database_url) as s:
                clicks = list(s.scalars(select(SlackClick).order_by(SlackClick.id)))
            if clicks and all(c.done_at is not None for c in clicks):
                return clicks
            assert time.monotonic() < deadline, f"clicks still open: {clicks}"
            time.sleep(0.05)

    def actions(self, subject: str, action: str) -> list[AuditEvent]:
        with session_scope(self.stack.settings.database_url) as s:
            return list(s.scalars(select(AuditEvent).where(
                AuditEvent.subject == subject, AuditEvent.action == action)
                .order_by(AuditEvent.seq)))


@pytest.fixture
def env(dev_server: DevServer, db_url: str, admin_token: str, people: People) -> Iterator[Env]:
    with session_scope(db_url) as s:
        for key, slack_id in SLACK_IDS.items():
            s.get_one(User, people.ids[key]).slack_user_id = slack_id
    fake, secret = FakeSlack.start(), secrets.token_hex(16)
    stack = SlackStack.create(
        temporal_address=dev_server.address, db_url=db_url, admin_token=admin_token,
        slack_bot_token="xoxb-test-" + secrets.token_hex(4), slack_signing_secret=secret,
        slack_api_url=fake.url)
    assert isinstance(stack, SlackStack)
    try:
        yield Env(stack, fake, secret, people, stack.http(admin_token))
    finally:
        stack.stop()
        fake.close()


def pending(env: Env, *, preparer: str = "analyst", amount: str = "250.00",
            invoice: str = "INV-1001", line: str = "L1") -> dict[str, Any]:
    cs = as_user(env.stack, env.people, "cs")
    r = cs.post("/api/v1/disputes", json=dispute_body(
        disputed_amount=amount, invoice_number=invoice, line_ids=[line]))
    assert r.status_code == 201, r.text
    dispute_id = r.json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    r = as_user(env.stack, env.people, preparer).post(
        f"/api/v1/disputes/{dispute_id}/investigation", json={
            "root_cause": "rate_card", "resolution": "partial_credit",
            "credit_lines": [{"line_id": line, "amount": amount}]})
    assert r.status_code == 200 and r.json()["status"] == "pending_approval", r.text
    return dict(r.json())


def patch_update(env: Env, monkeypatch: pytest.MonkeyPatch,
                 around: Callable[..., Awaitable[Any]]) -> None:
    """The API's Temporal Update call, replaced by ``around(original, *args, **kwargs)``."""
    assert env.stack.app is not None
    gateway = env.stack.app.state.temporal
    original = gateway.update

    async def patched(*args: Any, **kwargs: Any) -> Any:
        return await around(original, *args, **kwargs)

    monkeypatch.setattr(gateway, "update", patched)


def test_forged_and_stale_requests_are_refused_and_audited(env: Env) -> None:
    payload = {"type": "block_actions", "user": {"id": "U0BM"}, "actions": []}
    r = env.post(payload, secret="not-the-secret")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    r = env.post(payload, ts=int(time.time()) - 6 * 60)  # correctly signed, but stale
    assert r.status_code == 401 and "5 minutes" in r.json()["error"]["message"]
    assert env.http.post("/slack/interactions", content=b"payload=%7B%7D").status_code == 401
    refusals = env.actions("slack:interactions", "slack.signature_refused")
    assert [r.data["problem"] for r in refusals] == [
        "the signature does not match", "the timestamp is older than 5 minutes (a replay?)",
        "the signature headers are missing"]
    r = env.post({"type": "block_actions"})  # signed, but not an interaction
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_a_flood_of_forged_requests_is_cut_off_without_filling_the_audit(env: Env) -> None:
    """Guessing the signing secret is brute force: past the per-client limit the forger
    gets 429 and its refusals stop being audited one by one; Slack's own (signed) requests
    from the same address still go through."""
    payload = {"type": "block_actions", "user": {"id": "U0BM"}, "actions": []}
    codes = [env.post(payload, secret=f"guess-{i}").status_code
             for i in range(ratelimit.MAX_FAILURES + 5)]
    assert codes == [401] * ratelimit.MAX_FAILURES + [429] * 5
    r = env.post(payload, secret="one-more-guess")
    assert r.status_code == 429 and r.json()["error"]["details"]["retry_after"] >= 1
    refusals = env.actions("slack:interactions", "slack.signature_refused")
    assert len(refusals) == ratelimit.MAX_FAILURES  # not one per forged request
    assert refusals[-1].data["failures_in_window"] == ratelimit.MAX_FAILURES
    assert "answered 429" in refusals[-1].message and "127.0.0.1" in refusals[-1].message
    assert env.post({"type": "block_actions", "user": {"id": "U0BM"},
                     "actions": []}).status_code == 200  # signed: still heard


def test_unknown_user_wrong_role_and_preparer_get_explanations(env: Env) -> None:
    view = pending(env, preparer="analyst_bm")
    assert "not linked to a Disputeflow user" in env.ask("U0NOBODY", ACTION_APPROVE, view, "u")
    assert "needs the role billing_manager" in env.ask("U0SBM", ACTION_APPROVE, view, "role")
    assert ("You prepared this credit memo; another billing_manager must approve it."
            in env.ask("U0PREP", ACTION_APPROVE, view, "sod"))
    assert "prepared this credit memo" in env.ask("U0PREP", ACTION_REJECT, view, "sod-rj")
    assert env.fake.of("views.open") == []  # no form for a rejection they may not make
    after = env.http.get(f"/api/v1/disputes/{view['id']}").json()
    assert [a["status"] for a in after["approvals"]] == ["pending"]
    refused = env.actions(view["id"], "decision.refused")
    assert [r.actor for r in refused] == [
        "slack:U0NOBODY", env.people.ids["sbm"], env.people.ids["analyst_bm"],
        env.people.ids["analyst_bm"]]


def test_approve_moves_the_workflow_and_a_double_click_decides_once(env: Env) -> None:
    view = pending(env, amount="6000.00", invoice="INV-BIG", line="B1")  # two levels
    first = env.ask("U0BM", ACTION_APPROVE, view, "first")
    assert first.startswith(f"You approved level 1 of credit memo {view['credit_memo']['number']}")
    after = env.http.get(f"/api/v1/disputes/{view['id']}").json()
    assert [a["status"] for a in after["approvals"]] == ["approved", "pending"]
    assert after["approvals"][0]["channel"] == "slack"
    assert env.ask("U0BM", ACTION_APPROVE, view, "again").startswith("Already approved by bm at ")
    assert env.ask("U0BM2", ACTION_APPROVE, view, "other").startswith("Already approved by bm at ")

    # Level 2: two clicks at the same moment are the same button, so one decision; each
    # answer tells the clicker their approval (made once) or that it was already recorded.
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(
            lambda n: env.click("U0SBM", ACTION_APPROVE, view, f"twin{n}", level=2), (1, 2)))
    assert [a.status_code for a in answers] == [200, 200]
    texts = [env.reply_text(f"twin{n}") for n in (1, 2)]
    assert all(t.startswith(("You approved level 2", "Already approved by sbm"))
               for t in texts), texts
    assert any(t.startswith("You approved level 2") for t in texts), texts
    wait_for(env.http, view["id"], lambda v: v["status"] == "resolved")
    assert len(env.actions(view["id"], "approval.approved")) == 2
    # The one refusal is bm2's click on the level bm had approved; neither twin is refused.
    refused = env.actions(view["id"], "decision.refused")
    assert [e.actor for e in refused] == [env.people.ids["bm2"]]


def test_reject_opens_a_modal_and_its_reason_is_recorded(env: Env) -> None:
    view = pending(env)
    assert env.click("U0BM", ACTION_REJECT, view, "reject").status_code == 200
    opened = env.fake.wait_for("views.open")[0].body
    assert opened["trigger_id"] == "trig-reject"
    modal = opened["view"]
    assert modal["callback_id"] == VIEW_REJECT

    def submit(reason: str) -> httpx.Response:
        return env.post({"type": "view_submission", "user": {"id": "U0BM"}, "view": {
            "callback_id": VIEW_REJECT, "private_metadata": modal["private_metadata"],
            "state": {"values": {REASON_BLOCK: {REASON_ACTION: {
                "type": "plain_text_input", "value": reason}}}}}})

    r = submit("   ")
    assert r.json() == {"response_action": "errors",
                        "errors": {REASON_BLOCK: "Say why you reject it."}}
    reason = 'Contract says "10.00" <CPM> & the amendment is unsigned'
    r = submit(reason)
    assert r.status_code == 200 and r.json() == {"response_action": "clear"}
    assert env.reply_text("reject").startswith("You rejected level 1")
    after = env.http.get(f"/api/v1/disputes/{view['id']}").json()
    assert after["status"] == "investigating"
    assert after["approvals"][0]["status"] == "rejected"
    assert after["approvals"][0]["comment"] == reason
    assert after["approvals"][0]["channel"] == "slack"
    # The old message's buttons, clicked again, change nothing and say what happened.
    assert env.ask("U0BM2", ACTION_APPROVE, view, "late").startswith("Already rejected by bm at ")
    assert env.post({"type": "view_submission", "user": {"id": "U0BM"}, "view": {
        "callback_id": VIEW_REJECT, "private_metadata": modal["private_metadata"],
        "state": {"values": {REASON_BLOCK: {REASON_ACTION: {"value": "again"}}}}}}
    ).json() == {"response_action": "clear"}
    assert len(env.actions(view["id"], "approval.rejected")) == 1


def test_a_slow_decision_is_acknowledged_at_once_and_answered_later(
    env: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    view = pending(env)
    release = threading.Event()

    async def slow(original: Any, *args: Any, **kwargs: Any) -> Any:
        while not release.is_set():  # Temporal "slow" until the test has its answer
            await asyncio.sleep(0.02)
        return await original(*args, **kwargs)

    patch_update(env, monkeypatch, slow)
    started = time.monotonic()
    r = env.click("U0BM", ACTION_APPROVE, view, "slow")
    assert r.status_code == 200 and time.monotonic() - started < 1
    assert env.fake.of("response/slow") == []
    release.set()
    assert env.reply_text("slow").startswith("You approved level 1")
    wait_for(env.http, view["id"], lambda v: v["status"] == "resolved")


def test_a_decision_accepted_but_still_running_is_told_as_recorded(
    env: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    view = pending(env)

    async def accepted_only(original: Any, *args: Any, **kwargs: Any) -> Any:
        await original(*args, **kwargs)
        return None  # what the gateway answers when the result outlasts its wait

    patch_update(env, monkeypatch, accepted_only)
    words = env.ask("U0BM", ACTION_APPROVE, view, "accepted")
    assert words.startswith("You approved level 1 of credit memo "), words
    assert "still being processed" in words
    wait_for(env.http, view["id"], lambda v: v["status"] == "resolved")


def test_a_flood_of_clicks_runs_a_bounded_number_of_decisions_and_answers_every_one(
    env: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    view = pending(env)
    assert env.stack.app is not None
    monkeypatch.setattr(slack_route.runtime(env.stack.app), "slots", asyncio.Semaphore(2))
    release = threading.Event()
    running = [0, 0]  # now, most at once

    async def slow(original: Any, *args: Any, **kwargs: Any) -> Any:
        running[0] += 1
        running[1] = max(running)
        try:
            while not release.is_set():
                await asyncio.sleep(0.02)
            return await original(*args, **kwargs)
        finally:
            running[0] -= 1

    patch_update(env, monkeypatch, slow)
    clickers = ["U0BM", "U0BM2", "U0SBM", "U0PREP", "U0CS"]
    for i, who in enumerate(clickers):  # every click acknowledged at once, none decided yet
        assert env.click(who, ACTION_APPROVE, view, f"flood-{i}").status_code == 200
    deadline = time.monotonic() + 5
    while running[0] < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # room for a third decision to start, were the bound not kept
    assert running == [2, 2]
    release.set()
    answers = [env.reply_text(f"flood-{i}") for i in range(len(clickers))]
    assert sum(a.startswith("You approved level 1") for a in answers) == 1, answers
    assert len(env.actions(view["id"], "approval.approved")) == 1


def test_a_click_left_undecided_by_a_stopped_api_process_is_taken_over(env: Env) -> None:
    """Slack never redelivers a click it got a 200 for: a click kept by an API process that
    then died is decided by the next process that looks after kept clicks, answered once."""
    view = pending(env)
    ref = sa.ButtonRef.model_validate_json(
        button_value(view["id"], view["credit_memo"]["number"], 1))
    action = sa.Action(kind="approve", slack_user_id="U0BM", ref=ref,
                       response_url=env.fake.response_url("orphan"))
    url = env.stack.settings.database_url
    with session_scope(url) as s:  # received and acknowledged two minutes ago, lease run out
        click_id = slack_clicks.receive(s, action=action.to_record(),
                                        now=datetime.now(UTC) - timedelta(minutes=2),
                                        lease=slack_route.CLICK_LEASE)

    def look_after_clicks() -> int:
        assert env.stack.app is not None and env.stack._loop is not None
        return asyncio.run_coroutine_threadsafe(slack_route.recover_clicks(
            env.stack.app, env.stack.settings), env.stack._loop).result(10)

    assert look_after_clicks() == 1
    assert env.reply_text("orphan").startswith("You approved level 1 of credit memo")
    wait_for(env.http, view["id"], lambda v: v["status"] == "resolved")
    assert [c.id for c in env.answered_clicks()] == [click_id]
    assert look_after_clicks() == 0  # done: nobody takes it over again
    assert len(env.fake.of("response/orphan")) == 1
    assert len(env.actions(view["id"], "approval.approved")) == 1


def test_every_click_is_kept_until_answered(env: Env) -> None:
    view = pending(env)
    assert env.ask("U0BM", ACTION_APPROVE, view, "kept").startswith("You approved level 1")
    clicks = env.answered_clicks()
    assert [(c.action["kind"], c.action["slack_user_id"]) for c in clicks] == [
        ("approve", "U0BM")]
    assert clicks[0].done_at is not None


async def test_slack_off_means_404(db_url: str) -> None:
    app = slack_app(Settings(database_url=db_url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as client:
        r = await client.post("/slack/interactions", content=b"payload=%7B%7D")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
