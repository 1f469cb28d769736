"""What managers watch: SLA breaches, longest past due first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import ManagerDep, SessionDep
from db import disputes

router = APIRouter(prefix="/api/v1/sla", tags=["sla"])


class Breach(BaseModel):
    dispute_id: str
    clock: str
    due_at: str
    breached_at: str
    stopped_at: str | None
    assignee_role: str
    escalated_to: str | None
    amount: str
    currency: str


class Breaches(BaseModel):
    items: list[Breach]


@router.get("/breaches", response_model=Breaches)
def breaches(
    _: ManagerDep,
    session: SessionDep,
    open: bool | None = None,
    clock: Annotated[str | None, Query(max_length=80, pattern=r"^[a-z0-9_-]+$",
                                       description="acknowledge, investigate, resolve, "
                                       "approval (any level) or a level clock name")] = None,
    assignee_role: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Any:
    return {"items": disputes.list_breaches(session, open_only=open, clock=clock,
                                            assignee_role=assignee_role, limit=limit)}

