"""``GET /api/v1/reports/month-end?period=YYYY-MM``: the month-end close report;
``GET /api/v1/reports/reconciliation?period=YYYY-MM&format=json|csv``: credit memos
approved in the month against what was posted and the ledger's references."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CloseReportDep, ReadSessionDep
from api.errors import AppError
from db.csv_cells import csv_text
from db.month_end import PeriodError, month_end_report
from db.reconciliation import COLUMNS, reconciliation_report

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


@router.get("/reconciliation", responses={200: {"content": {"text/csv": {},
                                                            "application/json": {}}}})
def reconciliation(_: CloseReportDep, session: ReadSessionDep,
                   period: Annotated[str, Query(max_length=7, description="YYYY-MM")],
                   format: Literal["json", "csv"] = "json") -> Any:
    """Memos approved in the month: posted or not, refused by the ledger (with its reason),
    their references against the ledger book, and every exception (``db.reconciliation``).
    CSV: one row per memo, formula-safe."""
    try:
        report = reconciliation_report(session, period=period)
    except PeriodError as exc:
        raise AppError("validation_error", str(exc),
                       [{"field": "period", "message": str(exc)}]) from None
    if format == "json":
        return report
    return Response(csv_text(COLUMNS, report["items"]), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="reconciliation-{period}.csv"'})
