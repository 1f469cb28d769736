"""The Slack outbox: a dispute's rows go out in order, a row is held by one dispatcher
through its lease and taken over once it runs out, a failure backs off, a sent row is gone.
Also: the snapshot activity queues a change's steps once, and only with Slack on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from activities.context import ActivityContext
from activities.readmodel import ReadModelActivities
from db import slack_outbox
from db.models import SlackOutboxRow
from db.session import session_scope
from domain.models import DisputeOpened, DisputeState, RecordSnapshot
from domain.slack_steps import PromptLevel, SlackLevelRef, SlackStep

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def _step(level: int) -> list[SlackStep]:
    return [PromptLevel(arg=SlackLevelRef(dispute_id="D", memo_number="CM-1", level=level))]


def _add(db_url: str, dispute_id: str, revision: int) -> None:
    with session_scope(db_url) as s:
        slack_outbox.add(s, dispute_id=dispute_id, revision=revision, steps=_step(revision),
                         now=NOW)


def _claim(db_url: str, at: datetime = NOW) -> list[tuple[str, int]]:
    with session_scope(db_url) as s:
        return [(c.dispute_id, c.steps[0].arg.level)
                for c in slack_outbox.claim(s, now=at, lease=LEASE)]


def test_one_disputes_rows_go_in_order_and_one_dispatcher_holds_each(db_url: str) -> None:
    _add(db_url, "DSP-A", 1)
    _add(db_url, "DSP-A", 2)
    _add(db_url, "DSP-B", 1)
    # A's second row waits for its first; B's goes beside it.
    assert _claim(db_url) == [("DSP-A", 1), ("DSP-B", 1)]
    assert _claim(db_url) == []  # a second dispatcher: both are held
    with session_scope(db_url) as s:
        ids = {r.revision: r.id for r in s.scalars(select(SlackOutboxRow)
                                                   .where(SlackOutboxRow.dispute_id == "DSP-A"))}
        slack_outbox.done(s, row_id=ids[1])
    assert _claim(db_url, NOW + timedelta(minutes=1)) == [("DSP-A", 2)]
    # B's dispatcher died: its row is taken again once the lease has run out.
    assert _claim(db_url, NOW + LEASE + timedelta(seconds=1)) == [("DSP-B", 1)]
    with session_scope(db_url) as s:
        assert slack_outbox.backlog(s) == 2


def test_a_failed_row_backs_off_doubling_then_goes(db_url: str) -> None:
    _add(db_url, "DSP-C", 1)
    at = NOW
    waits = []
    for _ in range(3):
        with session_scope(db_url) as s:
            [row] = slack_outbox.claim(s, now=at, lease=LEASE)
            due = slack_outbox.failed(s, row_id=row.id, now=at, error="SlackApiError: 500")
        waits.append((due - at).total_seconds())
        assert _claim(db_url, due - timedelta(milliseconds=1)) == []  # not yet due
        at = due
    assert waits == [2, 4, 8]
    with session_scope(db_url) as s:
        row = s.scalars(select(SlackOutboxRow)).one()
        assert (row.attempts, row.last_error) == (3, "SlackApiError: 500")
        [claimed] = slack_outbox.claim(s, now=at, lease=LEASE)
        slack_outbox.done(s, row_id=claimed.id)
    with session_scope(db_url) as s:
        assert slack_outbox.backlog(s) == 0


def test_managers_see_what_waits_for_slack_and_why(db_url: str) -> None:
    with session_scope(db_url) as s:
        assert slack_outbox.health(s, now=NOW) == {
            "waiting": 0, "failing": 0, "oldest_waiting_seconds": None, "last_error": None}
    _add(db_url, "DSP-H1", 1)
    _add(db_url, "DSP-H2", 1)
    with session_scope(db_url) as s:
        first = slack_outbox.claim(s, now=NOW, lease=LEASE, limit=1)[0]
        slack_outbox.failed(s, row_id=first.id, now=NOW, error="SlackApiError: 503 from Slack")
    later = NOW + timedelta(minutes=3)
    with session_scope(db_url) as s:
        assert slack_outbox.health(s, now=later) == {
            "waiting": 2, "failing": 1, "oldest_waiting_seconds": 180,
            "last_error": "SlackApiError: 503 from Slack"}


def _state(revision: int) -> DisputeState:
    opened = DisputeOpened(
        dispute_id="DSP-OUTBOX1", account_id="ADV-1", invoice_number="INV-1", currency="USD",
        disputed_amount=Decimal("10.00"), reason_code="rate_mismatch", description="x",
        line_ids=[], opened_by="cs", opened_at=NOW)
    return DisputeState(opened=opened, revision=revision)


@pytest.mark.parametrize("slack_on", [True, False])
def test_the_snapshot_queues_its_steps_once_and_only_with_slack_on(
    db_url: str, slack_on: bool,
) -> None:
    woken: list[int] = []
    ctx = ActivityContext(db_url=db_url, slack_outbox=slack_on,
                          on_slack_steps=lambda: woken.append(1))
    snapshot = RecordSnapshot(state=_state(1), events=[], slack_steps=_step(1))
    activities = ReadModelActivities(ctx)
    assert activities.record_snapshot(snapshot) is True
    assert activities.record_snapshot(snapshot) is False  # the activity's retry
    assert activities.record_snapshot(RecordSnapshot(state=_state(2))) is True  # no steps
    with session_scope(db_url) as s:
        rows = s.scalars(select(SlackOutboxRow)).all()
        stored = [s.model_dump(mode="json") for s in _step(1)]  # as the outbox keeps them
        assert [(r.revision, r.steps) for r in rows] == ([(1, stored)] if slack_on else [])
    assert woken == ([1] if slack_on else [])


def test_two_dispatchers_at_the_same_instant_take_different_rows(db_url: str) -> None:
    """PostgreSQL lets them claim at once (SKIP LOCKED); SQLite queues the second behind
    the first's write lock, which is what the other tests show."""
    if make_url(db_url).get_backend_name() != "postgresql":
        pytest.skip("concurrent claims need PostgreSQL's row locks")
    for n in range(4):
        _add(db_url, f"DSP-P{n}", 1)
    with session_scope(db_url) as first, session_scope(db_url) as second:
        mine = slack_outbox.claim(first, now=NOW, lease=LEASE, limit=2)
        theirs = slack_outbox.claim(second, now=NOW, lease=LEASE, limit=4)
    assert len(mine) == 2 and len(theirs) == 2
    assert not {r.id for r in mine} & {r.id for r in theirs}
