"""``GET /api/v1/metrics``: the managers' numbers for a period."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from api.deps import ManagerDep, SessionDep
from api.period import From, To, utc_period
from db import metrics

router = APIRouter(prefix="/api/v1", tags=["metrics"])


@router.get("/metrics")
def get_metrics(
    _: ManagerDep,
    session: SessionDep,
    start: From = None,
    end: To = None,
) -> dict[str, Any]:
    start, end = utc_period(start, end)
    return metrics.compute(session, start=start, end=end, now=datetime.now(UTC))
