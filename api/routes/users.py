"""Users, roles and delegations (admin; a user may delegate their own authority)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.commands import access
from api.deps import (
    AdminDep,
    ReaderDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    WriterDep,
)
from api.errors import AppError
from api.schemas import (
    ChangeOut,
    DelegationCreate,
    DelegationOut,
    RoleGrantIn,
    RoleHeldOut,
    UserCreate,
    UserCreated,
    UserDetail,
    UserOut,
)
from db import roles as role_history
from db import users
from db.models import Change, RoleGrant, User

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


def _held(row: RoleGrant) -> dict[str, Any]:
    return {"role": row.role, "granted_at": row.granted_at, "granted_by": row.granted_by,
            "grant_reason": row.grant_reason, "change_id": row.change_id,
            "removed_at": row.removed_at, "removed_by": row.removed_by,
            "removal_reason": row.removal_reason}


@router.get("/{user_id}", response_model=UserDetail)
def get_user(user_id: str, principal: ReaderDep, session: ReadSessionDep) -> Any:
    """A user's roles and every grant and removal of them, effective-dated (an admin or an
    auditor sees anyone's; a user sees their own)."""
    if principal.id != user_id and not principal.has("admin", "auditor"):
        raise AppError("forbidden", "Only an admin, an auditor or the user themselves can see "
                       "a user's roles and their history.")
    user = session.get(User, user_id)
    if user is None:
        raise AppError("not_found", f"There is no user {user_id}.")
    return {**_out(user), "active": user.active, "created_at": user.created_at,
            "history": [_held(r) for r in role_history.history(session, user_id)]}


@router.post("/{user_id}/roles", status_code=201, response_model=RoleHeldOut,
             responses={202: {"model": ChangeOut, "description": "With DISPUTEFLOW_FOUR_EYES "
                              "and an approval role: proposed, waiting for a second admin"}})
def grant_role(user_id: str, body: RoleGrantIn, principal: AdminDep, session: SessionDep,
               settings: SettingsDep) -> Any:
    row = access.grant_role(session, settings=settings, user_id=user_id, role=body.role,
                            actor=principal.id, reason=body.reason)
    if isinstance(row, Change):
        return JSONResponse(jsonable_encoder(access.change_out(row)), status_code=202)
    return _held(row)


@router.delete("/{user_id}/roles/{role}", response_model=RoleHeldOut)
def remove_role(user_id: str, role: str, principal: AdminDep, session: SessionDep,
                reason: str = Query(..., min_length=3, max_length=500,
                                    description="Why the role is removed (kept in the history)")
                ) -> Any:
    return _held(access.remove_role(session, user_id=user_id, role=role, actor=principal.id,
                                    reason=reason))


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
