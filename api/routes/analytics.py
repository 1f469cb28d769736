"""``GET /api/v1/analytics/{table}``: each table behind the dashboard, as JSON or CSV.

The same functions compute ``GET /api/v1/metrics`` and the dashboard (``db.analytics``), so a
figure on the page, in the API and in the downloaded file is one number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import ManagerDep, ReadSessionDep
from api.errors import AppError
from api.period import From, To, utc_period
from db import analytics, report_window
from db.csv_cells import csv_text

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])


def _first_line(doc: str | None) -> str:
    return " ".join((doc or "").split("\n\n")[0].split())


@router.get("")
def list_tables(_: ManagerDep) -> dict[str, Any]:
    """The tables there are, each with what it holds."""
    return {"items": [{"name": name, "description": _first_line(fn.__doc__),
                       "path": f"/api/v1/analytics/{name}"}
                      for name, fn in analytics.TABLES.items()]}


@router.get("/{table}", responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def get_table(table: str, _: ManagerDep, session: ReadSessionDep, start: From = None,
              end: To = None, format: Literal["json", "csv"] = "json") -> Any:
    fn = analytics.TABLES.get(table)
    if fn is None:
        raise AppError("not_found", f"There is no analytics table {table!r}; the tables are: "
                       f"{', '.join(analytics.TABLES)}.")
    start, end = utc_period(start, end)
    window = report_window.window_for(session, start=start, end=end, now=datetime.now(UTC))
    rows = fn(session, window)
    meta = {"table": table, "from": start, "to": end, "as_of": window.as_of,
            "base_currency": window.base, "timezone": window.timezone}
    if format == "json":
        return {**meta, "rows": rows}
    return Response(content=to_csv(rows), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{table}-'
                               f'{window.as_of.strftime("%Y%m%d")}.csv"'})


def to_csv(rows: list[dict[str, Any]]) -> str:
    """A header of the row keys, then each row (nothing for no row): :func:`csv_text`."""
    return csv_text(list(rows[0]), rows) if rows else ""
