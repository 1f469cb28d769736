"""``GET /api/v1/reports/month-end?period=YYYY-MM``: the month-end close report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import CloseReportDep, ReadSessionDep
from api.errors import AppError
from db.month_end import PeriodError, month_end_report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


@router.get("/month-end")
def month_end(_: CloseReportDep, session: ReadSessionDep,
              period: Annotated[str, Query(max_length=7, description="YYYY-MM")]) -> Any:
    """Credits posted in the month, open exposure at its end, the reserve proposal and the
    back-test of the last months' proposals (``db.month_end``)."""
    try:
        return month_end_report(session, period=period, now=datetime.now(UTC))
    except PeriodError as exc:
        raise AppError("validation_error", str(exc),
                       [{"field": "period", "message": str(exc)}]) from None
