"""Single sign-on's group-to-role mapping on a page (``/admin/sso``): which identity-provider
groups give which roles. Admins replace it as a whole, as ``PUT /api/v1/sso/group-roles``
does and through the same command (``api.commands.access.set_group_roles``, audited with
before and after); auditors read it.

The form is one line per group, ``group: role, role``; a refusal names the line and the
group it is about.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.commands import access
from api.deps import SettingsDep, in_db
from api.errors import AppError
from api.schemas import GroupRoles
from api.web.admin_forms import back_to
from api.web.auth import Posted, form_user, page_user
from api.web.render import PageRoute, render
from approvals.policy import parse_policy
from db import policies, sso
from db.models import AuditEvent
from db.users import Principal, user_names
from domain.codes import BUILTIN_ROLES

__all__ = ["mapping_text", "parse_mapping", "router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Reader = Annotated[Principal, Depends(page_user("admin", "auditor"))]
AdminForm = Annotated[Posted, Depends(form_user("admin"))]
PAGE = "/admin/sso"
MAX_TEXT = 100_000


def mapping_text(mapping: dict[str, list[str]]) -> str:
    """The mapping as the form shows it: one ``group: role, role`` line per group."""
    return "\n".join(f"{group}: {', '.join(roles)}" for group, roles in mapping.items())


def parse_mapping(text: str) -> dict[str, list[str]]:
    """The form's lines as a mapping; a line without ``group:`` is refused by its number.
    Blank lines and lines starting with ``#`` are skipped."""
    mapping: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        group, colon, roles = line.rpartition(":")
        if not colon or not group.strip():
            raise AppError("validation_error", f"Line {number} (“{line[:80]}”): write it as "
                           "group: role, role.", [{"field": "mapping", "message":
                                                    f"line {number} has no group"}])
        names = [r.strip() for r in roles.split(",") if r.strip()]
        mapping.setdefault(group.strip(), []).extend(names)
    return mapping


def _validated(mapping: dict[str, list[str]]) -> dict[str, list[str]]:
    try:
        return GroupRoles.model_validate(mapping).root
    except ValidationError as exc:
        first = exc.errors()[0]
        where = [str(p) for p in first.get("loc", ())]
        group = where[0] if where else ""
        roles = mapping.get(group, [])
        role = (roles[int(where[1])] if len(where) > 1 and where[1].isdigit()
                and int(where[1]) < len(roles) else None)
        about = f"group {group}" + (f", role “{role}”" if role is not None else "")
        raise AppError("validation_error", f"Not a valid mapping at {about}: {first['msg']}. "
                       "Roles are lower-case words joined by _ (like billing_manager).",
                       [{"field": "mapping", "message": about}]) from None


def _page(session: Session) -> dict[str, Any]:
    mapping = sso.group_roles(session)
    last = session.scalars(select(AuditEvent).where(AuditEvent.action == "sso.group_roles_set")
                           .order_by(AuditEvent.seq.desc()).limit(1)).first()
    policy = parse_policy(policies.current(session).document)
    return {"mapping": mapping, "text": mapping_text(mapping), "last": last,
            "names": user_names(session, {last.actor} if last else set()),
            "roles": [*BUILTIN_ROLES, *sorted(policy.levels)]}


@router.get(PAGE)
async def sso_page(request: Request, _: Reader, settings: SettingsDep) -> Response:
    ctx = await in_db(settings, _page, readonly=True)
    return render(request, "admin_sso.html", {"title": "Single sign-on groups",
                                              "oidc": settings.oidc_enabled, **ctx})


@router.post(PAGE)
async def save(request: Request, posted: AdminForm, settings: SettingsDep) -> Response:
    text = posted.text("mapping")[:MAX_TEXT]
    try:
        mapping = _validated(parse_mapping(text))
        saved = await in_db(settings, access.set_group_roles, settings=settings,
                            mapping=mapping, actor=posted.principal.id)
    except AppError as exc:
        # Shown again with what was typed, so nothing is lost to one mistake.
        ctx = await in_db(settings, _page, readonly=True)
        return render(request, "admin_sso.html", {
            "title": "Single sign-on groups", "oidc": settings.oidc_enabled, **ctx,
            "text": text, "error": "Not saved: " + exc.message}, status=exc.status)
    if not isinstance(saved, dict):  # four eyes: it hands out an approval role
        return back_to("/admin/changes", f"Mapping proposed as change {saved.id}: it gives "
                       "an approval role, so it applies when a second admin approves it.")
    return back_to(PAGE, f"Mapping saved: {len(saved)} group{'' if len(saved) == 1 else 's'} "
                   "give roles. Members' roles follow at their next sign-in.")
