"""The loop every outbox dispatcher of the worker runs (Slack's, webhooks'): take due rows under
a lease, send them side by side on a small thread pool, settle each, and wait — woken at once
when this process wrote a row, else polling for rows other processes wrote and retries
falling due.

Nothing is held in memory: a worker that dies leaves its leased rows to the others once the
lease runs out, and what it was sending is sent again (each outbox's sending is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from db.session import session_scope

Row = TypeVar("Row")
log = logging.getLogger("disputeflow.outbox")


class OutboxLoop(ABC, Generic[Row]):
    """Subclasses say how to claim due rows and how to send (and settle) one."""

    name = "outbox"

    def __init__(self, db_url: str, *, lease: timedelta, poll_s: float, at_once: int) -> None:
        self.db_url, self.lease = db_url, lease
        self.poll_s, self.at_once = poll_s, at_once
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    @abstractmethod
    def take(self, session: Session, now: datetime) -> list[Row]:
        """Up to ``at_once`` due rows, leased to this process for ``lease``."""

    def claim(self) -> list[Row]:
        """:meth:`take` in a transaction of its own; none when the database is away (the
        next poll tries again)."""
        try:
            with session_scope(self.db_url) as session:
                return self.take(session, datetime.now(UTC))
        except Exception as exc:
            log.warning("%s: cannot read it (%s)", self.name, type(exc).__name__)
            return []

    @abstractmethod
    def deliver(self, row: Row) -> None:
        """Send one row and settle it; never raises (a row left unsettled is taken again
        once its lease runs out)."""

    def wake(self) -> None:
        """Rows were written: look now, not at the next poll. Safe from any thread."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def serve(self, stop: asyncio.Event, *, grace: float) -> None:
        """:meth:`run` until ``stop`` is set, then at most ``grace`` seconds more for the rows
        being sent: a deploy stops the worker in bounded time even while a receiver hangs. A
        row abandoned so stays leased and is sent again once its lease runs out; the process
        exiting ends the abandoned call."""
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
        pool = ThreadPoolExecutor(self.at_once, thread_name_prefix=self.name)
        try:
            while not stop.is_set():
                self._wake.clear()
                rows = await self._loop.run_in_executor(pool, self.claim)
                if rows:
                    sent = await asyncio.gather(
                        *(self._loop.run_in_executor(pool, self.deliver, r) for r in rows),
                        return_exceptions=True)
                    for failure in (x for x in sent if isinstance(x, BaseException)):
                        # deliver() settles its own failures; one that escaped must not end
                        # the loop for every other row (the row is taken again after its
                        # lease).
                        log.error("%s: a row failed outside its settling: %r", self.name,
                                  failure)
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
