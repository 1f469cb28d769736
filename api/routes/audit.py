"""Auditors' routes: verify the hash chain, export approval chains, run the control test,
review who holds which access.

Auditors (and admins) read everything here and change nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from api.deps import AuditorDep, SessionDep, SettingsDep
from api.period import From, To, utc_period
from db import approval_chains, audit
from db.access_review import export as export_access_review
from db.access_review import review as access_review_rows
from db.control_test import ControlTestResult, run_control_test
from db.session import session_scope

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


@router.get("/approval-chains", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}, "application/json": {}},
                             "description": "One row per approval level of every credit memo"}})
def approval_chains_export(
    _: AuditorDep, settings: SettingsDep, start: From = None, end: To = None,
    format: Literal["csv", "json"] = "csv",
) -> StreamingResponse:
    start, end = utc_period(start, end)

    def stream() -> Iterator[str]:
        # Its own session: the response body is produced after the request's scope ends.
        with session_scope(settings.database_url) as session:
            yield from approval_chains.export(session, start=start, end=end, format=format)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return StreamingResponse(stream(), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="approval-chains-{stamp}.{format}"'})


@router.get("/control-test", response_model=ControlTestResult)
def control_test(_: AuditorDep, session: SessionDep, start: From = None,
                 end: To = None) -> Any:
    start, end = utc_period(start, end)
    return run_control_test(session, start=start, end=end)


@router.get("/access-review", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}, "application/json": {}},
                             "description": "One row per user and role held now"}})
def access_review(_: AuditorDep, session: SessionDep,
                  format: Literal["csv", "json"] = "csv") -> StreamingResponse:
    """Every user, each role since when and granted by whom, their last activity and the
    segregation-of-duties conflicts their roles allow: quarterly recertification evidence."""
    rows = access_review_rows(session)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return StreamingResponse(export_access_review(rows, format=format), media_type=media,
                             headers={"Content-Disposition":
                                      f'attachment; filename="access-review-{stamp}.{format}"'})
