"""Auditors' routes: verify the hash chain (export and control test join them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import AuditorDep, SessionDep
from db import audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class VerifyOut(BaseModel):
    ok: bool
    events: int
    first_bad_event: int | None
    problem: str | None
    checked_at: datetime


@router.get("/verify", response_model=VerifyOut)
def verify(_: AuditorDep, session: SessionDep) -> Any:
    result = audit.verify(session)
    return {"ok": result.ok, "events": result.events, "first_bad_event": result.first_bad_event,
            "problem": result.problem, "checked_at": datetime.now(UTC)}
