"""SLA clocks: what is due when. Pure functions over the dispute state, used by the
workflow's main loop to set one durable timer for the next event and to fire what is due.

Clocks: ``acknowledge``, ``investigate``, ``resolve`` (from intake) and one per approval
level (``approval_<memo>_<level>``). Each reminds its assignee at ``remind_at`` of its
business duration and breaches at its due time; a breached approval level escalates to its
``escalate_to`` role, or — when it has none — alerts managers once per business day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from business_calendar import BusinessCalendar
from domain.models import DisputeState, PolicyRef, SlaClock

REPEAT_ALERT = "P1D"


def calendar_of(policy: PolicyRef | None) -> BusinessCalendar:
    return BusinessCalendar.from_spec(policy.document.get("calendar") if policy else None)


def remind_fraction(policy: PolicyRef | None) -> Decimal:
    raw = (policy.document.get("sla") or {}).get("remind_at", "0.5") if policy else "0.5"
    return Decimal(str(raw))


def new_clock(*, now: datetime, duration: str, policy: PolicyRef | None, assignee_role: str,
              level: int | None = None) -> SlaClock:
    cal = calendar_of(policy)
    return SlaClock(started_at=now, due_at=cal.add(now, duration), duration=duration,
                    assignee_role=assignee_role, level=level,
                    remind_at=cal.add_fraction(now, duration, remind_fraction(policy)))


def _pending_times(clock: SlaClock) -> list[datetime]:
    if clock.stopped_at is not None:
        return []
    times = []
    if not clock.reminded and clock.remind_at is not None and not clock.breached:
        times.append(clock.remind_at)
    if not clock.breached:
        times.append(clock.due_at)
    elif clock.next_alert_at is not None:
        times.append(clock.next_alert_at)
    return times


def next_event_at(state: DisputeState) -> datetime | None:
    """The earliest moment something is due on an open clock, if any."""
    times = [t for clock in state.sla.values() for t in _pending_times(clock)]
    return min(times) if times else None


@dataclass
class Due:
    reminders: list[str] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)
    repeat_alerts: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.reminders or self.breaches or self.repeat_alerts)


def due_now(state: DisputeState, now: datetime) -> Due:
    due = Due()
    for name, clock in state.sla.items():
        if clock.stopped_at is not None:
            continue
        if not clock.breached and clock.due_at <= now:
            due.breaches.append(name)
        elif not clock.reminded and clock.remind_at is not None and clock.remind_at <= now \
                and not clock.breached:
            due.reminders.append(name)
        elif clock.breached and clock.next_alert_at is not None and clock.next_alert_at <= now:
            due.repeat_alerts.append(name)
    return due
