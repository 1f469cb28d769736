"""Delegations as evidence: who lent approval authority to whom, for which window, and the
early end of a window (audited, with who ended it and why).

A delegation is never deleted: ending it moves its end to now (or to its start, when it has
not begun), so the row still says which window was in force, and the audit trail says the
window was cut short. Creating one is ``db.users.add_delegation``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db import audit
from db.models import Delegation

__all__ = ["DelegationError", "DelegationOver", "Delegations", "end", "of_user"]


class DelegationError(ValueError):
    """A delegation that is not this user's."""


class DelegationOver(DelegationError):
    """A delegation whose window has ended already: ending it again changes nothing."""


@dataclass(frozen=True)
class Delegations:
    """A user's delegations, newest window first: those they gave and those they received."""

    given: list[Delegation]
    received: list[Delegation]


def of_user(session: Session, user_id: str) -> Delegations:
    rows = session.scalars(select(Delegation).where(
        or_(Delegation.user_id == user_id, Delegation.delegate_id == user_id))
        .order_by(Delegation.starts_at.desc(), Delegation.id.desc()))
    given: list[Delegation] = []
    received: list[Delegation] = []
    for row in rows:
        (given if row.user_id == user_id else received).append(row)
    return Delegations(given, received)


def end(session: Session, *, user_id: str, delegation_id: int, actor: str, reason: str,
        now: datetime) -> Delegation:
    """End ``user_id``'s delegation now: the delegate can no longer act for them from the
    next decision on."""
    row = session.get(Delegation, delegation_id)
    if row is None or row.user_id != user_id:
        raise DelegationError(f"{user_id} has given no delegation {delegation_id}.")
    ends = row.ends_at
    if ends <= max(now, row.starts_at):  # past, or cut short before it began
        raise DelegationOver(f"Delegation {delegation_id} has ended already, at "
                             f"{ends.isoformat()}.")
    row.ends_at = max(now, row.starts_at)
    session.flush()
    audit.append(session, [audit.NewEvent(
        actor=actor, action="delegation.ended", subject=user_id,
        message=f"Delegation {delegation_id} from {user_id} to {row.delegate_id} ended by "
                f"{actor}: {reason}",
        data={"delegation_id": delegation_id, "delegate_id": row.delegate_id,
              "reason": reason, "before": {"ends_at": ends.isoformat()},
              "after": {"ends_at": row.ends_at.isoformat()}})])
    return row
