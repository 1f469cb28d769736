"""The worker's Slack dispatcher: sends what the Slack outbox (db/slack_outbox.py) holds.

Slack steps are not Temporal activities any more: each was a task and a wake-up of its
workflow, most of the engine's cost of a decision (bench/bench_decisions.py). The snapshot
activity writes them in its own transaction; this loop, beside the Temporal worker in the
worker process, takes due rows under a lease, runs them with the same idempotent steps
(:meth:`SlackActivities.run_steps`), and deletes each in its steps' last transaction. It is
woken at once when this process writes a row, and polls for rows other workers wrote and
retries falling due.

Nothing is held in memory: a worker that dies leaves its leased rows to the others once
the lease runs out, and a retried step never double-posts (db/slack_messages.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from activities.slack import SlackActivities
from db import slack_outbox
from db.session import session_scope
from domain.slack_steps import SlackSteps

log = logging.getLogger("disputeflow.slack")

POLL_S = 0.5
LEASE = timedelta(minutes=5)  # above the longest a row's Slack calls take with their retries
AT_ONCE = 4


class SlackDispatcher:
    def __init__(self, slack: SlackActivities, *, poll_s: float = POLL_S,
                 lease: timedelta = LEASE, at_once: int = AT_ONCE,
                 first_retry: timedelta = slack_outbox.FIRST_RETRY) -> None:
        self.slack = slack
        self.db_url = slack.db_url
        self.poll_s, self.lease, self.at_once = poll_s, lease, at_once
        self.first_retry = first_retry
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def wake(self) -> None:
        """Rows were written: look now, not at the next poll. Safe from any thread."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def serve(self, stop: asyncio.Event, *, grace: float) -> None:
        """:meth:`run` until ``stop`` is set, then at most ``grace`` seconds more for the rows
        being sent: a deploy stops the worker in bounded time even while Slack hangs. A row
        abandoned so stays leased and is sent again once its lease runs out (its steps are
        idempotent); the process exiting ends the abandoned call."""
        sending = asyncio.create_task(self.run(stop))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([sending, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sending, grace)  # cancels it when the grace runs out

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set; rows being sent then are finished first (a caller in a
        hurry cancels this task, as :meth:`serve` does: what was not settled is sent again
        after its lease)."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        pool = ThreadPoolExecutor(self.at_once, thread_name_prefix="slack-outbox")
        try:
            while not stop.is_set():
                self._wake.clear()
                rows = await self._loop.run_in_executor(pool, self._claim)
                if rows:
                    await asyncio.gather(*(self._loop.run_in_executor(pool, self._deliver, r)
                                           for r in rows))
                    if len(rows) == self.at_once:
                        continue  # a full batch: more may be due now
                    # Else wait: a row written meanwhile has woken us (no wait then); a
                    # dispute's next row held back behind one just sent waits for the poll.
                waits = [asyncio.ensure_future(stop.wait()),
                         asyncio.ensure_future(self._wake.wait())]
                await asyncio.wait(waits, timeout=self.poll_s,
                                   return_when=asyncio.FIRST_COMPLETED)  # at once if woken
                for w in waits:
                    w.cancel()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _claim(self) -> list[slack_outbox.Claimed]:
        try:
            with session_scope(self.db_url) as s:
                return slack_outbox.claim(s, now=datetime.now(UTC), lease=self.lease,
                                          limit=self.at_once)
        except Exception as exc:  # the database away: the next poll tries again
            log.warning("Slack outbox: cannot read it (%s)", type(exc).__name__)
            return []

    def _deliver(self, row: slack_outbox.Claimed) -> None:
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
