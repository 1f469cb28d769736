"""Delegations of approval authority: given by a user (or an admin for them), ended early
by the same, read by them, the delegate, admins and auditors. The API routes and the web
pages both call these; the decisions themselves read delegations in ``api.commands.reads``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from api.errors import AppError
from db import delegations, users
from db.delegations import Delegations
from db.models import Delegation, User
from db.users import Principal

__all__ = ["delegate", "delegation_out", "end", "listing"]


def delegation_out(row: Delegation, *, now: datetime | None = None) -> dict[str, Any]:
    """A delegation as the API and the pages show it, with whether it is in force now."""
    now = now or datetime.now(UTC)
    state = ("ended" if row.ends_at <= max(now, row.starts_at)
             else "upcoming" if now < row.starts_at else "active")
    return {"id": row.id, "user_id": row.user_id, "delegate_id": row.delegate_id,
            "starts_at": row.starts_at, "ends_at": row.ends_at, "created_by": row.created_by,
            "created_at": row.created_at, "state": state}


def _may_change(actor: Principal, user_id: str) -> None:
    if actor.id != user_id and not actor.has("admin"):
        raise AppError("forbidden", "Only an admin or the user themselves can delegate that "
                       "user's approval authority, or end a delegation of it.")


def _user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise AppError("not_found", f"There is no user {user_id}.")
    return user


def delegate(session: Session, *, actor: Principal, user_id: str, delegate_id: str,
             starts_at: datetime, ends_at: datetime) -> Delegation:
    """``delegate_id`` may approve in ``user_id``'s place in ``[starts_at, ends_at)``."""
    _may_change(actor, user_id)
    _user(session, user_id)
    if session.get(User, delegate_id) is None:
        raise AppError("validation_error", f"delegate_id {delegate_id} is not a user.",
                       [{"field": "delegate_id", "message": "unknown user"}])
    if delegate_id == user_id:
        raise AppError("validation_error", "A user cannot delegate to themselves.",
                       [{"field": "delegate_id", "message": "same as the user"}])
    if ends_at <= starts_at:
        raise AppError("validation_error", "ends_at must be after starts_at.",
                       [{"field": "ends_at", "message": "not after starts_at"}])
    return users.add_delegation(session, user_id=user_id, delegate_id=delegate_id,
                                starts_at=starts_at, ends_at=ends_at, created_by=actor.id)


def end(session: Session, *, actor: Principal, user_id: str, delegation_id: int,
        reason: str) -> Delegation:
    """End the delegation now (audited with the reason): the delegate's next decision for
    ``user_id`` is refused. One that has ended already is a 409."""
    _may_change(actor, user_id)
    _user(session, user_id)
    try:
        return delegations.end(session, user_id=user_id, delegation_id=delegation_id,
                               actor=actor.id, reason=reason, now=datetime.now(UTC))
    except delegations.DelegationOver as exc:
        raise AppError("wrong_state", str(exc)) from None
    except delegations.DelegationError as exc:
        raise AppError("not_found", str(exc)) from None


def listing(session: Session, *, actor: Principal, user_id: str) -> Delegations:
    """Given and received, in force or not (an admin, an auditor, or the user)."""
    if actor.id != user_id and not actor.has("admin", "auditor"):
        raise AppError("forbidden", "Only an admin, an auditor or the user themselves can see "
                       "a user's delegations.")
    _user(session, user_id)
    return delegations.of_user(session, user_id)
