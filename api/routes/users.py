"""Users, roles and delegations (admin; a user may delegate their own authority)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

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
    TokenCreate,
    TokenIssued,
    TokenList,
    TokenOut,
    TokenReissue,
    UserCreate,
    UserCreated,
    UserDetail,
    UserOut,
)
from config.settings import Settings
from db import roles as role_history
from db import tokens, users
from db.models import ApiToken, Change, RoleGrant, User
from db.users import Principal

router = APIRouter(prefix="/api/v1/users", tags=["users"])


def _out(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "roles": user.roles,
            "slack_user_id": user.slack_user_id}


@router.post("", status_code=201, response_model=UserCreated)
def create_user(body: UserCreate, principal: AdminDep, session: SessionDep,
                settings: SettingsDep) -> Any:
    if users.email_taken(session, body.email):
        raise AppError("validation_error", f"A user with email {body.email} exists already.",
                       [{"field": "email", "message": "already in use"}])
    if body.slack_user_id and users.slack_id_taken(session, body.slack_user_id):
        raise AppError("validation_error", f"Slack user {body.slack_user_id} is already linked "
                       "to another user.", [{"field": "slack_user_id", "message": "in use"}])
    if body.oidc_subject and users.subject_taken(session, body.oidc_subject):
        raise AppError("validation_error", f"The identity {body.oidc_subject} is already "
                       "linked to another user.",
                       [{"field": "oidc_subject", "message": "in use"}])
    user, token = users.create_user(session, name=body.name, email=body.email,
                                    roles=body.roles, slack_user_id=body.slack_user_id,
                                    created_by=principal.id,
                                    token_lifetime=settings.token_lifetime,
                                    oidc_subject=body.oidc_subject)
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


def _token(row: ApiToken) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "created_at": row.created_at,
            "created_by": row.created_by, "expires_at": row.expires_at,
            "last_used_at": row.last_used_at, "revoked_at": row.revoked_at,
            "revoked_by": row.revoked_by}


def _token_holder(session: Session, principal: Principal, user_id: str, *,
                  readers: tuple[str, ...] = ("admin",)) -> User:
    """The user whose tokens are managed: the caller themselves, or anyone for ``readers``."""
    if principal.id != user_id and not principal.has(*readers):
        raise AppError("forbidden", "Only an admin or the user themselves can manage a user's "
                       "API tokens.")
    user = session.get(User, user_id)
    if user is None:
        raise AppError("not_found", f"There is no user {user_id}.")
    if not user.active:
        raise AppError("wrong_state", f"User {user.name} is inactive.")
    return user


def _lifetime(days: int | None, settings: Settings) -> timedelta | None:
    return timedelta(days=days) if days else settings.token_lifetime


@router.get("/{user_id}/tokens", response_model=TokenList)
def list_tokens(user_id: str, principal: ReaderDep, session: ReadSessionDep) -> Any:
    """Newest first, revoked ones too (their dates are evidence); never the secrets."""
    _token_holder(session, principal, user_id, readers=("admin", "auditor"))
    return {"items": [_token(r) for r in tokens.listing(session, user_id)]}


@router.post("/{user_id}/tokens", status_code=201, response_model=TokenIssued)
def issue_token(user_id: str, body: TokenCreate, principal: WriterDep, session: SessionDep,
                settings: SettingsDep) -> Any:
    user = _token_holder(session, principal, user_id)
    row, secret = tokens.issue(session, user=user, name=body.name, actor=principal.id,
                               now=datetime.now(UTC),
                               lifetime=_lifetime(body.expires_in_days, settings))
    return {**_token(row), "token": secret}


@router.post("/{user_id}/tokens/{token_id}/reissue", status_code=201,
             response_model=TokenIssued)
def reissue_token(user_id: str, token_id: str, principal: WriterDep, session: SessionDep,
                  settings: SettingsDep, body: TokenReissue | None = None) -> Any:
    """A new token of the same name; the old one is revoked at once (lost, leaked, or
    expiring)."""
    user = _token_holder(session, principal, user_id)
    try:
        row, secret = tokens.reissue(
            session, user=user, token_id=token_id, actor=principal.id, now=datetime.now(UTC),
            lifetime=_lifetime(body.expires_in_days if body else None, settings))
    except tokens.TokenError as exc:
        raise AppError("not_found", str(exc)) from None
    return {**_token(row), "token": secret}


@router.delete("/{user_id}/tokens/{token_id}", response_model=TokenOut)
def revoke_token(user_id: str, token_id: str, principal: WriterDep,
                 session: SessionDep) -> Any:
    user = _token_holder(session, principal, user_id)
    try:
        row = tokens.revoke(session, user=user, token_id=token_id, actor=principal.id,
                            now=datetime.now(UTC))
    except tokens.TokenRevoked as exc:
        raise AppError("wrong_state", str(exc)) from None
    except tokens.TokenError as exc:
        raise AppError("not_found", str(exc)) from None
    return _token(row)


@router.delete("/{user_id}/sessions")
def end_sessions(user_id: str, principal: WriterDep, session: SessionDep,
                 reason: str = Query("ended by an admin", min_length=3, max_length=200)
                 ) -> dict[str, int]:
    """Sign the user out of every browser (an admin, or the user: "sign out everywhere")."""
    if principal.id != user_id and not principal.has("admin"):
        raise AppError("forbidden", "Only an admin or the user themselves can end a user's "
                       "web sessions.")
    return {"ended": access.end_sessions(session, user_id=user_id, actor=principal.id,
                                         reason=reason)}
