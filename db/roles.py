"""Role history: each grant and removal of a role, effective-dated, with who and why.

``users.roles`` stays the current set (read on every request); every change to it goes
through this module, which writes the dated row and the audit event in the same transaction,
so the history and the current roles cannot disagree. The control test and the access review
read the history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import audit
from db.models import RoleGrant, User

__all__ = ["Held", "RoleChangeError", "grant", "held_at", "history", "periods", "record_initial",
           "remove"]


class RoleChangeError(ValueError):
    """A grant of a role already held, or the removal of one not held."""


@dataclass(frozen=True)
class Held:
    """One period in which a user held a role: ``[granted_at, removed_at)``."""

    role: str
    granted_at: datetime
    removed_at: datetime | None

    def covers(self, at: datetime) -> bool:
        return self.granted_at <= at and (self.removed_at is None or at < self.removed_at)


def record_initial(session: Session, *, user: User, actor: str, at: datetime) -> None:
    """The grants of a new user's roles (its creation event names them)."""
    session.add_all(RoleGrant(user_id=user.id, role=role, granted_at=at, granted_by=actor,
                              grant_reason="roles given when the user was created")
                    for role in user.roles)
    session.flush()


def grant(session: Session, *, user: User, role: str, actor: str, reason: str,
          change_id: str | None = None, approved_by: str | None = None) -> RoleGrant:
    """Grant ``role`` to ``user`` now; refuses a role the user holds already."""
    if role in user.roles:
        raise RoleChangeError(f"{user.name} holds the role {role} already.")
    now = datetime.now(UTC)
    row = RoleGrant(user_id=user.id, role=role, granted_at=now, granted_by=actor,
                    grant_reason=reason, change_id=change_id)
    session.add(row)
    user.roles = sorted({*user.roles, role})
    session.flush()
    approval = f", approved by {approved_by} (change {change_id})" if approved_by else ""
    audit.append(session, [audit.NewEvent(
        actor=approved_by or actor, action="role.granted", subject=user.id,
        message=f"Role {role} granted to {user.name} by {actor}{approval}: {reason}",
        data={"role": role, "granted_by": actor, "reason": reason, "change_id": change_id,
              "approved_by": approved_by, "after": {"roles": user.roles}})])
    return row


def remove(session: Session, *, user: User, role: str, actor: str, reason: str) -> RoleGrant:
    """End ``user``'s holding of ``role`` now (the row stays, dated)."""
    row = session.scalars(select(RoleGrant).where(
        RoleGrant.user_id == user.id, RoleGrant.role == role, RoleGrant.removed_at.is_(None))
        .order_by(RoleGrant.granted_at.desc())).first()
    if role not in user.roles or row is None:
        raise RoleChangeError(f"{user.name} does not hold the role {role}.")
    row.removed_at, row.removed_by, row.removal_reason = datetime.now(UTC), actor, reason
    user.roles = sorted(set(user.roles) - {role})
    session.flush()
    audit.append(session, [audit.NewEvent(
        actor=actor, action="role.removed", subject=user.id,
        message=f"Role {role} removed from {user.name} by {actor}: {reason}",
        data={"role": role, "removed_by": actor, "reason": reason,
              "after": {"roles": user.roles}})])
    return row


def history(session: Session, user_id: str) -> list[RoleGrant]:
    """Every grant of the user's, oldest first."""
    return list(session.scalars(select(RoleGrant).where(RoleGrant.user_id == user_id)
                                .order_by(RoleGrant.granted_at, RoleGrant.id)))


def periods(session: Session, user_ids: Iterable[str]) -> dict[str, list[Held]]:
    """The periods each user held each role (one query), for judging past decisions."""
    ids = sorted({u for u in user_ids if u})
    found: dict[str, list[Held]] = defaultdict(list)
    if not ids:
        return found
    for uid, role, since, until in session.execute(
            select(RoleGrant.user_id, RoleGrant.role, RoleGrant.granted_at, RoleGrant.removed_at)
            .where(RoleGrant.user_id.in_(ids))):
        found[uid].append(Held(role, since, until))
    return found


def held_at(held: Mapping[str, Sequence[Held]], user_id: str, at: datetime | None) -> list[str]:
    """The roles ``user_id`` held at ``at`` (none at an unknown time)."""
    if at is None:
        return []
    return sorted({h.role for h in held.get(user_id, ()) if h.covers(at)})
