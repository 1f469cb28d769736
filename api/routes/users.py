"""Users, roles, API tokens, delegations and Slack links (admin; a user manages their own
tokens, delegates their own authority and links their own Slack account). Thin adapters over
``api.commands`` (access, tokens, delegations, users)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.commands import access
from api.commands import delegations as delegation_commands
from api.commands import tokens as token_commands
from api.commands import users as user_commands
from api.deps import (
    AdminDep,
    ReaderDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    WriterDep,
)
from api.errors import AppError, ErrorBody
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
    UserDetail,
    UserOut,
)
from api.schemas_users import DelegationList, DelegationRecord, SlackLinkOut, UserCreatedLinked
from db import roles as role_history
from db.models import Change, RoleGrant, User

router = APIRouter(prefix="/api/v1/users", tags=["users"])
DelegationId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("", status_code=201, response_model=UserCreatedLinked)
async def create_user(body: UserCreate, principal: AdminDep, settings: SettingsDep) -> Any:
    """Without a ``slack_user_id`` and with Slack configured, the user's email is looked up in
    Slack and the account found is linked; ``slack_link`` says whether, and if not, why. The
    user is created whatever Slack answers."""
    out, token, link = await user_commands.create_user(settings, body=body, actor=principal.id)
    return {**out, "token": token, "slack_link": link.out()}


@router.post("/{user_id}/slack-link", response_model=SlackLinkOut,
             responses={502: {"model": ErrorBody, "description": "slack_unavailable: the "
                              "Slack bot may not look up emails, or Slack did not answer"}})
async def link_slack(user_id: str, principal: WriterDep, settings: SettingsDep) -> Any:
    """Look the user's email up in Slack now and link the account found (an admin, or the
    user): for users created before Slack was linked, or whose Slack account came later."""
    link = await user_commands.link_slack(settings, actor=principal, user_id=user_id)
    return link.out()


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
    return {**user_commands.user_out(user), "active": user.active, "created_at": user.created_at,
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
    return delegation_commands.delegation_out(delegation_commands.delegate(
        session, actor=principal, user_id=user_id, delegate_id=body.delegate_id,
        starts_at=body.starts_at, ends_at=body.ends_at))


@router.get("/{user_id}/delegations", response_model=DelegationList)
def list_delegations(user_id: str, principal: ReaderDep, session: ReadSessionDep) -> Any:
    """The delegations the user gave and received, in force or not (an admin, an auditor, or
    the user)."""
    found = delegation_commands.listing(session, actor=principal, user_id=user_id)
    return {"given": [delegation_commands.delegation_out(d) for d in found.given],
            "received": [delegation_commands.delegation_out(d) for d in found.received]}


@router.delete("/{user_id}/delegations/{delegation_id}", response_model=DelegationRecord)
def end_delegation(user_id: str, delegation_id: DelegationId, principal: WriterDep,
                   session: SessionDep,
                   reason: str = Query(..., min_length=3, max_length=500,
                                       description="Why the delegation ends early (audited)")
                   ) -> Any:
    """End the delegation now (an admin, or the user who gave it): the delegate's next
    decision in the user's place is refused. 409 if it has ended already."""
    return delegation_commands.delegation_out(delegation_commands.end(
        session, actor=principal, user_id=user_id, delegation_id=delegation_id,
        reason=reason))


@router.get("/{user_id}/tokens", response_model=TokenList)
def list_tokens(user_id: str, principal: ReaderDep, session: ReadSessionDep) -> Any:
    """Newest first, revoked ones too (their dates are evidence); never the secrets."""
    rows = token_commands.listing(session, actor=principal, user_id=user_id)
    return {"items": [token_commands.token_out(r) for r in rows]}


@router.post("/{user_id}/tokens", status_code=201, response_model=TokenIssued)
def issue_token(user_id: str, body: TokenCreate, principal: WriterDep, session: SessionDep,
                settings: SettingsDep) -> Any:
    row, secret = token_commands.issue(session, settings=settings, actor=principal,
                                       user_id=user_id, name=body.name,
                                       expires_in_days=body.expires_in_days)
    return {**token_commands.token_out(row), "token": secret}


@router.post("/{user_id}/tokens/{token_id}/reissue", status_code=201,
             response_model=TokenIssued)
def reissue_token(user_id: str, token_id: str, principal: WriterDep, session: SessionDep,
                  settings: SettingsDep, body: TokenReissue | None = None) -> Any:
    """A new token of the same name; the old one is revoked at once (lost, leaked, or
    expiring)."""
    row, secret = token_commands.reissue(
        session, settings=settings, actor=principal, user_id=user_id, token_id=token_id,
        expires_in_days=body.expires_in_days if body else None)
    return {**token_commands.token_out(row), "token": secret}


@router.delete("/{user_id}/tokens/{token_id}", response_model=TokenOut)
def revoke_token(user_id: str, token_id: str, principal: WriterDep,
                 session: SessionDep) -> Any:
    return token_commands.token_out(token_commands.revoke(
        session, actor=principal, user_id=user_id, token_id=token_id))


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
