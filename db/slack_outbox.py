"""The Slack outbox: the Slack steps of each recorded state change, until they are sent.

A row is added in the snapshot's own transaction (:func:`add`), so Slack hears of a change
if and only if the change was recorded, and a crash cannot lose the steps in between. The
worker's dispatcher takes due rows under a lease (:func:`claim`: ``FOR UPDATE SKIP LOCKED``
on PostgreSQL, the write lock on SQLite, so two workers never take the same row), and
deletes each once sent (:func:`done`) or puts it back for later (:func:`failed`). One
dispute's rows go out in the order they were written: a row is due only when no earlier
row of its dispute is left, so a level's "decided" update never overtakes its prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import case, delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from db.models import SlackOutboxRow, table
from domain.slack_steps import SlackStep

FIRST_RETRY = timedelta(seconds=2)
LONGEST_RETRY = timedelta(minutes=5)
_OUTBOX = table(SlackOutboxRow)  # Core statements on the hot path
_STEP: TypeAdapter[SlackStep] = TypeAdapter(SlackStep)
_STEPS: TypeAdapter[list[SlackStep]] = TypeAdapter(list[SlackStep])


@dataclass(frozen=True)
class Claimed:
    id: int
    dispute_id: str
    steps: list[SlackStep]
    attempts: int


def add(session: Session, *, dispute_id: str, revision: int, steps: Sequence[SlackStep],
        now: datetime) -> None:
    """Queue a change's steps; called only when its snapshot was newly written (a retried
    snapshot writes nothing, so its steps are not queued twice)."""
    session.execute(insert(_OUTBOX).values(
        dispute_id=dispute_id, revision=revision, created_at=now, next_at=now,
        steps=[_STEP.dump_python(step, mode="json") for step in steps],
        lease_until=None, attempts=0))


def claim(session: Session, *, now: datetime, lease: timedelta, limit: int = 8) -> list[Claimed]:
    """Due rows, each the oldest left of its dispute, now held by the caller for ``lease``."""
    row, earlier = SlackOutboxRow, aliased(SlackOutboxRow)
    found = session.execute(
        select(row.id, row.dispute_id, row.steps, row.attempts)
        .where(row.next_at <= now, or_(row.lease_until.is_(None), row.lease_until < now),
               ~exists().where(earlier.dispute_id == row.dispute_id, earlier.id < row.id))
        .order_by(row.id).limit(limit).with_for_update(skip_locked=True)).all()
    if found:
        session.execute(update(row).where(row.id.in_([f.id for f in found]))
                        .values(lease_until=now + lease))
    return [Claimed(f.id, f.dispute_id, _STEPS.validate_python(f.steps), f.attempts)
            for f in found]


def done(session: Session, *, row_id: int) -> None:
    session.execute(delete(_OUTBOX).where(_OUTBOX.c.id == row_id))


def failed(session: Session, *, row_id: int, now: datetime, error: str,
           first: timedelta = FIRST_RETRY) -> datetime:
    """Back off (``first``, doubling, at most 5 min) and release the row; when it is due
    again."""
    attempts = session.scalar(select(SlackOutboxRow.attempts).where(SlackOutboxRow.id == row_id))
    if attempts is None:
        return now
    due = now + min(first * 2 ** min(attempts, 16), LONGEST_RETRY)
    session.execute(update(SlackOutboxRow).where(SlackOutboxRow.id == row_id).values(
        attempts=attempts + 1, next_at=due, lease_until=None, last_error=error[:2000]))
    return due


def backlog(session: Session) -> int:
    """Rows not yet sent (due or waiting for a retry)."""
    return int(session.scalar(select(func.count()).select_from(SlackOutboxRow)) or 0)


def health(session: Session, *, now: datetime) -> dict[str, Any]:
    """What managers see of Slack's delivery (in ``GET /api/v1/metrics``): how many state
    changes still wait for their messages, how long the oldest has, how many failed at least
    once, and Slack's last answer to one of those. Without this a Slack outage shows only as
    approvers who say they got nothing. The table holds only unsent rows: two small reads."""
    row = SlackOutboxRow
    waiting, oldest, failing = session.execute(select(
        func.count(), func.min(row.created_at),
        func.coalesce(func.sum(case((row.attempts > 0, 1), else_=0)), 0))).one()
    last_error = session.scalar(select(row.last_error).where(row.attempts > 0)
                                .order_by(row.next_at.desc(), row.id.desc()).limit(1))
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)  # SQLite hands datetimes back naive
    return {"waiting": int(waiting), "failing": int(failing),
            "oldest_waiting_seconds": (None if oldest is None
                                       else max(0, int((now - oldest).total_seconds()))),
            "last_error": last_error}
