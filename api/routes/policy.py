"""The approval policy: the version in force, its history, and applying a new version."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from api.deps import AdminDep, ReaderDep, SessionDep
from api.errors import AppError
from api.schemas import PolicyOut, PolicyVersions
from approvals.policy_problems import PolicyError
from db import policies
from db.models import PolicyVersion

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


@router.put("", response_model=PolicyOut)
def put_policy(principal: AdminDep, session: SessionDep,
               document: dict[str, Any] = Body(...)) -> Any:
    try:
        row = policies.apply(session, document=document, actor=principal.id)
    except PolicyError as exc:
        raise AppError("validation_error", str(exc), [p.model_dump() for p in exc.problems]
                       ) from None
    return _out(row)
