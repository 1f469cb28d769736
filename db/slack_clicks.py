"""Decision clicks from Slack, kept from the moment they are acknowledged until decided.

Slack gets its 200 at once and never redelivers an acknowledged click, so the click is
written first (:func:`receive`), held by the process deciding it through a lease it renews
(:func:`renew`), and closed when its outcome has been answered (:func:`done`). A click whose
lease ran out — its process died — is taken over by :func:`claim_stale`, a compare-and-set
per row, so two API processes never both take it. Deciding a click twice would still apply
the decision once (the Update id derives from it); the lease only spares a second reply.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db.models import SlackClick


def receive(session: Session, *, action: dict[str, Any], now: datetime,
            lease: timedelta) -> int:
    row = SlackClick(action=action, received_at=now, lease_until=now + lease, done_at=None)
    session.add(row)
    session.flush()
    return row.id


def renew(session: Session, *, ids: Iterable[int], now: datetime, lease: timedelta) -> None:
    held = list(ids)
    if held:
        session.execute(update(SlackClick).where(SlackClick.id.in_(held),
                                                 SlackClick.done_at.is_(None))
                        .values(lease_until=now + lease))


def done(session: Session, *, click_id: int, now: datetime) -> None:
    session.execute(update(SlackClick).where(SlackClick.id == click_id).values(done_at=now))


def prune(session: Session, *, done_before: datetime) -> int:
    """Forget clicks answered before ``done_before`` (their decisions are in the audit
    trail); how many. Keeps the table to the clicks of the last day or so."""
    gone = session.execute(delete(SlackClick).where(SlackClick.done_at < done_before))
    return int(gone.rowcount)  # type: ignore[attr-defined]


def claim_stale(session: Session, *, now: datetime, lease: timedelta,
                limit: int = 50) -> list[tuple[int, dict[str, Any]]]:
    """Open clicks whose lease ran out, now held by the caller for ``lease``; oldest first."""
    candidates = session.execute(
        select(SlackClick.id, SlackClick.action)
        .where(SlackClick.done_at.is_(None), SlackClick.lease_until < now)
        .order_by(SlackClick.id).limit(limit)).all()
    claimed = []
    for click_id, action in candidates:
        taken = session.execute(
            update(SlackClick)
            .where(SlackClick.id == click_id, SlackClick.done_at.is_(None),
                   SlackClick.lease_until < now)
            .values(lease_until=now + lease))
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append((click_id, action))
    return claimed
