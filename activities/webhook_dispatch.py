"""The worker's webhook dispatcher: sends what db/webhooks.py queued, signed per Standard
Webhooks, on the outbox loop every dispatcher shares (activities/outbox_loop.py).

Each attempt is a POST of the event's stored body with ``webhook-id`` (the event's id, the
same on every attempt, so receivers deduplicate), ``webhook-timestamp`` (this attempt's) and
``webhook-signature``. A 2xx settles the delivery; anything else — another status, a
redirect, a timeout, a refused connection — backs it off, until the retry window
(DISPUTEFLOW_WEBHOOK_RETRY_HOURS) has passed and it is marked failed for an admin to
redeliver. Nothing else waits on a receiver: the state change was committed long before.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.orm import Session

from activities.outbox_loop import OutboxLoop
from db import webhooks
from db.session import session_scope
from domain.webhook_signature import sign

log = logging.getLogger("disputeflow.webhooks")

POLL_S = 1.0
LEASE = timedelta(minutes=2)  # well above one attempt's timeout
AT_ONCE = 4
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "Disputeflow-Webhooks/1"
ANSWER_KEPT = 300  # bytes of a refusal's body kept for the log; the rest is never read


class WebhookDispatcher(OutboxLoop[webhooks.Claimed]):
    name = "webhook-outbox"

    def __init__(self, db_url: str, *, retry_for: timedelta = webhooks.RETRY_FOR,
                 first_retry: timedelta = webhooks.FIRST_RETRY,
                 longest_retry: timedelta = webhooks.LONGEST_RETRY, poll_s: float = POLL_S,
                 lease: timedelta = LEASE, at_once: int = AT_ONCE) -> None:
        super().__init__(db_url, lease=lease, poll_s=poll_s, at_once=at_once)
        self.retry_for, self.first_retry, self.longest_retry = (retry_for, first_retry,
                                                                longest_retry)
        self.http = httpx.Client(timeout=TIMEOUT, follow_redirects=False,
                                 headers={"user-agent": USER_AGENT})

    def take(self, session: Session, now: datetime) -> list[webhooks.Claimed]:
        return webhooks.claim(session, now=now, lease=self.lease, limit=self.at_once)

    def send(self, row: webhooks.Claimed) -> tuple[int | None, str | None]:
        """One attempt: the receiver's status, and why it failed (None when it took it)."""
        body = row.body.encode()
        timestamp = int(time.time())
        headers = {"content-type": "application/json", "webhook-id": row.event_id,
                   "webhook-timestamp": str(timestamp),
                   "webhook-signature": sign(row.secret, msg_id=row.event_id,
                                             timestamp=timestamp, body=body)}
        try:
            with self.http.stream("POST", row.url, content=body, headers=headers) as response:
                if 200 <= response.status_code < 300:
                    return response.status_code, None
                start = next(response.iter_bytes(ANSWER_KEPT), b"")[:ANSWER_KEPT]
        except Exception as exc:  # any failure of one attempt is that delivery's, no more
            return None, f"{type(exc).__name__}: {exc}"[:500]
        return response.status_code, (f"the receiver answered HTTP {response.status_code}: "
                                      f"{start.decode(errors='replace')}")

    def deliver(self, row: webhooks.Claimed) -> None:
        """Send one delivery and settle it. When the settling cannot be written the row stays
        leased and is sent again once the lease runs out (receivers deduplicate on the id)."""
        status, error = self.send(row)
        try:
            with session_scope(self.db_url) as s:
                now = datetime.now(UTC)
                if error is None:
                    webhooks.delivered(s, delivery_id=row.id, now=now,
                                       status_code=status or 200)
                    return
                outcome = webhooks.attempt_failed(
                    s, delivery_id=row.id, now=now, status_code=status, error=error,
                    first=self.first_retry, longest=self.longest_retry,
                    retry_for=self.retry_for)
            log.warning("webhook %s to %s failed (attempt %d, now %s): %s", row.event_id,
                        row.url, row.attempts + 1, outcome, error)
        except Exception as exc:
            log.warning("webhook %s: could not record its attempt (%s); sent again later",
                        row.event_id, type(exc).__name__)

    def close(self) -> None:
        self.http.close()
