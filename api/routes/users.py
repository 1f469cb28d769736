"""Users, roles and delegations (admin; a user may delegate their own authority)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import AdminDep, ReaderDep, SessionDep, WriterDep
from api.errors import AppError
from api.schemas import DelegationCreate, DelegationOut, UserCreate, UserCreated, UserOut
from db import users
from db.models import User

router = APIRouter(prefix="/api/v1/users", tags=["users"])


def _out(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "roles": user.roles,
            "slack_user_id": user.slack_user_id}


@router.post("", status_code=201, response_model=UserCreated)
def create_user(body: UserCreate, principal: AdminDep, session: SessionDep) -> Any:
    if users.email_taken(session, body.email):
        raise AppError("validation_error", f"A user with email {body.email} exists already.",
                       [{"field": "email", "message": "already in use"}])
    if body.slack_user_id and users.slack_id_taken(session, body.slack_user_id):
        raise AppError("validation_error", f"Slack user {body.slack_user_id} is already linked "
                       "to another user.", [{"field": "slack_user_id", "message": "in use"}])
    user, token = users.create_user(session, name=body.name, email=body.email,
                                    roles=body.roles, slack_user_id=body.slack_user_id,
                                    created_by=principal.id)
    return {**_out(user), "token": token}


@router.get("/me", response_model=UserOut)
def me(principal: ReaderDep) -> Any:
    return {"id": principal.id, "name": principal.name, "email": "", "roles":
            list(principal.roles), "slack_user_id": principal.slack_user_id}


@router.post("/{user_id}/delegations", status_code=201, response_model=DelegationOut)
def delegate(user_id: str, body: DelegationCreate, principal: WriterDep,
             session: SessionDep) -> Any:
    if principal.id != user_id and not principal.has("admin"):
        raise AppError("forbidden", "Only an admin or the user themselves can delegate that "
                       "user's approval authority.")
    if session.get(User, user_id) is None:
        raise AppError("not_found", f"There is no user {user_id}.")
    if session.get(User, body.delegate_id) is None:
        raise AppError("validation_error", f"delegate_id {body.delegate_id} is not a user.",
                       [{"field": "delegate_id", "message": "unknown user"}])
    if body.delegate_id == user_id:
        raise AppError("validation_error", "A user cannot delegate to themselves.",
                       [{"field": "delegate_id", "message": "same as the user"}])
    if body.ends_at <= body.starts_at:
        raise AppError("validation_error", "ends_at must be after starts_at.",
                       [{"field": "ends_at", "message": "not after starts_at"}])
    row = users.add_delegation(session, user_id=user_id, delegate_id=body.delegate_id,
                               starts_at=body.starts_at, ends_at=body.ends_at,
                               created_by=principal.id)
    return {"id": row.id, "user_id": row.user_id, "delegate_id": row.delegate_id,
            "starts_at": row.starts_at, "ends_at": row.ends_at}
