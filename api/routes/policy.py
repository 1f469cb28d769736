"""The approval policy: the version in force, its history, and applying a new version."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.commands import access
from api.deps import AdminDep, AuditorDep, ReaderDep, ReadSessionDep, SessionDep, SettingsDep
from api.errors import AppError
from api.period import check_order, utc
from api.schemas import ChangeOut, PolicyBacktestIn, PolicyOut, PolicyVersions
from approvals.policy_problems import PolicyError
from db import policies
from db.models import PolicyVersion
from db.policy_backtest import PolicyBacktest, run_backtest

router = APIRouter(prefix="/api/v1/policy", tags=["policy"])


def _out(row: PolicyVersion) -> dict[str, Any]:
    return {"version": row.version, "created_by": row.created_by, "created_at": row.created_at,
            "document": row.document}


@router.get("", response_model=PolicyOut)
def get_policy(_: ReaderDep, session: SessionDep) -> Any:
    return _out(policies.current(session))


@router.get("/versions", response_model=PolicyVersions)
def policy_versions(_: ReaderDep, session: SessionDep) -> Any:
    return {"items": [_out(r) for r in policies.history(session)]}


@router.put("", response_model=PolicyOut, responses={202: {
    "model": ChangeOut, "description": "With DISPUTEFLOW_FOUR_EYES: proposed, not applied; "
    "a second admin approves it at /api/v1/changes/{change_id}/approve"}})
def put_policy(principal: AdminDep, session: SessionDep, settings: SettingsDep,
               document: dict[str, Any] = Body(...),
               reason: str | None = Query(None, max_length=500,
                                          description="Why (kept with a proposal)")) -> Any:
    row = access.set_policy(session, settings=settings, document=document, actor=principal.id,
                            reason=reason)
    if isinstance(row, PolicyVersion):
        return _out(row)
    return JSONResponse(jsonable_encoder(access.change_out(row)), status_code=202)


@router.post("/backtest", response_model=PolicyBacktest)
def backtest_policy(_: AuditorDep, session: ReadSessionDep, body: PolicyBacktestIn) -> Any:
    """What the proposed policy would have done to the memos of a past window; it changes
    nothing, so auditors may run it as well as admins."""
    start, end = utc(body.start), utc(body.end)
    check_order(start, end)
    try:
        return run_backtest(session, document=body.policy, start=start, end=end)
    except PolicyError as exc:
        raise AppError("validation_error", str(exc),
                       [{**p.model_dump(), "field": f"policy.{p.field}"} for p in exc.problems]
                       ) from None
