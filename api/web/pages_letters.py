"""Letters to billing contacts on a page (``/admin/letters``): how each kind of letter is
worded now, the fields its template may use, and — for admins — a form to reword it or go back
to the built-in wording, through the same commands as the API (``api.commands.letters``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from api.commands import letters as commands
from api.deps import SettingsDep, in_db
from api.errors import AppError
from api.web.admin_forms import back_to
from api.web.auth import Posted, form_user, page_user
from api.web.render import PageRoute, render
from db.users import Principal
from domain.letters import KINDS, MAX_TEMPLATE

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Reader = Annotated[Principal, Depends(page_user("admin", "auditor"))]
AdminForm = Annotated[Posted, Depends(form_user("admin"))]
PAGE = "/admin/letters"


def _all(session: Session) -> list[dict[str, Any]]:
    return [commands.template_out(session, kind) for kind in KINDS]


async def _page(request: Request, settings: SettingsDep, *, error: str | None = None,
                typed: dict[str, str] | None = None, status: int = 200) -> Response:
    items = await in_db(settings, _all, readonly=True)
    if typed is not None:  # shown again as typed, so nothing is lost to one mistake
        for item in items:
            if item["kind"] == typed["kind"]:
                item.update(subject=typed["subject"], body=typed["body"], error=error)
    return render(request, "admin_letters.html", {
        "title": "Letters", "items": items, "mail": settings.mail_enabled,
        "max_template": MAX_TEMPLATE}, status=status)


@router.get(PAGE)
async def letters_page(request: Request, _: Reader, settings: SettingsDep) -> Response:
    return await _page(request, settings)


@router.post(PAGE + "/{kind}")
async def save(kind: str, request: Request, posted: AdminForm,
               settings: SettingsDep) -> Response:
    subject, body = posted.text("subject"), posted.form.get("body", "")
    body = body if isinstance(body, str) else ""
    try:
        if posted.text("action") == "reset":
            await in_db(settings, commands.reset_template, kind=kind, actor=posted.principal.id)
            return back_to(PAGE, f"The {kind} letter is written with the built-in wording.")
        await in_db(settings, commands.set_template, kind=kind, subject=subject,
                    body=body[:MAX_TEMPLATE + 1], actor=posted.principal.id)
    except AppError as exc:
        return await _page(request, settings, error="Not saved: " + exc.message,
                           typed={"kind": kind, "subject": subject, "body": body},
                           status=exc.status)
    return back_to(PAGE, f"The {kind} letter is reworded; letters written from now on use it.")
