"""When an outbox message that failed is tried again (webhooks, letters): after ``first``,
doubling with each failure up to ``longest``, until the retry window has run out — then it is
given up for a person to send again. One rule, pure, for every outbox that gives up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Retry:
    first: timedelta
    longest: timedelta
    window: timedelta

    def next_attempt(self, *, now: datetime, attempts: int,
                     since: datetime) -> datetime | None:
        """When to try again after the ``attempts``-th failure (counting from 0) of a message
        retried ``since``; None once the next try would fall outside the window."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # SQLite hands datetimes back naive
        due = now + min(self.first * 2 ** min(attempts, 20), self.longest)
        return None if due - since > self.window else due
