"""Response bodies of the user endpoints beyond ``api.schemas``: the Slack link a user
creation or a re-link answers with, and delegations as evidence (given and received)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas import DelegationOut, UserCreated


class SlackLinkOut(BaseModel):
    """Whether the user is linked to a Slack account, and if not, why (in words)."""

    linked: bool
    slack_user_id: str | None = None
    via: Literal["typed", "email"] | None = Field(
        None, description="typed in the request, or found by the user's email in Slack")
    problem: str | None = Field(
        None, description="Why nothing was linked, as a code: slack_disabled, "
        "slack_unreachable, users_not_found, not_a_person, missing_scope, "
        "not_allowed_token_type, slack_id_taken, or another Slack error")
    reason: str | None = Field(None, description="The same, in words")


class UserCreatedLinked(UserCreated):
    slack_link: SlackLinkOut


class DelegationRecord(DelegationOut):
    created_by: str
    created_at: datetime
    state: Literal["active", "upcoming", "ended"]


class DelegationList(BaseModel):
    """Newest window first."""

    given: list[DelegationRecord]
    received: list[DelegationRecord]
