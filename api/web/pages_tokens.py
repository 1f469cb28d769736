"""API tokens on the pages: a user issues, reissues and revokes their own (``/account``), an
admin anyone's (the user's admin page). The commands are ``api.commands.tokens``, the API's.

A new token's secret is shown once, on the page that answers the form, with a hint to copy
it: afterwards only its name and dates are (it is stored as a hash). Auditors read tokens
and change none, their own included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.commands import tokens as token_commands
from api.deps import ANY_WRITER, SettingsDep, in_db
from api.errors import AppError
from api.schemas import TokenCreate, TokenReissue
from api.web.admin_forms import back_to, refusal
from api.web.auth import Posted, form_user
from api.web.render import PageRoute, render
from db.models import ApiToken
from db.users import Principal, user_names

__all__ = ["router", "tokens_context"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
AdminForm = Annotated[Posted, Depends(form_user("admin"))]
WriterForm = Annotated[Posted, Depends(form_user(ANY_WRITER))]


def _state(row: ApiToken, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    return "expired" if row.expires_at is not None and row.expires_at <= now else "valid"


def tokens_context(session: Session, *, actor: Principal, user_id: str) -> dict[str, Any]:
    """The user's tokens, newest first (each with its state now), with the names of who
    issued and revoked them."""
    rows = token_commands.listing(session, actor=actor, user_id=user_id)
    now = datetime.now(UTC)
    people = {r.created_by for r in rows} | {r.revoked_by or "" for r in rows}
    return {"tokens": [{**token_commands.token_out(r), "state": _state(r, now)} for r in rows],
            "token_names": user_names(session, people)}


def _days(posted: Posted) -> str | None:
    return posted.text("expires_in_days") or None


def _shown_once(request: Request, *, row: Any, secret: str, back: str, verb: str) -> Response:
    return render(request, "token_issued.html", {
        "title": f"Token {verb}", "token": token_commands.token_out(row), "secret": secret,
        "back": back, "verb": verb})


async def _issue(request: Request, posted: Posted, settings: SettingsDep, *, user_id: str,
                 back: str) -> Response:
    try:
        body = TokenCreate.model_validate({"name": posted.text("name"),
                                           "expires_in_days": _days(posted)})
        row, secret = await in_db(settings, token_commands.issue, settings=settings,
                                  actor=posted.principal, user_id=user_id, name=body.name,
                                  expires_in_days=body.expires_in_days)
    except (AppError, ValidationError) as exc:
        if isinstance(exc, AppError) and exc.code in ("not_found", "forbidden"):
            raise
        return back_to(back, "Not issued: " + refusal(exc), kind="error")
    return _shown_once(request, row=row, secret=secret, back=back, verb="issued")


async def _reissue(request: Request, posted: Posted, settings: SettingsDep, *, user_id: str,
                   token_id: str, back: str) -> Response:
    try:
        body = TokenReissue.model_validate({"expires_in_days": _days(posted)})
        row, secret = await in_db(settings, token_commands.reissue, settings=settings,
                                  actor=posted.principal, user_id=user_id, token_id=token_id,
                                  expires_in_days=body.expires_in_days)
    except (AppError, ValidationError) as exc:
        if isinstance(exc, AppError) and exc.code in ("not_found", "forbidden"):
            raise
        return back_to(back, "Not reissued: " + refusal(exc), kind="error")
    return _shown_once(request, row=row, secret=secret, back=back, verb="reissued")


async def _revoke(posted: Posted, settings: SettingsDep, *, user_id: str, token_id: str,
                  back: str) -> Response:
    try:
        row = await in_db(settings, token_commands.revoke, actor=posted.principal,
                          user_id=user_id, token_id=token_id)
    except AppError as exc:
        if exc.code in ("not_found", "forbidden"):
            raise
        return back_to(back, "Not revoked: " + exc.message, kind="error")
    return back_to(back, f"Token {row.name} ({row.id}) revoked: it no longer works.")


# -- the user's own tokens (/account) -----------------------------------------------------

@router.post("/account/tokens")
async def issue_own(request: Request, posted: WriterForm, settings: SettingsDep) -> Response:
    return await _issue(request, posted, settings, user_id=posted.principal.id,
                        back="/account")


@router.post("/account/tokens/{token_id}/reissue")
async def reissue_own(token_id: str, request: Request, posted: WriterForm,
                      settings: SettingsDep) -> Response:
    return await _reissue(request, posted, settings, user_id=posted.principal.id,
                          token_id=token_id, back="/account")


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_own(token_id: str, posted: WriterForm, settings: SettingsDep) -> Response:
    return await _revoke(posted, settings, user_id=posted.principal.id, token_id=token_id,
                         back="/account")


# -- an admin, for any user ---------------------------------------------------------------

@router.post("/admin/users/{user_id}/tokens")
async def issue_for(user_id: str, request: Request, posted: AdminForm,
                    settings: SettingsDep) -> Response:
    return await _issue(request, posted, settings, user_id=user_id,
                        back=f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/tokens/{token_id}/reissue")
async def reissue_for(user_id: str, token_id: str, request: Request, posted: AdminForm,
                      settings: SettingsDep) -> Response:
    return await _reissue(request, posted, settings, user_id=user_id, token_id=token_id,
                          back=f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/tokens/{token_id}/revoke")
async def revoke_for(user_id: str, token_id: str, posted: AdminForm,
                     settings: SettingsDep) -> Response:
    return await _revoke(posted, settings, user_id=user_id, token_id=token_id,
                         back=f"/admin/users/{user_id}")
