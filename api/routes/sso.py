"""Single sign-on's admin setting: which identity-provider groups give which roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.commands import access
from api.deps import AdminDep, AuditorDep, ReadSessionDep, SessionDep
from api.schemas import GroupRoles
from db import sso

router = APIRouter(prefix="/api/v1/sso", tags=["sso"])


@router.get("/group-roles", response_model=GroupRoles)
def get_group_roles(_: AuditorDep, session: ReadSessionDep) -> Any:
    return sso.group_roles(session)


@router.put("/group-roles", response_model=GroupRoles)
def put_group_roles(body: GroupRoles, principal: AdminDep, session: SessionDep) -> Any:
    """Replace the mapping (``DISPUTEFLOW_OIDC_ROLES_CLAIM`` groups → roles); members' roles
    follow at their next sign-in, dated in their role history."""
    return access.set_group_roles(session, mapping=body.root, actor=principal.id)
