"""The worker's mail dispatcher: sends the letters db/letters.py wrote, over SMTP
(DISPUTEFLOW_SMTP_URL, from DISPUTEFLOW_MAIL_FROM), on the outbox loop every dispatcher shares
(activities/outbox_loop.py). A resolution carries its credit memo's PDF, printed when sent.

SMTP has no idempotency key: a letter whose acceptance was lost (the connection dropped after
the server took it) may arrive twice, with the same Message-ID, which mail clients use to
show it once. A refusal or an unreachable server backs the letter off, for a day, then it is
marked failed and shown on the dispute.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate

from sqlalchemy.orm import Session

from activities.outbox_loop import OutboxLoop
from config.smtp import SmtpServer
from db import letters
from db.session import session_scope

log = logging.getLogger("disputeflow.mail")

POLL_S = 2.0
LEASE = timedelta(minutes=5)
AT_ONCE = 2


class MailDispatcher(OutboxLoop[letters.Claimed]):
    name = "mail-outbox"

    def __init__(self, db_url: str, *, server: SmtpServer, sender: str,
                 attachment: Callable[[str], bytes], first_retry: timedelta = letters.FIRST_RETRY,
                 retry_for: timedelta = letters.RETRY_FOR, poll_s: float = POLL_S,
                 lease: timedelta = LEASE, at_once: int = AT_ONCE) -> None:
        super().__init__(db_url, lease=lease, poll_s=poll_s, at_once=at_once)
        self.server, self.sender = server, sender
        self.attachment = attachment  # a credit memo's number -> its PDF
        self.first_retry, self.retry_for = first_retry, retry_for

    def take(self, session: Session, now: datetime) -> list[letters.Claimed]:
        return letters.claim(session, now=now, lease=self.lease, limit=self.at_once)

    def message(self, row: letters.Claimed) -> EmailMessage:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, row.recipient, row.subject
        msg["Message-ID"], msg["Date"] = row.message_id, formatdate(usegmt=True)
        msg.set_content(row.body)
        if row.memo_number:
            msg.add_attachment(self.attachment(row.memo_number), maintype="application",
                               subtype="pdf", filename=f"{row.memo_number}.pdf")
        return msg

    def deliver(self, row: letters.Claimed) -> None:
        error: str | None = None
        try:
            # connected first: no PDF is printed for a server that is not there
            with self.server.connect() as smtp:
                smtp.send_message(self.message(row))
        except (smtplib.SMTPException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        except Exception as exc:  # the PDF could not be printed: retried like a refusal
            error = f"the letter could not be prepared ({type(exc).__name__}: {exc})"[:500]
        try:
            with session_scope(self.db_url) as s:
                now = datetime.now(UTC)
                if error is None:
                    letters.sent(s, letter_id=row.id, now=now)
                    return
                outcome = letters.attempt_failed(s, letter_id=row.id, now=now, error=error,
                                                 first=self.first_retry,
                                                 retry_for=self.retry_for)
            log.warning("letter %d (%s) to %s failed, now %s: %s", row.id, row.kind,
                        row.recipient, outcome, error, extra={"dispute_id": row.dispute_id})
        except Exception as exc:
            log.warning("letter %d: could not record its attempt (%s); sent again later",
                        row.id, type(exc).__name__)
