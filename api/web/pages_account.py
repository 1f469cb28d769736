"""A person's own access (``/account``): their API tokens, the delegations they gave and
received, their Slack link; and the admin's buttons on a user's page to link the user's
Slack account by email and to sign the user out of every browser.

Each action runs the API's command (``api.commands.users.link_slack``,
``api.commands.access.end_sessions``); the forms of tokens and delegations are in
``pages_tokens`` and ``pages_delegations``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from api.commands import access
from api.commands import users as user_commands
from api.deps import ANY_ROLE, ANY_WRITER, SettingsDep, in_db
from api.errors import AppError
from api.web.admin_forms import back_to
from api.web.auth import Posted, form_user, page_user
from api.web.pages_delegations import delegations_context
from api.web.pages_tokens import tokens_context
from api.web.render import PageRoute, may_see, render
from db.models import User
from db.users import Principal

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Anyone = Annotated[Principal, Depends(page_user(ANY_ROLE))]
AdminForm = Annotated[Posted, Depends(form_user("admin"))]
WriterForm = Annotated[Posted, Depends(form_user(ANY_WRITER))]


def _account(session: Session, *, actor: Principal) -> dict[str, Any]:
    subject = session.get(User, actor.id)
    if subject is None:  # the bootstrap admin has no user record
        return {"subject": None}
    return {"subject": subject, **tokens_context(session, actor=actor, user_id=actor.id),
            **delegations_context(session, actor=actor, user_id=actor.id)}


@router.get("/account")
async def account_page(request: Request, principal: Anyone,
                       settings: SettingsDep) -> Response:
    ctx = await in_db(settings, _account, readonly=True, actor=principal)
    return render(request, "account.html", {
        "title": "My access", "slack": settings.slack_enabled,
        "can_change": may_see(principal, (ANY_WRITER,)), **ctx})


async def _link(posted: Posted, settings: SettingsDep, *, user_id: str,
                back: str) -> Response:
    try:
        link = await user_commands.link_slack(settings, actor=posted.principal,
                                              user_id=user_id)
    except AppError as exc:
        if exc.code in ("not_found", "forbidden"):
            raise
        return back_to(back, "Slack not linked: " + exc.message, kind="error")
    return back_to(back, f"Linked to Slack user {link.slack_user_id}, found by email.")


@router.post("/account/slack-link")
async def link_own(posted: WriterForm, settings: SettingsDep) -> Response:
    return await _link(posted, settings, user_id=posted.principal.id, back="/account")


@router.post("/admin/users/{user_id}/slack-link")
async def link_for(user_id: str, posted: AdminForm, settings: SettingsDep) -> Response:
    return await _link(posted, settings, user_id=user_id, back=f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/sessions/end")
async def sign_out_everywhere(user_id: str, posted: AdminForm,
                              settings: SettingsDep) -> Response:
    back, reason = f"/admin/users/{user_id}", posted.text("reason")
    if len(reason) < 3:
        return back_to(back, "Not signed out: say why (at least 3 characters).", kind="error")
    ended = await in_db(settings, access.end_sessions, user_id=user_id,
                        actor=posted.principal.id, reason=reason[:200])
    if user_id == posted.principal.id:  # this browser's own session has ended too
        return back_to("/login", "You are signed out of every browser.")
    return back_to(back, f"Signed out everywhere: {ended} web session"
                   f"{'' if ended == 1 else 's'} ended. API tokens still work; revoke them "
                   "below.")
