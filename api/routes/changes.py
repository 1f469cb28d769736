"""Four-eyes changes: what one admin proposed and a second approves or rejects."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query

from api.commands import access
from api.deps import AdminDep, AuditorDep, ReadSessionDep, SessionDep
from api.errors import AppError
from api.schemas import ChangeDecisionIn, ChangeList, ChangeOut
from db import changes

router = APIRouter(prefix="/api/v1/changes", tags=["changes"])


@router.get("", response_model=ChangeList)
def list_changes(_: AuditorDep, session: ReadSessionDep,
                 status: Literal["proposed", "approved", "rejected"] | None = Query(None)
                 ) -> Any:
    """Newest first; auditors read them as evidence of who proposed and who approved."""
    return {"items": [access.change_out(r) for r in changes.listing(session, status=status)]}


@router.get("/{change_id}", response_model=ChangeOut)
def get_change(change_id: str, _: AuditorDep, session: ReadSessionDep) -> Any:
    row = changes.get(session, change_id)
    if row is None:
        raise AppError("not_found", f"There is no change {change_id}.")
    return access.change_out(row)


@router.post("/{change_id}/approve", response_model=ChangeOut)
def approve_change(change_id: str, principal: AdminDep, session: SessionDep,
                   body: ChangeDecisionIn | None = None) -> Any:
    """Apply the change; its proposer is refused (403 ``sod_violation``)."""
    row = access.decide_change(session, change_id=change_id, actor=principal.id, approve=True,
                               comment=body.comment if body else None)
    return access.change_out(row)


@router.post("/{change_id}/reject", response_model=ChangeOut)
def reject_change(change_id: str, principal: AdminDep, session: SessionDep,
                  body: ChangeDecisionIn | None = None) -> Any:
    row = access.decide_change(session, change_id=change_id, actor=principal.id, approve=False,
                               comment=body.comment if body else None)
    return access.change_out(row)
