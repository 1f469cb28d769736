"""Activities that write the read model and audit trail, and read the policy in force."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from activities.context import ActivityContext
from activities.defn import defn
from db import disputes, letters, policies, slack_outbox, webhooks
from db.session import session_scope
from domain.letters import letters_of
from domain.models import Notify, PolicyRef, RecordSnapshot
from domain.webhook_events import events_of


class ReadModelActivities:
    def __init__(self, ctx: ActivityContext) -> None:
        self.ctx = ctx

    @defn(name="record_snapshot")
    def record_snapshot(self, request: RecordSnapshot) -> bool:
        """Idempotent: a retry of an already-written revision changes nothing. The change's
        Slack steps, outbound webhook events and letters are queued in the same transaction
        (activities/slack_dispatch.py, webhook_dispatch.py, mail_dispatch.py)."""
        steps = request.slack_steps if self.ctx.slack_outbox else []
        dispute_id = request.state.opened.dispute_id
        hooks = mail = 0
        with session_scope(self.ctx.db_url) as s:
            # Outbound webhooks and letters compare the new status with the stored one: read
            # it only when some endpoint is registered or mail is on (one small read else).
            wanted = webhooks.wanted_types(s)
            before = (disputes.stored_status(s, dispute_id) if wanted or self.ctx.letters
                      else None)

            def with_the_change() -> None:  # only when this revision is newly written
                nonlocal hooks, mail
                now = datetime.now(UTC)
                if steps:
                    slack_outbox.add(s, dispute_id=dispute_id, revision=request.state.revision,
                                     steps=steps, now=now)
                if wanted:
                    outgoing = [e for e in events_of(request.state, request.events, before)
                                if e.type in wanted]
                    hooks = webhooks.queue(
                        s, dispute_id=dispute_id, outgoing=outgoing, now=now,
                        invoice_number=request.state.opened.invoice_number)
                if self.ctx.letters:
                    mail = self._queue_letters(s, request, before, now)

            written = disputes.save_snapshot(
                s, state=request.state, events=request.events,
                before_audit=(with_the_change if steps or wanted or self.ctx.letters
                              else None))
        if written and steps and self.ctx.on_slack_steps is not None:
            self.ctx.on_slack_steps()
        if hooks and self.ctx.on_webhook_events is not None:
            self.ctx.on_webhook_events()
        if mail and self.ctx.on_letters is not None:
            self.ctx.on_letters()
        return written

    def _queue_letters(self, s: Session, request: RecordSnapshot, before: str | None,
                       now: datetime) -> int:
        """The letters the change calls for, addressed to the account's billing contact."""
        due = letters_of(request.state, request.events, before, account_name="",
                         issuer_name=self.ctx.issuer_name)
        if not due:
            return 0  # most changes call for no letter: no read for the contact then
        name, email = letters.account_contact(s, request.state.opened.account_id)
        return letters.queue(s, dispute_id=request.state.opened.dispute_id,
                             letters=[letter.addressed_to(name) for letter in due],
                             recipient=email, now=now)

    @defn(name="load_policy")
    def load_policy(self) -> PolicyRef:
        with session_scope(self.ctx.db_url) as s:
            row = policies.current(s)
            return PolicyRef(version=row.version, document=row.document)

    @defn(name="notify")
    def notify(self, request: Notify) -> bool:
        """The pluggable notifier's default: a log table, one row per key."""
        from db.models import Notification

        with session_scope(self.ctx.db_url) as s:
            if s.get(Notification, request.key) is not None:
                return False
            s.add(Notification(key=request.key, dispute_id=request.dispute_id,
                               recipient=request.recipient, channel="log",
                               message=request.message, created_at=datetime.now(UTC)))
            return True
