"""Kept Slack clicks: a click is held through its lease, taken over once the lease has run
out (by one claimant only), and never again once answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db import slack_clicks
from db.session import session_scope

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
ACTION = {"kind": "approve", "slack_user_id": "U1", "ref": {"d": "DSP-1", "m": "CM-1", "l": 1},
          "response_url": None, "reason": ""}


def test_a_click_is_held_while_renewed_taken_over_once_then_closed(db_url: str) -> None:
    with session_scope(db_url) as s:
        held = slack_clicks.receive(s, action=ACTION, now=NOW, lease=LEASE)
        orphan = slack_clicks.receive(s, action={**ACTION, "slack_user_id": "U2"}, now=NOW,
                                      lease=LEASE)
    later = NOW + timedelta(seconds=45)
    with session_scope(db_url) as s:  # the live process renews what it holds
        slack_clicks.renew(s, ids=[held], now=later, lease=LEASE)
    after_lease = NOW + timedelta(seconds=90)
    with session_scope(db_url) as s:
        taken = slack_clicks.claim_stale(s, now=after_lease, lease=LEASE)
    assert taken == [(orphan, {**ACTION, "slack_user_id": "U2"})]
    with session_scope(db_url) as s:  # a second process looking at the same moment
        assert slack_clicks.claim_stale(s, now=after_lease, lease=LEASE) == []
    with session_scope(db_url) as s:
        slack_clicks.done(s, click_id=orphan, now=after_lease)
    much_later = NOW + timedelta(hours=1)
    with session_scope(db_url) as s:  # the held one's process died after all: taken over
        assert [c for c, _ in slack_clicks.claim_stale(s, now=much_later, lease=LEASE)] == [held]
    with session_scope(db_url) as s:  # answered clicks are forgotten after a while, open not
        assert slack_clicks.prune(s, done_before=after_lease) == 0
        assert slack_clicks.prune(s, done_before=much_later) == 1
        assert [c for c, _ in slack_clicks.claim_stale(
            s, now=much_later + timedelta(hours=1), lease=LEASE)] == [held]
