"""The Slack activities against a real database and the fake Slack server over HTTP:
who gets prompts, idempotent re-runs, decided messages losing their buttons, thread notes,
manager alerts, and retries of 429 / 5xx."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import event

from activities.slack import SlackActivities
from activities.slack_blocks import ACTION_APPROVE, ACTION_REJECT
from activities.slack_dispatch import SlackDispatcher
from config.settings import Settings
from db import disputes, slack_outbox
from db.models import User
from db.session import get_engine, session_scope
from db.users import add_delegation, create_user
from domain.models import DisputeState
from domain.slack_steps import (
    LevelDecided,
    PromptLevel,
    SlackAlert,
    SlackLevelRef,
    SlackSteps,
    SlackThreadNote,
)
from tests.support.fake_slack import FakeSlack
from tests.support.states import MEMO, pending_approval

REF = SlackLevelRef(dispute_id="DSP-T1", memo_number=MEMO, level=1)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack.start()
    yield server
    server.close()


@dataclass
class World:
    ids: dict[str, str]
    settings: Settings
    acts: SlackActivities
    state: DisputeState


def _settings(db_url: str, fake: FakeSlack, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url, "slack_bot_token": "xoxb-test-activities",
        "slack_signing_secret": "sig-" + "x" * 20, "slack_api_url": fake.url,
        "slack_managers_channel": "C0MANAGERS", "disputeflow_public_url": "https://df.example"}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


PEOPLE = {  # key: (roles, slack id)
    "bm_a": (["billing_manager"], "U0BMA"), "bm_b": (["billing_manager"], "U0BMB"),
    "bm_quiet": (["billing_manager"], None), "preparer": (["analyst", "billing_manager"], "U0PREP"),
    "opener": (["client_services", "billing_manager"], "U0OPEN"),
    "delegate": (["analyst"], "U0DEL"), "stale_delegate": (["analyst"], "U0OLD"),
    "gone": (["billing_manager"], "U0GONE"), "sbm": (["senior_billing_manager"], "U0SBM"),
}


def _save(db_url: str, state: DisputeState) -> None:
    with session_scope(db_url) as s:
        assert disputes.save_snapshot(s, state=state, events=[])


@pytest.fixture
def world(db_url: str, fake: FakeSlack) -> World:
    ids: dict[str, str] = {}
    now = datetime.now(UTC)
    with session_scope(db_url) as s:
        for key, (roles, slack_id) in PEOPLE.items():
            user, _ = create_user(s, name=key, email=f"{key}@example.com", roles=roles,
                                  slack_user_id=slack_id, created_by="test")
            ids[key] = user.id
        s.get_one(User, ids["gone"]).active = False
        add_delegation(s, user_id=ids["bm_quiet"], delegate_id=ids["delegate"],
                       starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1),
                       created_by="test")
        add_delegation(s, user_id=ids["bm_quiet"], delegate_id=ids["stale_delegate"],
                       starts_at=now - timedelta(days=3), ends_at=now - timedelta(days=1),
                       created_by="test")
        # The preparer cannot lend authority they cannot use themselves.
        add_delegation(s, user_id=ids["preparer"], delegate_id=ids["sbm"],
                       starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1),
                       created_by="test")
    state = pending_approval(ids)
    _save(db_url, state)
    settings = _settings(db_url, fake)
    return World(ids, settings, SlackActivities(settings, db_url), state)


def _decide(world: World, db_url: str, status: str, who: str, comment: str) -> None:
    state = world.state.model_copy(deep=True)
    assert state.credit_memo is not None
    level = state.credit_memo.levels[0]
    level.status, level.approver_id = status, world.ids[who]  # type: ignore[assignment]
    level.decided_at, level.channel, level.comment = datetime.now(UTC), "api", comment
    state.credit_memo.levels[1].status = "pending"
    state.revision = 2
    _save(db_url, state)


def test_prompts_reach_exactly_the_eligible_users(world: World, fake: FakeSlack) -> None:
    assert world.acts.slack_prompt_level(REF) == 3
    posts = fake.of("chat.postMessage")
    assert sorted(c.body["channel"] for c in posts) == ["U0BMA", "U0BMB", "U0DEL"]
    for call in posts:
        assert call.headers["authorization"] == "Bearer xoxb-test-activities"
        actions = [b for b in call.body["blocks"] if b["type"] == "actions"]
        ids = [e["action_id"] for e in actions[0]["elements"]]
        assert ids == [ACTION_APPROVE, ACTION_REJECT]
        assert actions[0]["elements"][0]["value"] == '{"d":"DSP-T1","m":"CM-T1-1","l":1}'
        text = " ".join(str(b) for b in call.body["blocks"])
        assert "1 of 2" in text and "&lt;CPM&gt; &amp; more" in text
    # Re-running (a Temporal retry) posts nothing new.
    assert world.acts.slack_prompt_level(REF) == 0
    assert len(fake.of("chat.postMessage")) == 3


def test_no_prompt_for_a_level_not_pending_or_a_replaced_memo(world: World,
                                                              fake: FakeSlack) -> None:
    assert world.acts.slack_prompt_level(REF.model_copy(update={"level": 2})) == 0
    assert world.acts.slack_prompt_level(REF.model_copy(update={"memo_number": "CM-X"})) == 0
    assert fake.of("chat.postMessage") == []


def test_decided_level_updates_every_prompt_and_drops_buttons(
    world: World, fake: FakeSlack, db_url: str,
) -> None:
    assert world.acts.slack_level_decided(REF) == 0  # nothing sent yet
    world.acts.slack_prompt_level(REF)
    assert world.acts.slack_level_decided(REF) == 0  # still pending: buttons stay
    _decide(world, db_url, "approved", "bm_a", "fine by me")
    assert world.acts.slack_level_decided(REF) == 3
    updates = fake.of("chat.update")
    posted = {(c.answer["channel"], c.answer["ts"]) for c in fake.of("chat.postMessage")}
    assert len(updates) == 3
    for call in updates:
        assert call.body["channel"].startswith("D")  # the IM channel Slack returned
        assert all(b["type"] != "actions" for b in call.body["blocks"])
        assert call.body["text"].startswith("Approved by bm_a at ")
        assert call.body["text"].endswith("via api: fine by me")
    assert {(c.body["channel"], c.body["ts"]) for c in updates} == posted
    assert world.acts.slack_level_decided(REF) == 0  # idempotent


def test_one_state_change_runs_its_steps_in_order_as_one_activity(
    world: World, fake: FakeSlack, db_url: str,
) -> None:
    world.acts.slack_prompt_level(REF)
    _decide(world, db_url, "approved", "bm_a", "ok")  # level 1 decided, level 2 now pending
    level_2 = REF.model_copy(update={"level": 2})
    steps = SlackSteps(steps=[
        LevelDecided(arg=REF), PromptLevel(arg=level_2)])
    assert world.acts.slack_steps(steps) == 2
    updated, prompts = fake.of("chat.update"), fake.of("chat.postMessage")
    assert len(updated) == 3 and len(prompts) == 4  # 3 prompts for level 1, then 1 for 2
    assert "2 of 2" in " ".join(str(b) for b in prompts[-1].body["blocks"])
    assert world.acts.slack_steps(steps) == 2  # a retry: both steps find their work done
    assert (len(fake.of("chat.update")), len(fake.of("chat.postMessage"))) == (3, 4)


def test_replaced_memo_voids_its_prompts(world: World, fake: FakeSlack, db_url: str) -> None:
    world.acts.slack_prompt_level(REF)
    state = world.state.model_copy(deep=True)
    assert state.credit_memo is not None
    state.credit_memo.number, state.revision = "CM-T1-2", 2
    _save(db_url, state)
    assert world.acts.slack_level_decided(REF) == 3
    assert all(c.body["text"].startswith("Voided") for c in fake.of("chat.update"))


def test_rejected_memo_keeps_saying_rejected_after_a_new_memo(
    world: World, fake: FakeSlack, db_url: str,
) -> None:
    world.acts.slack_prompt_level(REF)
    _decide(world, db_url, "rejected", "bm_b", "wrong rate")
    state = world.state.model_copy(deep=True)
    assert state.credit_memo is not None
    old = state.credit_memo.model_copy(deep=True)
    old.status, old.levels[0].status = "rejected", "rejected"
    old.levels[0].approver_id, old.levels[0].decided_at = world.ids["bm_b"], datetime.now(UTC)
    old.levels[0].channel, old.levels[0].comment = "slack", "wrong rate"
    old.levels[1].status = "voided"
    state.past_memos, state.credit_memo.number, state.revision = [old], "CM-T1-2", 3
    _save(db_url, state)
    assert world.acts.slack_level_decided(REF) == 3
    texts = {c.body["text"] for c in fake.of("chat.update")}
    assert len(texts) == 1 and texts.pop().startswith("Rejected by bm_b at ")
    assert world.acts.slack_prompt_level(REF.model_copy(update={"memo_number": "CM-T1-2"})) == 3


def test_rate_limit_is_retried_after_retry_after(world: World, fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", 429, times=1, retry_after=1)
    started = time.monotonic()
    assert world.acts.slack_prompt_level(REF) == 3
    assert time.monotonic() - started >= 1  # waited as Slack asked
    assert [c.status for c in fake.of("chat.postMessage", ok_only=False)][:2] == [429, 200]
    assert len(fake.of("chat.postMessage")) == 3


def test_server_error_is_retried(world: World, fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", 500, times=1)
    assert world.acts.slack_prompt_level(REF) == 3
    assert [c.status for c in fake.of("chat.postMessage", ok_only=False)][:2] == [500, 200]
    assert len(fake.of("chat.postMessage")) == 3


def test_outage_then_recovery_posts_each_prompt_once(world: World, fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", 502, times=4)
    with pytest.raises(SlackApiError):
        world.acts.slack_prompt_level(REF)
    assert len(fake.of("chat.postMessage", ok_only=False)) == 4  # first try + 3 retries
    assert world.acts.slack_prompt_level(REF) == 3  # the activity's retry finishes the job
    assert world.acts.slack_prompt_level(REF) == 0
    assert sorted(c.body["channel"] for c in fake.of("chat.postMessage")) == [
        "U0BMA", "U0BMB", "U0DEL"]


def test_a_failure_midway_keeps_what_was_posted_before_it(world: World,
                                                          fake: FakeSlack) -> None:
    """The level's prompts are reserved together; when Slack fails on the second, the first
    is recorded as sent all the same, so the retry posts only the two others."""
    fake.fail("chat.postMessage", 502, times=4, after=1)
    with pytest.raises(SlackApiError):
        world.acts.slack_prompt_level(REF)
    assert len(fake.of("chat.postMessage")) == 1
    assert world.acts.slack_prompt_level(REF) == 2
    assert sorted(c.body["channel"] for c in fake.of("chat.postMessage")) == [
        "U0BMA", "U0BMB", "U0DEL"]


def test_slack_disabled_does_nothing(db_url: str, world: World, fake: FakeSlack) -> None:
    off = SlackActivities(_settings(db_url, fake, slack_bot_token=None), db_url)
    assert off.slack_prompt_level(REF) == 0
    assert off.slack_level_decided(REF) == 0
    assert off.slack_thread_note(SlackThreadNote(**REF.model_dump(), kind="reminder",
                                                 text="hi")) == 0
    assert off.slack_alert_managers(SlackAlert(key="k", text="hi")) is False
    assert fake.calls == []


def test_reminder_and_escalation_arrive_in_the_prompt_threads(
    world: World, fake: FakeSlack, db_url: str,
) -> None:
    world.acts.slack_prompt_level(REF)
    prompt_ts = {c.answer["ts"] for c in fake.of("chat.postMessage")}
    note = SlackThreadNote(**REF.model_dump(), kind="reminder", text="Half the SLA is gone.")
    assert world.acts.slack_thread_note(note) == 3
    assert world.acts.slack_thread_note(note) == 0  # idempotent
    replies = [c for c in fake.of("chat.postMessage") if c.body.get("thread_ts")]
    assert len(replies) == 3 and all("Half the SLA" in c.body["text"] for c in replies)

    state = world.state.model_copy(deep=True)
    assert state.credit_memo is not None
    state.credit_memo.levels[0].status, state.revision = "escalated", 2
    _save(db_url, state)
    escalation = note.model_copy(update={"kind": "escalation", "text": "Escalated to you."})
    # The senior manager gets a fresh prompt with buttons; the others a thread reply.
    assert world.acts.slack_thread_note(escalation) == 4
    fresh = [c for c in fake.of("chat.postMessage") if c.body["channel"] == "U0SBM"]
    assert len(fresh) == 1 and any(b["type"] == "actions" for b in fresh[0].body["blocks"])
    threaded = [c for c in fake.of("chat.postMessage")
                if c.body.get("thread_ts") and "Escalated" in c.body["text"]]
    assert sorted(c.body["channel"] for c in threaded) == ["D0BMA", "D0BMB", "D0DEL"]
    assert {c.body["thread_ts"] for c in threaded} == prompt_ts
    assert {c.body["thread_ts"] for c in replies} == prompt_ts


def test_alerts_go_to_the_managers_channel_once(world: World, fake: FakeSlack) -> None:
    alert = SlackAlert(key="DSP-T1:approval_CM-T1-1_1:breach:1", text="Level 1 breached",
                       dispute_id="DSP-T1")
    assert world.acts.slack_alert_managers(alert) is True
    assert world.acts.slack_alert_managers(alert) is False
    calls = fake.of("chat.postMessage")
    assert [c.body["channel"] for c in calls] == ["C0MANAGERS"]
    assert "https://df.example/disputes/DSP-T1" in str(calls[0].body["blocks"])


def test_the_dispatcher_sends_outbox_steps_once_through_a_slack_outage(
    world: World, fake: FakeSlack, db_url: str,
) -> None:
    """A row the snapshot queued is sent by the worker's dispatcher; while Slack answers 500
    (beyond slack-sdk's own retries) the row backs off and stays; then it goes, once."""
    with session_scope(db_url) as s:
        slack_outbox.add(s, dispute_id=REF.dispute_id, revision=1, now=datetime.now(UTC),
                         steps=[PromptLevel(arg=REF)])
    fake.fail("chat.postMessage", 500, times=4)  # the first attempt fails, retries and all
    dispatcher = SlackDispatcher(world.acts, poll_s=0.05,
                                 first_retry=timedelta(milliseconds=100))

    async def until_sent() -> None:
        stop = asyncio.Event()
        sending = asyncio.create_task(dispatcher.run(stop))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with session_scope(db_url, readonly=True) as s:
                if not slack_outbox.backlog(s):
                    break
            await asyncio.sleep(0.05)
        stop.set()
        await sending

    asyncio.run(until_sent())
    calls = fake.of("chat.postMessage", ok_only=False)
    assert [c.status for c in calls[:4]] == [500] * 4  # the first attempt, given up
    assert sorted(c.body["channel"] for c in calls[4:]) == ["U0BMA", "U0BMB", "U0DEL"]
    with session_scope(db_url) as s:
        assert slack_outbox.backlog(s) == 0


def test_a_stopping_dispatcher_waits_its_grace_not_slacks_and_keeps_the_row(
    world: World, fake: FakeSlack, db_url: str,
) -> None:
    """A deploy stops the worker while Slack does not answer: the dispatcher gives the row
    being sent its grace period, not Slack's timeouts, and returns; the row stays in the
    outbox (sent again once its lease runs out). When the hanging call does come back, each
    approver has been prompted once."""
    with session_scope(db_url) as s:
        slack_outbox.add(s, dispute_id=REF.dispute_id, revision=1, now=datetime.now(UTC),
                         steps=[PromptLevel(arg=REF)])
    fake.hold("chat.postMessage")
    dispatcher = SlackDispatcher(world.acts, poll_s=0.05)

    async def stop_while_slack_hangs() -> float:
        stop = asyncio.Event()
        serving = asyncio.create_task(dispatcher.serve(stop, grace=0.5))
        deadline = time.monotonic() + 10
        while "chat.postMessage" not in fake.arrived:
            assert time.monotonic() < deadline, "the dispatcher never called Slack"
            await asyncio.sleep(0.02)
        stop.set()
        stopping = time.monotonic()
        await serving
        return time.monotonic() - stopping

    took = asyncio.run(stop_while_slack_hangs())
    assert 0.45 <= took < 3, took  # it did wait for the row, and only its grace
    with session_scope(db_url, readonly=True) as s:
        assert slack_outbox.backlog(s) == 1
    fake.release()
    fake.wait_for("chat.postMessage", count=3)
    time.sleep(0.3)  # a duplicate would arrive now
    assert sorted(c.body["channel"] for c in fake.of("chat.postMessage")) == [
        "U0BMA", "U0BMB", "U0DEL"]


def _decision_row(world: World, db_url: str) -> slack_outbox.Claimed:
    """Level 1 prompted and then approved: the outbox row of that decision, claimed."""
    world.acts.slack_prompt_level(REF)
    _decide(world, db_url, "approved", "bm_a", "ok")
    level_2 = REF.model_copy(update={"level": 2})
    now = datetime.now(UTC)
    with session_scope(db_url) as s:
        slack_outbox.add(s, dispute_id=REF.dispute_id, revision=2, now=now, steps=[
            LevelDecided(arg=REF), PromptLevel(arg=level_2)])
    with session_scope(db_url) as s:
        (row,) = slack_outbox.claim(s, now=now, lease=timedelta(minutes=5))
    return row


def test_a_decisions_slack_steps_take_a_transaction_each_and_one_to_settle(
    world: World, fake: FakeSlack, db_url: str,
) -> None:
    """Each transaction is CPU in the worker and in the database on every decision: the
    dispatcher reads (and reserves) once per step and records what Slack accepted together
    with the outbox row's settlement."""
    row = _decision_row(world, db_url)
    commits: list[object] = []

    def count(conn: object) -> None:
        commits.append(conn)

    engine = get_engine(db_url)
    event.listen(engine, "commit", count)
    try:
        SlackDispatcher(world.acts).deliver(row)
    finally:
        event.remove(engine, "commit", count)
    assert len(commits) == 3
    assert (len(fake.of("chat.update")), len(fake.of("chat.postMessage"))) == (3, 4)
    with session_scope(db_url) as s:
        assert slack_outbox.backlog(s) == 0
    level_2 = REF.model_copy(update={"level": 2})
    assert world.acts.slack_level_decided(REF) == 0  # recorded: nothing left to do
    assert world.acts.slack_prompt_level(level_2) == 0


def test_a_row_failing_midway_records_what_slack_took_and_backs_off(
    world: World, fake: FakeSlack, db_url: str,
) -> None:
    row = _decision_row(world, db_url)
    fake.fail("chat.postMessage", 502, times=4)  # level 2's prompt, retries and all
    SlackDispatcher(world.acts).deliver(row)
    with session_scope(db_url) as s:
        health = slack_outbox.health(s, now=datetime.now(UTC))
    assert health["failing"] == 1 and "HTTP 502" in health["last_error"]
    assert world.acts.slack_level_decided(REF) == 0  # the updates were recorded all the same
    assert len(fake.of("chat.update")) == 3
