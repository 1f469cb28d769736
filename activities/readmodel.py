"""Activities that write the read model and audit trail, and read the policy in force."""

from __future__ import annotations

from datetime import UTC, datetime

from activities.context import ActivityContext
from activities.defn import defn
from db import disputes, policies, slack_outbox
from db.session import session_scope
from domain.models import Notify, PolicyRef, RecordSnapshot


class ReadModelActivities:
    def __init__(self, ctx: ActivityContext) -> None:
        self.ctx = ctx

    @defn(name="record_snapshot")
    def record_snapshot(self, request: RecordSnapshot) -> bool:
        """Idempotent: a retry of an already-written revision changes nothing. The change's
        Slack steps are queued in the same transaction (activities/slack_dispatch.py)."""
        steps = request.slack_steps if self.ctx.slack_outbox else []
        with session_scope(self.ctx.db_url) as s:

            def queue_slack() -> None:  # only when this revision is newly written
                slack_outbox.add(s, dispute_id=request.state.opened.dispute_id,
                                 revision=request.state.revision, steps=steps,
                                 now=datetime.now(UTC))

            written = disputes.save_snapshot(s, state=request.state, events=request.events,
                                             before_audit=queue_slack if steps else None)
        if written and steps and self.ctx.on_slack_steps is not None:
            self.ctx.on_slack_steps()
        return written

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
