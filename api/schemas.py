"""Request and response bodies of the public API (API.md). Bounded strings everywhere, so
a huge or malformed field is a 422 that names it, never a 500."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    field_validator,
)

from api.period import Instant
from domain.codes import ReasonCode, Resolution, RootCause

Text = Annotated[str, StringConstraints(max_length=4000)]
ShortId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Amount = Annotated[str, StringConstraints(min_length=1, max_length=40,
                                          pattern=r"^-?\d+(\.\d+)?$")]
RoleName = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                            pattern=r"^[a-z][a-z0-9_-]*$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EvidenceIn(_In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
    url: Annotated[str, StringConstraints(max_length=2000)] | None = None


class DisputeCreate(_In):
    account_id: ShortId
    invoice_number: ShortId
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    disputed_amount: Amount = Field(description="Decimal string in the currency's minor units")
    reason_code: ReasonCode
    description: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    line_ids: Annotated[list[ShortId], Field(max_length=500)] = Field(default_factory=list)
    evidence: Annotated[list[EvidenceIn], Field(max_length=50)] = Field(default_factory=list)


class CreditLineIn(_In):
    line_id: ShortId
    amount: Amount


class InvestigationIn(_In):
    root_cause: RootCause
    resolution: Resolution
    credit_lines: Annotated[list[CreditLineIn], Field(max_length=500)] = Field(
        default_factory=list)
    prior_period: bool = False
    note: Text = ""


class RevisionIn(_In):
    credit_lines: Annotated[list[CreditLineIn], Field(min_length=1, max_length=500)]
    prior_period: bool = False
    note: Text = ""
    resolution: Literal["full_credit", "partial_credit", "rebill"] | None = None


class DecisionIn(_In):
    decision: Literal["approve", "reject"]
    comment: Text = ""


class WithdrawIn(_In):
    """A withdrawal ends the dispute for good and voids any memo under approval: the reason
    is required, for the opener's record and the audit trail."""

    comment: Text

    @field_validator("comment")
    @classmethod
    def _reason_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say why the dispute is withdrawn (for the record and the audit "
                             "trail)")
        return value


class RepostIn(_In):
    """A re-post of a credit memo the ledger refused; say what was fixed, for the record."""

    comment: Text = ""


class UserCreate(_In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: Annotated[str, StringConstraints(max_length=320,
                                            pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    roles: Annotated[list[RoleName], Field(min_length=1, max_length=20)]
    slack_user_id: Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]{2,20}$")] | None = None
    oidc_subject: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        default=None, description="The identity provider's subject; for an API client, the "
        "OAuth client id its client-credentials tokens carry")


GroupName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=200)]


class GroupRoles(RootModel[dict[GroupName, Annotated[list[RoleName],
                                                      Field(max_length=20)]]]):
    """``{"<group>": ["<role>", ..]}``: which roles members of each identity-provider group
    hold."""


class UserOut(BaseModel):
    id: str
    name: str
    email: str
    roles: list[str]
    slack_user_id: str | None


class UserCreated(UserOut):
    token: str = Field(description="Shown once; stored only as a hash")


class RoleHeldOut(BaseModel):
    """One effective-dated holding of a role: granted, and (if so) removed, by whom and why."""

    role: str
    granted_at: datetime
    granted_by: str
    grant_reason: str | None
    change_id: str | None = Field(description="The four-eyes change that granted it, if any")
    removed_at: datetime | None
    removed_by: str | None
    removal_reason: str | None


class UserDetail(UserOut):
    active: bool
    created_at: datetime
    history: list[RoleHeldOut]


class RoleGrantIn(_In):
    role: RoleName
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3,
                                             max_length=500)]


class ChangeOut(BaseModel):
    """A four-eyes change: proposed by one admin, applied only when a second approves it."""

    change_id: str
    kind: Literal["policy", "role_grant", "group_roles"]
    status: Literal["proposed", "approved", "rejected"]
    reason: str
    diff: list[dict[str, Any]] = Field(description="[{path, before, after}]")
    payload: dict[str, Any]
    base_version: int | None = Field(description="Policy version the proposal was made against")
    backtest: dict[str, Any] | None = Field(
        description="A policy proposal's back-test over the memos of the days before it")
    proposed_by: str
    proposed_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_comment: str | None


class ChangeList(BaseModel):
    items: list[ChangeOut]


class ChangeDecisionIn(_In):
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class TokenCreate(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    expires_in_days: int | None = Field(
        None, ge=1, le=3660, description="Default DISPUTEFLOW_TOKEN_DAYS (365)")


class TokenReissue(_In):
    expires_in_days: int | None = Field(None, ge=1, le=3660)


class TokenOut(BaseModel):
    """A token's record; the secret itself is never shown again after it is issued."""

    id: str
    name: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None


class TokenIssued(TokenOut):
    token: str = Field(description="Shown once; stored only as a hash")


class TokenList(BaseModel):
    items: list[TokenOut]


class DelegationCreate(_In):
    delegate_id: ShortId
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class DelegationOut(BaseModel):
    id: int
    user_id: str
    delegate_id: str
    starts_at: datetime
    ends_at: datetime


class DisputeOut(BaseModel):
    """A dispute as API.md describes it (extra fields may be added, never removed)."""

    model_config = ConfigDict(extra="allow")
    id: str
    status: str
    account_id: str
    invoice_number: str
    currency: str
    disputed_amount: str
    reason_code: str
    opened_by: str
    opened_at: str
    findings: list[dict[str, Any]]
    investigation: dict[str, Any] | None
    credit_memo: dict[str, Any] | None
    approvals: list[dict[str, Any]]
    policy_version: int | None
    sla: dict[str, Any]
    timeline: list[dict[str, Any]] | None = Field(
        default=None, description="The audit events, oldest first; null in the answer to a "
        "change (open, investigate, decide, ...): GET the dispute for them")


class DisputePage(BaseModel):
    items: list[DisputeOut]
    next_cursor: str | None


class PolicyOut(BaseModel):
    version: int
    created_by: str
    created_at: datetime
    document: dict[str, Any]


class PolicyBacktestIn(_In):
    """A proposed policy document and the past window of memos (by creation) to run it on."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    policy: dict[str, Any]
    start: Instant = Field(alias="from", description="inclusive, ISO 8601 (UTC if no zone)")
    end: Instant = Field(alias="to", description="exclusive, ISO 8601 (UTC if no zone)")


class PolicyVersions(BaseModel):
    items: list[PolicyOut]


class ImportResult(BaseModel):
    changed: dict[str, int]


class Health(BaseModel):
    status: str
    database: str
    temporal: str
