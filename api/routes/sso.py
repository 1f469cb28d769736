"""Single sign-on's admin setting: which identity-provider groups give which roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.commands import access
from api.deps import AdminDep, AuditorDep, ReadSessionDep, SessionDep, SettingsDep
from api.schemas import ChangeOut, GroupRoles
from db import sso

router = APIRouter(prefix="/api/v1/sso", tags=["sso"])


@router.get("/group-roles", response_model=GroupRoles)
def get_group_roles(_: AuditorDep, session: ReadSessionDep) -> Any:
    return sso.group_roles(session)


@router.put("/group-roles", response_model=GroupRoles, responses={202: {
    "model": ChangeOut, "description": "With DISPUTEFLOW_FOUR_EYES and a group given an "
    "approval role: proposed, applied when a second admin approves it"}})
def put_group_roles(body: GroupRoles, principal: AdminDep, session: SessionDep,
                    settings: SettingsDep,
                    reason: str | None = Query(None, max_length=500,
                                               description="Why (kept with a proposal)")
                    ) -> Any:
    """Replace the mapping (``DISPUTEFLOW_OIDC_ROLES_CLAIM`` groups → roles); members' roles
    follow at their next sign-in, dated in their role history."""
    done = access.set_group_roles(session, settings=settings, mapping=body.root,
                                  actor=principal.id, reason=reason)
    if isinstance(done, dict):
        return done
    return JSONResponse(jsonable_encoder(access.change_out(done)), status_code=202)
