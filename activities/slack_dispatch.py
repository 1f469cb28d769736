"""The worker's Slack dispatcher: sends what the Slack outbox (db/slack_outbox.py) holds.

Slack steps are not Temporal activities any more: each was a task and a wake-up of its
workflow, most of the engine's cost of a decision (bench/bench_decisions.py). The snapshot
activity writes them in its own transaction; this dispatcher, beside the Temporal worker in
the worker process, runs the outbox loop (activities/outbox_loop.py) over them: due rows
under a lease, run with the same idempotent steps (:meth:`SlackActivities.run_steps`), each
deleted in its steps' last transaction. A retried step never double-posts
(db/slack_messages.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from activities.outbox_loop import OutboxLoop
from activities.slack import SlackActivities
from db import slack_outbox
from domain.slack_steps import SlackSteps

log = logging.getLogger("disputeflow.slack")

POLL_S = 0.5
LEASE = timedelta(minutes=5)  # above the longest a row's Slack calls take with their retries
AT_ONCE = 4


class SlackDispatcher(OutboxLoop[slack_outbox.Claimed]):
    name = "slack-outbox"

    def __init__(self, slack: SlackActivities, *, poll_s: float = POLL_S,
                 lease: timedelta = LEASE, at_once: int = AT_ONCE,
                 first_retry: timedelta = slack_outbox.FIRST_RETRY) -> None:
        super().__init__(slack.db_url, lease=lease, poll_s=poll_s, at_once=at_once)
        self.slack = slack
        self.first_retry = first_retry

    def take(self, session: Session, now: datetime) -> list[slack_outbox.Claimed]:
        return slack_outbox.claim(session, now=now, lease=self.lease, limit=self.at_once)

    def deliver(self, row: slack_outbox.Claimed) -> None:
        """Run the row's steps; it is settled (deleted, or put back for a retry) in their
        last transaction. When that cannot be written it stays leased and is taken again
        once the lease runs out (its steps are idempotent)."""

        def settle(s: Session, failure: Exception | None) -> None:
            if failure is None:
                slack_outbox.done(s, row_id=row.id)
            else:
                slack_outbox.failed(s, row_id=row.id, now=datetime.now(UTC),
                                    error=_describe(failure), first=self.first_retry)

        try:
            self.slack.run_steps(SlackSteps(steps=row.steps), settle=settle)
        except Exception as exc:
            log.warning("Slack steps for %s failed (attempt %d), retried later: %s",
                        row.dispute_id, row.attempts + 1, exc)


def _describe(exc: Exception) -> str:
    """The failure as managers read it in the metrics: Slack's status and error code when
    Slack answered, else the exception (a timeout, a refused connection)."""
    if isinstance(exc, SlackApiError):
        return (f"Slack answered HTTP {exc.response.status_code}: "
                f"{exc.response.get('error') or 'no error code'}")
    return f"{type(exc).__name__}: {exc}"
