"""The dispute workflow's SLA clocks: start, stop, and fire what is due (reminders,
breaches, escalation, repeated manager alerts). Deterministic: what is due comes from
``workflows/sla.py``, changes are written through the dispute's record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.sla as sla
    from activities.readmodel import ReadModelActivities
    from domain.models import Notify, PolicyRef, SlaClock
    from domain.money import fmt
    from domain.slack_steps import AlertManagers, SlackAlert, SlackThreadNote, ThreadNote
    from workflows.dispute_record import DisputeRecord
    from workflows.dispute_slack import SlackQueue
    from workflows.steps import local_step

Note = Callable[[str, str, str], None]


class SlaClocks:
    def __init__(self, record: DisputeRecord, slack: SlackQueue) -> None:
        self.record = record
        self.state = record.state
        self.slack = slack

    def start(self, name: str, duration: str, policy: PolicyRef | None,
              assignee_role: str, level: int | None = None) -> None:
        self.state.sla[name] = sla.new_clock(now=workflow.now(), duration=duration,
                                             policy=policy, assignee_role=assignee_role,
                                             level=level)

    def stop(self, name: str, at: datetime) -> None:
        clock = self.state.sla.get(name)
        if clock is not None and clock.stopped_at is None:
            clock.stopped_at = at

    def acknowledge(self, actor: str) -> None:
        """The first person to act on the dispute stops its acknowledgement clock."""
        if self.state.acknowledged_by is None:
            self.state.acknowledged_by = actor
            self.stop("acknowledge", workflow.now())

    async def fire_due(self) -> None:
        """Remind, record breaches, escalate; then persist once and notify."""
        now = workflow.now()
        due = sla.due_now(self.state, now)
        o = self.state.opened
        notes: list[Notify] = []

        def note(key: str, recipient: str, message: str) -> None:
            notes.append(Notify(key=f"{o.dispute_id}:{key}", dispute_id=o.dispute_id,
                                recipient=recipient, message=message))

        for name in due.reminders:
            clock = self.state.sla[name]
            clock.reminded = True
            msg = (f"Reminder: {self._words(name)} on dispute {o.dispute_id} is due "
                   f"{clock.due_at.isoformat()}.")
            self.record.event("system", "sla.reminder", msg, {"clock": name,
                                                               "due_at": clock.due_at.isoformat()})
            note(f"{name}:remind", f"role:{clock.assignee_role}", msg)
            if clock.level is not None:
                memo = self.state.credit_memo
                self.slack.add(ThreadNote(arg=SlackThreadNote(
                    dispute_id=o.dispute_id, kind="reminder", text=msg,
                    memo_number=memo.number if memo else "", level=clock.level)))
        for name in due.breaches:
            clock = self.state.sla[name]
            clock.breached, clock.breached_at = True, now
            msg = (f"SLA breached: {self._words(name)} on dispute {o.dispute_id} was due "
                   f"{clock.due_at.isoformat()} ({clock.assignee_role}); "
                   f"{fmt(o.disputed_amount, o.currency)} waiting.")
            self.record.event("system", "sla.breached", msg,
                              {"clock": name, "due_at": clock.due_at.isoformat(),
                               "assignee_role": clock.assignee_role})
            note(f"{name}:breach", "managers", msg)
            self.slack.add(AlertManagers(arg=SlackAlert(
                key=f"{o.dispute_id}:{name}:breach", text=msg, dispute_id=o.dispute_id)))
            self._escalate(name, clock, now, note)
        for name in due.repeat_alerts:
            clock = self.state.sla[name]
            clock.alerts += 1
            clock.next_alert_at = sla.calendar_of(self.state.memo_policy).add(now,
                                                                               sla.REPEAT_ALERT)
            msg = (f"Still breached: {self._words(name)} on dispute {o.dispute_id}, due "
                   f"{clock.due_at.isoformat()}, has no backup role; "
                   f"{clock.assignee_role} must decide.")
            self.record.event("system", "sla.still_breached", msg,
                              {"clock": name, "alerts": clock.alerts})
            note(f"{name}:alert:{clock.alerts}", "managers", msg)
            self.slack.add(AlertManagers(arg=SlackAlert(
                key=f"{o.dispute_id}:{name}:alert:{clock.alerts}", text=msg,
                dispute_id=o.dispute_id)))
        await self.record.persist()
        for n in notes:
            await local_step(ReadModelActivities.notify, n)

    def _escalate(self, name: str, clock: SlaClock, now: datetime, note: Note) -> None:
        memo = self.state.credit_memo
        if clock.level is None or memo is None:
            return
        level = next((lv for lv in memo.levels if lv.level == clock.level), None)
        if level is None or level.status != "pending":
            return
        if level.escalate_to:
            level.status = "escalated"
            msg = (f"Level {level.level} ({level.role}) of credit memo {memo.number} escalated "
                   f"to {level.escalate_to}, who may now decide it too.")
            self.record.event("system", "approval.escalated", msg,
                              {"level": level.level, "role": level.role,
                               "escalate_to": level.escalate_to})
            note(f"{name}:escalate", f"role:{level.escalate_to}", msg)
            self.slack.add(ThreadNote(arg=SlackThreadNote(
                dispute_id=self.state.opened.dispute_id, memo_number=memo.number,
                level=level.level, kind="escalation", text=msg)))
        else:
            clock.next_alert_at = sla.calendar_of(self.state.memo_policy).add(now,
                                                                               sla.REPEAT_ALERT)

    def _words(self, name: str) -> str:
        clock = self.state.sla[name]
        if clock.level is not None:
            return f"approval level {clock.level} ({clock.assignee_role})"
        return {"acknowledge": "acknowledgement", "investigate": "investigation",
                "resolve": "resolution"}.get(name, name)

