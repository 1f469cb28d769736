"""``GET /api/v1/metrics``: the managers' numbers for a period."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ManagerDep, SessionDep
from api.errors import AppError
from db import metrics

router = APIRouter(prefix="/api/v1", tags=["metrics"])


@router.get("/metrics")
def get_metrics(
    _: ManagerDep,
    session: SessionDep,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    start, end = (b if b is None or b.tzinfo else b.replace(tzinfo=UTC) for b in (start, end))
    if start and end and end <= start:
        raise AppError("validation_error", "'to' must be after 'from'.",
                       [{"field": "to", "message": "not after from"}])
    return metrics.compute(session, start=start, end=end, now=datetime.now(UTC))
