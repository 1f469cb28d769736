"""The dispute as every reader sees it (API.md's shape), as a typed model.

The workflow builds it from its state (``domain.views.dispute_view``) when an Update
answers, and the snapshot activity stores the same model as the read model's JSON: one
function of one state, so an Update's answer and a later GET never disagree. Amounts are
``Decimal`` (written as decimal strings), times are written as ``isoformat()`` (``+00:00``,
as stored views always were). Fields added after the first release have defaults, so a
view stored by an earlier version still reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
)

from domain.codes import (
    DECIDED_STATUS,
    OPEN_LEVEL_STATUSES,
    ApprovalStatus,
    Channel,
    Decision,
    DisputeStatus,
    MemoStatus,
)
from domain.parts import CreditLine, Evidence, Finding


def _iso(value: datetime | date) -> str:
    return value.isoformat()


Iso = Annotated[datetime, PlainSerializer(_iso, return_type=str, when_used="json")]


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class HasStatus(Protocol):
    @property
    def status(self) -> str: ...


L = TypeVar("L", bound=HasStatus)


def open_level(levels: Iterable[L]) -> L | None:
    """The level waiting for a decision: the first pending or escalated one. The one rule,
    for the workflow's state and for any view of it."""
    return next((lv for lv in levels if lv.status in OPEN_LEVEL_STATUSES), None)


class SodCheckView(_View):
    name: str
    passed: bool
    detail: str


class LevelView(_View):
    level: int
    role: str
    status: ApprovalStatus
    approver_id: str | None = None
    delegate_of: str | None = None
    decided_at: Iso | None = None
    channel: Channel | None = None
    comment: str | None = None
    due_at: Iso | None = None
    escalate_to: str | None = None
    sod_checks: list[SodCheckView] = Field(default_factory=list)

    def decided_as(self, decision: Decision, by: str) -> bool:
        """Whether ``by`` recorded ``decision`` on this level."""
        return self.approver_id == by and self.status == DECIDED_STATUS[decision]


class MemoView(_View):
    number: str
    total: Decimal
    currency: str
    base_total: Decimal
    base_currency: str
    fx_rate: Decimal
    fx_as_of: date | None = None
    lines: list[CreditLine] = Field(default_factory=list)
    prior_period: bool = False
    closed_periods: list[str] = Field(default_factory=list)
    status: MemoStatus
    preparer_id: str
    policy_version: int
    tier_min: Decimal = Decimal(0)
    window_total_base: Decimal = Decimal(0)
    chain_reasons: list[str] = Field(default_factory=list)
    created_at: Iso | None = None
    posted_at: Iso | None = None
    ledger_reference: str | None = None
    # The ledger's refusal, only while there is one: every view stored before it was
    # possible, and every memo the ledger took, keeps exactly the JSON it had.
    posting_error: str | None = Field(default=None, exclude_if=lambda v: v is None)
    posting_failed_at: Iso | None = Field(default=None, exclude_if=lambda v: v is None)


class InvestigationView(_View):
    root_cause: str
    resolution: str
    credit_lines: list[CreditLine] = Field(default_factory=list)
    prior_period: bool = False
    note: str = ""
    submitted_by: str
    submitted_at: Iso


class ClockView(_View):
    due_at: Iso
    breached: bool
    stopped_at: Iso | None = None


class DisputeView(_View):
    """A dispute without its timeline (the audit events, which only the database has)."""

    id: str
    status: DisputeStatus
    account_id: str
    invoice_number: str
    currency: str
    disputed_amount: Decimal
    reason_code: str
    description: str = ""
    line_ids: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    opened_by: str
    opened_at: Iso
    closed_at: Iso | None = None
    close_reason: str | None = None
    findings: list[Finding] = Field(default_factory=list)
    findings_ready: bool = False
    investigation: InvestigationView | None = None
    credit_memo: MemoView | None = None
    approvals: list[LevelView] = Field(default_factory=list)
    policy_version: int | None = None
    sla: dict[str, ClockView] = Field(default_factory=dict)
    rejections: int = 0
    turnaround_seconds: int | None = None
    revision: int = 0

    @property
    def pending(self) -> LevelView | None:
        """The level waiting for a decision now, if the dispute is waiting for one."""
        return open_level(self.approvals) if self.status == "pending_approval" else None

    def level(self, number: int) -> LevelView | None:
        return next((lv for lv in self.approvals if lv.level == number), None)

    def as_json(self) -> dict[str, Any]:
        """The JSON the read model stores and the API answers (timeline aside)."""
        return self.model_dump(mode="json")
