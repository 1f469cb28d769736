"""``GET /api/v1/metrics``: the managers' numbers for a period."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from api.deps import ManagerDep, SettingsDep
from api.period import From, To, utc_period
from db import metrics

router = APIRouter(prefix="/api/v1", tags=["metrics"])


@router.get("/metrics")
def get_metrics(
    _: ManagerDep,
    settings: SettingsDep,
    start: From = None,
    end: To = None,
) -> dict[str, Any]:
    """Read on several connections at once (``metrics.compute_concurrently``): the answer
    waits for the slowest part, not for the sum."""
    start, end = utc_period(start, end)
    return metrics.compute_concurrently(settings.database_url, start=start, end=end,
                                        now=datetime.now(UTC))
