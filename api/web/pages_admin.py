"""Access administration pages: users with their roles and role history (and, from
``pages_tokens`` and ``pages_delegations``, their tokens and delegations), granting and
removing roles, four-eyes changes waiting for a second admin, the policy's versions side by
side, and the auditor's access review.

Admins change things here; auditors read the same pages (the forms are not shown to them and
their posts are refused). Every change runs the command of ``api.commands.access`` — the one
the API runs — so four eyes, refusals and audit events are the same on both.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.commands import access
from api.deps import SettingsDep, in_db
from api.errors import AppError
from api.schemas import RoleGrantIn
from api.web.admin_forms import back_to, refusal
from api.web.auth import Posted, form_user, page_user
from api.web.pages_delegations import delegations_context
from api.web.pages_tokens import tokens_context
from api.web.render import PageRoute, render
from approvals.access_conflicts import conflicts
from approvals.policy import parse_policy
from approvals.policy_diff import diff
from db import changes, policies
from db import roles as role_history
from db.access_review import review
from db.models import Change, User
from db.users import Principal, user_names

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Reader = Annotated[Principal, Depends(page_user("admin", "auditor"))]
AdminForm = Annotated[Posted, Depends(form_user("admin"))]


def _users(session: Session) -> dict[str, Any]:
    policy = parse_policy(policies.current(session).document)
    rows = list(session.scalars(select(User).order_by(User.name, User.id)))
    return {"users": [{"user": u, "conflicts": conflicts(u.roles, policy)} for u in rows],
            "pending": changes.listing(session, status="proposed")}


@router.get("/admin/users")
async def users_page(request: Request, _: Reader, settings: SettingsDep) -> Response:
    ctx = await in_db(settings, _users, readonly=True)
    return render(request, "admin_users.html", {"title": "Users and roles", **ctx})


def _user(session: Session, *, user_id: str, actor: Principal) -> dict[str, Any]:
    user = session.get(User, user_id)
    if user is None:
        raise AppError("not_found", f"There is no user {user_id}.")
    access_now = {**tokens_context(session, actor=actor, user_id=user_id),
                  **delegations_context(session, actor=actor, user_id=user_id)}
    history = role_history.history(session, user_id)
    people = {h.granted_by for h in history} | {h.removed_by or "" for h in history}
    pending = [c for c in changes.listing(session, status="proposed")
               if c.kind == "role_grant" and c.payload.get("user_id") == user_id]
    policy = parse_policy(policies.current(session).document)
    return {"subject": user, "history": history, "names": user_names(session, people),
            "pending": pending, "conflicts": conflicts(user.roles, policy), **access_now}


@router.get("/admin/users/{user_id}")
async def user_page(user_id: str, request: Request, principal: Reader,
                    settings: SettingsDep) -> Response:
    ctx = await in_db(settings, _user, readonly=True, user_id=user_id, actor=principal)
    return render(request, "admin_user.html", {"title": ctx["subject"].name,
                                               "slack": settings.slack_enabled, **ctx})


@router.post("/admin/users/{user_id}/roles")
async def grant(user_id: str, posted: AdminForm, settings: SettingsDep) -> Response:
    back = f"/admin/users/{user_id}"
    try:
        body = RoleGrantIn.model_validate({"role": posted.text("role"),
                                           "reason": posted.text("reason")})
        row = await in_db(settings, access.grant_role, settings=settings, user_id=user_id,
                          role=body.role, actor=posted.principal.id, reason=body.reason)
    except (AppError, ValidationError) as exc:
        if isinstance(exc, AppError) and exc.code == "not_found":
            raise
        return back_to(back, "Not granted: " + refusal(exc), kind="error")
    if isinstance(row, Change):
        return back_to(back, f"Proposed as change {row.id}: {body.role} is granted when a "
                     "second admin approves it.")
    return back_to(back, f"Role {body.role} granted.")


@router.post("/admin/users/{user_id}/roles/remove")
async def remove(user_id: str, posted: AdminForm, settings: SettingsDep) -> Response:
    back, role, reason = f"/admin/users/{user_id}", posted.text("role"), posted.text("reason")
    if len(reason) < 3:
        return back_to(back, f"Not removed: say why {role or 'the role'} is removed (at least "
                     "3 characters).", kind="error")
    try:
        await in_db(settings, access.remove_role, user_id=user_id, role=role,
                    actor=posted.principal.id, reason=reason[:500])
    except AppError as exc:
        if exc.code == "not_found" and role:
            return back_to(back, "Not removed: " + exc.message, kind="error")
        raise
    return back_to(back, f"Role {role} removed.")


def _changes(session: Session) -> dict[str, Any]:
    rows = changes.listing(session, status=None)
    people = {c.proposed_by for c in rows} | {c.decided_by or "" for c in rows}
    people |= {str(c.payload.get("user_id", "")) for c in rows}
    return {"pending": [c for c in rows if c.status == "proposed"],
            "decided": [c for c in rows if c.status != "proposed"][:100],
            "names": user_names(session, people)}


@router.get("/admin/changes")
async def changes_page(request: Request, _: Reader, settings: SettingsDep) -> Response:
    ctx = await in_db(settings, _changes, readonly=True)
    return render(request, "admin_changes.html", {"title": "Changes waiting for approval",
                                                  **ctx})


@router.post("/admin/changes/{change_id}/{decision}")
async def decide(change_id: str, decision: str, posted: AdminForm,
                 settings: SettingsDep) -> Response:
    if decision not in ("approve", "reject"):
        raise AppError("not_found", f"There is no action {decision} on a change.")
    try:
        await in_db(settings, access.decide_change, change_id=change_id,
                    actor=posted.principal.id, approve=decision == "approve",
                    comment=posted.text("comment")[:1000] or None)
    except AppError as exc:
        if exc.code == "not_found":
            raise
        return back_to("/admin/changes", f"Change {change_id} not {decision}d: {exc.message}",
                     kind="error")
    return back_to("/admin/changes", f"Change {change_id} {decision}d.")


def _policy(session: Session) -> dict[str, Any]:
    versions = policies.history(session)  # newest first
    compared = [{"row": row, "diff": diff(older.document, row.document)}
                for row, older in pairwise(versions)]
    pending = [c for c in changes.listing(session, status="proposed") if c.kind == "policy"]
    return {"current": versions[0], "compared": compared, "first": versions[-1],
            "pending": pending,
            "names": user_names(session, {v.created_by for v in versions}
                                | {c.proposed_by for c in pending})}


@router.get("/admin/policy")
async def policy_page(request: Request, _: Reader, settings: SettingsDep) -> Response:
    ctx = await in_db(settings, _policy, readonly=True)
    return render(request, "admin_policy.html", {"title": "Approval policy", **ctx})


@router.get("/audit/access-review")
async def access_review_page(request: Request, _: Reader, settings: SettingsDep) -> Response:
    rows = await in_db(settings, review, readonly=True)
    return render(request, "access_review.html", {"title": "Access review", "rows": rows})
