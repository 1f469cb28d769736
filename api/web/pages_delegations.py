"""Delegations on the pages: those a user gave and received, in force, upcoming and past;
a form to lend one's approval authority for a window and a button to end a delegation early
(the user themselves on ``/account``, an admin on the user's admin page). The commands are
``api.commands.delegations``, the API's.

The form's times are read in the policy calendar's time zone, the one every page shows
times in (and says so next to the fields).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.commands import delegations as delegation_commands
from api.deps import ANY_WRITER, SettingsDep, in_db
from api.errors import AppError
from api.schemas import DelegationCreate
from api.web.admin_forms import back_to, refusal
from api.web.auth import Posted, form_user
from api.web.render import PageRoute
from db.models import User
from db.users import Principal, user_names

__all__ = ["delegations_context", "router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
AdminForm = Annotated[Posted, Depends(form_user("admin"))]
WriterForm = Annotated[Posted, Depends(form_user(ANY_WRITER))]
DelegationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
LABELS = {"starts_at": "Starts", "ends_at": "Ends", "delegate_id": "Delegate"}


def delegations_context(session: Session, *, actor: Principal, user_id: str
                        ) -> dict[str, Any]:
    """Given and received (each with its state now), and who could be a delegate."""
    found = delegation_commands.listing(session, actor=actor, user_id=user_id)
    now = datetime.now(UTC)
    given = [delegation_commands.delegation_out(d, now=now) for d in found.given]
    received = [delegation_commands.delegation_out(d, now=now) for d in found.received]
    people = {d["delegate_id"] for d in given} | {d["user_id"] for d in received}
    people |= {d["created_by"] for d in given + received}
    candidates = session.execute(select(User.id, User.name).where(
        User.active.is_(True), User.id != user_id).order_by(User.name, User.id))
    return {"given": given, "received": received,
            "delegation_names": user_names(session, people),
            "candidates": [{"id": i, "name": n} for i, n in candidates]}


def _when(posted: Posted, name: str, zone: ZoneInfo, default: datetime | None) -> datetime:
    raw = posted.text(name)
    if not raw and default is not None:
        return default
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise AppError("validation_error", f"{LABELS[name]}: enter a date and time, like "
                       "2026-12-24 09:00.", [{"field": name, "message": "not a date and time"}]
                       ) from None
    return at if at.tzinfo else at.replace(tzinfo=zone)


def _zone(request: Request) -> ZoneInfo:
    try:
        return ZoneInfo(str(getattr(request.state, "timezone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def _delegate(request: Request, posted: Posted, settings: SettingsDep, *, user_id: str,
                    back: str) -> Response:
    zone = _zone(request)
    try:
        body = DelegationCreate.model_validate({
            "delegate_id": posted.text("delegate_id"),
            "starts_at": _when(posted, "starts_at", zone, datetime.now(UTC)),
            "ends_at": _when(posted, "ends_at", zone, None)})
        row = await in_db(settings, delegation_commands.delegate, actor=posted.principal,
                          user_id=user_id, delegate_id=body.delegate_id,
                          starts_at=body.starts_at, ends_at=body.ends_at)
    except (AppError, ValidationError) as exc:
        if isinstance(exc, AppError) and exc.code in ("not_found", "forbidden"):
            raise
        return back_to(back, "Not delegated: " + refusal(exc), kind="error")
    return back_to(back, f"Delegation {row.id} recorded: {row.delegate_id} may approve in "
                   "this user's place in that window.")


async def _end(posted: Posted, settings: SettingsDep, *, user_id: str, delegation_id: int,
               back: str) -> Response:
    reason = posted.text("reason")
    if len(reason) < 3:
        return back_to(back, f"Not ended: say why delegation {delegation_id} ends early (at "
                       "least 3 characters).", kind="error")
    try:
        await in_db(settings, delegation_commands.end, actor=posted.principal,
                    user_id=user_id, delegation_id=delegation_id, reason=reason[:500])
    except AppError as exc:
        if exc.code in ("not_found", "forbidden"):
            raise
        return back_to(back, "Not ended: " + exc.message, kind="error")
    return back_to(back, f"Delegation {delegation_id} ended: the delegate can no longer "
                   "approve in this user's place.")


# -- the user's own (/account) ------------------------------------------------------------

@router.post("/account/delegations")
async def delegate_own(request: Request, posted: WriterForm,
                       settings: SettingsDep) -> Response:
    return await _delegate(request, posted, settings, user_id=posted.principal.id,
                           back="/account")


@router.post("/account/delegations/{delegation_id}/end")
async def end_own(delegation_id: DelegationId, posted: WriterForm,
                  settings: SettingsDep) -> Response:
    return await _end(posted, settings, user_id=posted.principal.id,
                      delegation_id=delegation_id, back="/account")


# -- an admin, for any user ---------------------------------------------------------------

@router.post("/admin/users/{user_id}/delegations")
async def delegate_for(user_id: str, request: Request, posted: AdminForm,
                       settings: SettingsDep) -> Response:
    return await _delegate(request, posted, settings, user_id=user_id,
                           back=f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/delegations/{delegation_id}/end")
async def end_for(user_id: str, delegation_id: DelegationId, posted: AdminForm,
                  settings: SettingsDep) -> Response:
    return await _end(posted, settings, user_id=user_id, delegation_id=delegation_id,
                      back=f"/admin/users/{user_id}")
