"""Typed messages between the API, the dispute workflow and its activities.

One model per workflow/activity input or output (the values the state shares with the
view are in ``domain/parts.py``), carried by Temporal's pydantic data
converter (Decimal and datetime round-trip exactly). Nothing here does I/O: the workflow
sandbox imports it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from domain.codes import (
    ApprovalStatus,
    Channel,
    Decision,
    DisputeStatus,
    MemoStatus,
    ReasonCode,
    Resolution,
    RootCause,
)
from domain.dispute_view import DisputeView
from domain.parts import CreditLine, Evidence, Finding
from domain.slack_steps import SlackStep


class Investigation(BaseModel):
    root_cause: RootCause
    resolution: Resolution
    credit_lines: list[CreditLine] = Field(default_factory=list)
    prior_period: bool = False
    note: str = ""
    submitted_by: str
    submitted_at: datetime


class ApprovalLevel(BaseModel):
    level: int
    role: str
    status: ApprovalStatus
    approver_id: str | None = None
    delegate_of: str | None = None
    acting_role: str | None = None
    decided_at: datetime | None = None
    channel: Channel | None = None
    comment: str | None = None
    due_at: datetime | None = None
    sla: str | None = None
    escalate_to: str | None = None
    sod_checks: list[dict[str, Any]] = Field(default_factory=list)


class CreditMemo(BaseModel):
    number: str
    total: Decimal
    currency: str
    base_total: Decimal
    base_currency: str
    fx_rate: Decimal
    fx_as_of: date
    lines: list[CreditLine]
    prior_period: bool
    closed_periods: list[str] = Field(default_factory=list)
    status: MemoStatus
    preparer_id: str
    policy_version: int
    tier_min: Decimal
    window_total_base: Decimal = Decimal(0)
    chain_reasons: list[str] = Field(default_factory=list)
    levels: list[ApprovalLevel] = Field(default_factory=list)
    created_at: datetime
    posted_at: datetime | None = None
    ledger_reference: str | None = None
    # The ledger's refusal of the last posting (its status and words), kept until a re-post
    # succeeds: what managers read before they re-post.
    posting_error: str | None = None
    posting_failed_at: datetime | None = None


class SlaClock(BaseModel):
    """One durable SLA clock: when it reminds, when it breaches, who holds it."""

    started_at: datetime
    due_at: datetime
    duration: str
    breached: bool = False
    stopped_at: datetime | None = None
    assignee_role: str = "analyst"
    remind_at: datetime | None = None
    reminded: bool = False
    breached_at: datetime | None = None
    next_alert_at: datetime | None = None  # repeated manager alerts while breached
    alerts: int = 0
    level: int | None = None  # the approval level this clock times, if any


class PolicyRef(BaseModel):
    """The policy in force when a dispute opened (its SLA durations and calendar)."""

    version: int
    document: dict[str, Any]


# --- workflow input and update inputs -------------------------------------------------


class DisputeOpened(BaseModel):
    """What intake validated; starts the workflow (workflow id = dispute id)."""

    dispute_id: str
    account_id: str
    invoice_number: str
    currency: str
    disputed_amount: Decimal
    reason_code: ReasonCode
    description: str
    line_ids: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    opened_by: str
    opened_at: datetime
    channel: Channel = "api"  # where it was opened (the audit event records it)


class DisputeState(BaseModel):
    """Everything the workflow knows; carried whole across continue-as-new."""

    opened: DisputeOpened
    status: DisputeStatus = "investigating"
    revision: int = 0
    policy: PolicyRef | None = None
    memo_policy: PolicyRef | None = None
    findings: list[Finding] | None = None
    investigation: Investigation | None = None
    credit_memo: CreditMemo | None = None
    past_memos: list[CreditMemo] = Field(default_factory=list)
    memo_count: int = 0
    rejections: int = 0
    sla: dict[str, SlaClock] = Field(default_factory=dict)
    acknowledged_by: str | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    turnaround_seconds: int | None = None  # business time, intake to close


class WorkflowInput(BaseModel):
    opened: DisputeOpened
    state: DisputeState | None = None  # set when continuing as new


class Actor(BaseModel):
    id: str
    roles: list[str]


class DelegationGrant(BaseModel):
    principal_id: str
    principal_roles: list[str]
    starts_at: datetime
    ends_at: datetime


class SubmitInvestigation(BaseModel):
    actor: Actor
    root_cause: RootCause
    resolution: Resolution
    credit_lines: list[CreditLine] = Field(default_factory=list)
    prior_period: bool = False
    note: str = ""


class ReviseCreditMemo(BaseModel):
    """A change to the credit memo while it is being approved: the chain starts again."""

    actor: Actor
    credit_lines: list[CreditLine]
    prior_period: bool = False
    note: str = ""
    resolution: Resolution | None = None  # default: the investigation's resolution


class DecideLevel(BaseModel):
    actor: Actor
    delegations: list[DelegationGrant] = Field(default_factory=list)
    decision: Decision
    comment: str = ""
    channel: Channel = "api"
    level: int | None = None  # when given, the decision applies only if this level is pending
    # When given, only if this is the memo under approval (a button of a replaced memo).
    memo_number: str | None = None


class DecisionQuestion(BaseModel):
    """Would ``decision`` be accepted at ``at``? A query runs on no workflow task of its
    own, so its ``workflow.now()`` is the time of the last one: the caller says when."""

    decision: DecideLevel
    at: datetime


class DecisionCheck(BaseModel):
    """Whether a decision would be accepted now, and if not, why (the validator's answer)."""

    allowed: bool
    code: str | None = None
    message: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Withdraw(BaseModel):
    actor: Actor
    comment: str = ""


class RepostCreditMemo(BaseModel):
    """Post the approved memo the ledger refused again, once what it refused is fixed."""

    actor: Actor
    memo_number: str
    comment: str = ""


class UpdateResult(BaseModel):
    """What an Update (and the workflow run) answers: the dispute as it now is, and what
    happened in words. ``view`` is missing only from workers older than the view's
    introduction (a rolling deploy): callers then read the read model."""

    status: DisputeStatus
    revision: int
    message: str
    view: DisputeView | None = None


# --- activity inputs and outputs ------------------------------------------------------


class AuditEntry(BaseModel):
    actor: str
    action: str
    message: str
    data: dict[str, Any] = Field(default_factory=dict)
    at: datetime


class RecordSnapshot(BaseModel):
    state: DisputeState
    events: list[AuditEntry] = Field(default_factory=list)
    # The Slack steps this change queued, written to the Slack outbox with the snapshot
    # (slack-outbox-v1 onwards).
    slack_steps: list[SlackStep] = Field(default_factory=list)


class GatherFindings(BaseModel):
    dispute_id: str
    account_id: str
    invoice_number: str
    line_ids: list[str]


class PrepareCreditMemo(BaseModel):
    dispute_id: str
    account_id: str
    invoice_number: str
    currency: str
    disputed_amount: Decimal
    resolution: Resolution
    credit_lines: list[CreditLine]
    prior_period: bool
    memo_number: str
    preparer_id: str
    at: datetime


class PreparedCreditMemo(BaseModel):
    memo: CreditMemo
    policy: PolicyRef


class PostCreditMemo(BaseModel):
    dispute_id: str
    memo_number: str
    account_id: str
    invoice_number: str
    currency: str
    total: Decimal
    # The memo's lines, for a ledger that books them (the ERP); empty in postings scheduled
    # before the lines were sent.
    lines: list[CreditLine] = Field(default_factory=list)


class Posted(BaseModel):
    reference: str
    posted_at: datetime


class Notify(BaseModel):
    key: str
    dispute_id: str
    recipient: str
    message: str


class DigestRequest(BaseModel):
    """The managers' daily digest covers the local day before ``at`` (when it fired)."""

    at: datetime
    timezone: str = "UTC"


class Digest(BaseModel):
    key: str
    text: str
    open_breaches: int
