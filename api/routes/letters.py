"""Letters to billing contacts: their wording (admins change it, auditors read it) and what
each dispute's contact was sent."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.commands import letters as commands
from api.deps import AdminDep, AuditorDep, ReaderDep, ReadSessionDep, SessionDep
from api.schemas_letters import LetterList, TemplateIn, TemplateList, TemplateOut
from domain.letters import KINDS

router = APIRouter(tags=["letters"])


@router.get("/api/v1/letters/templates", response_model=TemplateList)
def templates(_: AuditorDep, session: ReadSessionDep) -> Any:
    """Each kind of letter as it is written now, with the fields its template may use."""
    return {"items": [commands.template_out(session, kind) for kind in KINDS]}


@router.put("/api/v1/letters/templates/{kind}", response_model=TemplateOut)
def set_template(kind: str, body: TemplateIn, principal: AdminDep, session: SessionDep) -> Any:
    """Reword a kind of letter (Jinja2 text; 422 if it does not render with that letter's
    fields); letters written from now on use it."""
    return commands.set_template(session, kind=kind, subject=body.subject, body=body.body,
                                 actor=principal.id)


@router.delete("/api/v1/letters/templates/{kind}", response_model=TemplateOut)
def reset_template(kind: str, principal: AdminDep, session: SessionDep) -> Any:
    """Back to the built-in wording."""
    return commands.reset_template(session, kind=kind, actor=principal.id)


@router.get("/api/v1/disputes/{dispute_id}/letters", response_model=LetterList)
def dispute_letters(dispute_id: str, _: ReaderDep, session: ReadSessionDep) -> Any:
    """What the account's billing contact was sent about this dispute, and what waits."""
    return {"items": commands.of_dispute(session, dispute_id)}
