"""The dispute workflow's record: its state, the audit events a change produces, and the
one way both reach the read model (a snapshot, in revision order).

Every helper of the workflow (clocks, memo steps) and every Update writes through this
object, so "recorded" means one thing: the snapshot activity wrote the state, its events
and its Slack steps in one transaction. Deterministic: time from ``workflow.now()``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.sla as sla
    from activities.readmodel import ReadModelActivities
    from domain.codes import DisputeStatus
    from domain.models import AuditEntry, DisputeState, Notify, RecordSnapshot, UpdateResult
    from domain.views import dispute_view
    from workflows.dispute_slack import SlackQueue
    from workflows.steps import local_step


class DisputeRecord:
    def __init__(self, state: DisputeState, slack: SlackQueue) -> None:
        self.state = state
        self.slack = slack
        self._events: list[AuditEntry] = []
        self._lock = asyncio.Lock()
        self.persisted = state.revision  # highest revision the read model has

    def event(self, actor: str, action: str, message: str,
              data: dict[str, Any] | None = None) -> None:
        """An audit event of the change being made; written by the next :meth:`persist`."""
        self._events.append(AuditEntry(actor=actor, action=action, message=message,
                                       data=data or {}, at=workflow.now()))

    async def persist(self) -> None:
        """Write state and pending audit events; serialized so revisions only go up."""
        async with self._lock:
            self.state.revision += 1
            revision = self.state.revision
            events, self._events = self._events, []
            await local_step(ReadModelActivities.record_snapshot, RecordSnapshot(
                state=self.state, events=events, slack_steps=self.slack.for_snapshot()))
            self.persisted = revision
        self.slack.flush()

    @property
    def up_to_date(self) -> bool:
        """Whether the read model has the state as it is now."""
        return self.persisted >= self.state.revision

    def close(self, status: DisputeStatus, reason: str) -> None:
        """End the dispute: every clock stops, the turnaround is counted in business time."""
        now = workflow.now()
        self.state.status = status
        self.state.closed_at = now
        self.state.close_reason = reason
        elapsed = sla.calendar_of(self.state.policy).elapsed(self.state.opened.opened_at, now)
        self.state.turnaround_seconds = int(elapsed.total_seconds())
        for clock in self.state.sla.values():
            if clock.stopped_at is None:
                clock.stopped_at = now

    async def notify_opener(self, kind: str, message: str) -> None:
        o = self.state.opened
        await local_step(ReadModelActivities.notify, Notify(
            key=f"{o.dispute_id}:{kind}", dispute_id=o.dispute_id, recipient=o.opened_by,
            message=message))

    def result(self, message: str) -> UpdateResult:
        """An Update's answer: the dispute as it now is (the read model's view of it)."""
        return UpdateResult(status=self.state.status, revision=self.state.revision,
                            message=message, view=dispute_view(self.state))
