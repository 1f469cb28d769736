"""The relational schema: users, billing data, the dispute read model, the ledger, audit.

Temporal holds the truth of a running dispute; these tables are the read model written by
activities (so reads work when no worker runs), the embedded connectors' data, and the
append-only audit chain. Every table is created by Alembic migrations, never create_all.
Who may do what (users, tokens, role history, four-eyes changes, delegations) is in
``db.models_access``, outbound webhooks in ``db.models_webhooks``, letters in
``db.models_mail``, Slack's messages, clicks and outbox in ``db.models_slack``, all
re-exported here, so ``from db.models import ...`` finds every table.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.model_base import Base as Base
from db.model_base import table as table
from db.models_access import ApiToken as ApiToken
from db.models_access import AuthFailure as AuthFailure
from db.models_access import Change as Change
from db.models_access import Delegation as Delegation
from db.models_access import RoleGrant as RoleGrant
from db.models_access import SignIn as SignIn
from db.models_access import SsoGroupRole as SsoGroupRole
from db.models_access import User as User
from db.models_access import WebSession as WebSession
from db.models_mail import Letter as Letter
from db.models_mail import LetterTemplate as LetterTemplate
from db.models_slack import SlackClick as SlackClick
from db.models_slack import SlackMessage as SlackMessage
from db.models_slack import SlackOutboxRow as SlackOutboxRow
from db.models_tallies import DisputeDayCount as DisputeDayCount
from db.models_tallies import OpenDisputeDay as OpenDisputeDay
from db.models_webhooks import WebhookDelivery as WebhookDelivery
from db.models_webhooks import WebhookEndpoint as WebhookEndpoint
from db.models_webhooks import WebhookEvent as WebhookEvent


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    # Where letters about its disputes go (acknowledgement, resolution, denial).
    billing_email: Mapped[str | None] = mapped_column(String(254))


class Invoice(Base):
    __tablename__ = "invoices"
    # First-time invoice accuracy counts the invoices of a period never disputed: one narrow
    # index read instead of a search of the disputes for each invoice.
    __table_args__ = (Index("ix_invoices_issued_disputed", "issued_on", "first_disputed_at"),)
    number: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    period: Mapped[str] = mapped_column(String(7))
    issued_on: Mapped[date] = mapped_column(Date)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    first_disputed_at: Mapped[datetime | None]  # set by the first dispute's intake


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    invoice_number: Mapped[str] = mapped_column(ForeignKey("invoices.number"), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    product: Mapped[str] = mapped_column(String(100))
    campaign_id: Mapped[str | None] = mapped_column(String(64), index=True)
    units: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[str] = mapped_column(String(40))
    rate: Mapped[Decimal]
    rate_basis: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    makegood: Mapped[bool] = mapped_column(Boolean, default=False)


class Contract(Base):
    __tablename__ = "contracts"
    __table_args__ = (UniqueConstraint("account_id", "campaign_id", "valid_from"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    rate: Mapped[Decimal]
    rate_basis: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    # The delivery source the contract bills by (None: first-party counts are compared).
    measurement_source: Mapped[str | None] = mapped_column(String(40))


class Delivery(Base):
    """Units delivered per campaign and period as one measurement source counted them: the
    source is part of the key, since ad servers disagree and each count is kept."""

    __tablename__ = "delivery"
    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    # The server default serves writers that name no source (and rows from before sources).
    source: Mapped[str] = mapped_column(String(40), primary_key=True, default="first_party",
                                        server_default="first_party")
    units: Mapped[int] = mapped_column(BigInteger)
    makegood_units: Mapped[int] = mapped_column(BigInteger, default=0)


class FxRate(Base):
    __tablename__ = "fx_rates"
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    base: Mapped[str] = mapped_column(String(3), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    rate: Mapped[Decimal]


class ClosedPeriod(Base):
    __tablename__ = "closed_periods"
    period: Mapped[str] = mapped_column(String(7), primary_key=True)


class PolicyVersion(Base):
    __tablename__ = "policy_versions"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    effective_from: Mapped[datetime]


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    user_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    dispute_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]


class Dispute(Base):
    """The read model of one dispute: indexed columns to filter on, plus the full view.

    Triggers (migration 0026) keep the per-day tallies (``db.models_tallies``) from its rows:
    a migration that rebuilds this table must create them again."""

    __tablename__ = "disputes"
    __table_args__ = (
        Index("ix_disputes_status_opened", "status", "opened_at", "id"),
        Index("ix_disputes_account_opened", "account_id", "opened_at", "id"),
        Index("ix_disputes_opened", "opened_at", "id"),
        Index("ix_disputes_status_closed", "status", "closed_at", "turnaround_s"),
        # Positions at an instant: the disputes closed since it, and the open disputes of the
        # days an edge cuts (db/tallies.py).
        Index("ix_disputes_closed_opened", "closed_at", "opened_at"),
        Index("ix_disputes_open_opened", "opened_at", "currency", "disputed_minor",
              postgresql_where=text("closed_at IS NULL"), sqlite_where=text("closed_at IS NULL")),
        # Covering indexes: the managers' metrics read them without touching the table.
        Index("ix_disputes_metrics_status", "status", "currency", "opened_at", "closed_at",
              "rejections", "disputed_minor"),
        Index("ix_disputes_metrics_causes", "opened_at", "reason_code", "root_cause"),
        Index("ix_disputes_status_turnaround", "status", "turnaround_s"),
        Index("ix_disputes_reason_cause_opened", "reason_code", "root_cause", "opened_at"),
        # The disputes whose amount revenue at risk by product must split over their lines.
        Index("ix_disputes_opened_split", "opened_at", postgresql_where=text("product IS NULL"),
              sqlite_where=text("product IS NULL")),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    account_id: Mapped[str] = mapped_column(String(64))
    invoice_number: Mapped[str] = mapped_column(String(64), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    disputed_minor: Mapped[int] = mapped_column(BigInteger)
    reason_code: Mapped[str] = mapped_column(String(40))
    opened_by: Mapped[str] = mapped_column(String(40))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    root_cause: Mapped[str | None] = mapped_column(String(40))
    turnaround_s: Mapped[int | None] = mapped_column(BigInteger)  # business seconds, at close
    rejections: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # What the client wrote, for the list's text search (the view holds it too, in JSON).
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The product of the invoice lines it is about when they are all one product, written
    # with them at intake: revenue at risk by product sums such disputes without reading
    # their lines. None when they span products or are unknown.
    product: Mapped[str | None] = mapped_column(String(100))
    view: Mapped[dict[str, Any]] = mapped_column(JSON)


class DisputeLine(Base):
    """An invoice line a dispute is about: the ones the client named, or every line of the
    invoice when they named none. Revenue at risk is split over them by product."""

    __tablename__ = "dispute_lines"
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.id"), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    invoice_number: Mapped[str] = mapped_column(String(64))
    product: Mapped[str] = mapped_column(String(100))
    # The disputed amount's part on this line (minor units), in proportion to what the lines
    # billed; the parts of a dispute add up to its amount exactly.
    share_minor: Mapped[int] = mapped_column(BigInteger)


class CreditMemo(Base):
    __tablename__ = "credit_memos"
    __table_args__ = (
        Index("ix_credit_memos_account_created", "account_id", "created_at"),
        Index("ix_credit_memos_created_number", "created_at", "number"),
        Index("ix_credit_memos_metrics_tier", "status", "created_at", "tier_min",
              "base_total_minor"),
    )
    number: Mapped[str] = mapped_column(String(40), primary_key=True)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    invoice_number: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    base_currency: Mapped[str] = mapped_column(String(3))
    base_total_minor: Mapped[int] = mapped_column(BigInteger)
    fx_rate: Mapped[Decimal]
    fx_as_of: Mapped[date] = mapped_column(Date)
    prior_period: Mapped[bool] = mapped_column(Boolean)
    preparer_id: Mapped[str] = mapped_column(String(40))
    policy_version: Mapped[int] = mapped_column(Integer)
    tier_min: Mapped[Decimal]
    chain: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    posted_at: Mapped[datetime | None]
    # When its last level approved it (its creation, auto-approved); None until approved:
    # the reconciliation report's period. The ledger's reference once posted, and the
    # ledger's refusal while it is posting_failed.
    approved_at: Mapped[datetime | None] = mapped_column(index=True)
    ledger_reference: Mapped[str | None] = mapped_column(String(120))
    posting_error: Mapped[str | None] = mapped_column(Text)


class CreditMemoLine(Base):
    __tablename__ = "credit_memo_lines"
    memo_number: Mapped[str] = mapped_column(ForeignKey("credit_memos.number"), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    invoice_number: Mapped[str] = mapped_column(String(64), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class CreditMemoProduct(Base):
    """A memo's credit per product of the invoice lines it credits, written with the memo
    (whose lines never change): credits by product are then a plain sum, not a join of every
    memo line to its invoice line and a count of distinct memos."""

    __tablename__ = "credit_memo_products"
    memo_number: Mapped[str] = mapped_column(ForeignKey("credit_memos.number"), primary_key=True)
    # Empty when the credited invoice line is not in the billing data.
    product: Mapped[str] = mapped_column(String(100), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class ApprovalLevel(Base):
    __tablename__ = "approval_levels"
    __table_args__ = (
        Index("ix_approval_levels_role_status", "role", "status"),
        # the approver workload's one read: waiting levels, with who may not decide them
        Index("ix_approval_levels_waiting", "status", "role", "due_at", "memo_preparer_id",
              "dispute_opener_id"),
    )
    memo_number: Mapped[str] = mapped_column(ForeignKey("credit_memos.number"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispute_id: Mapped[str] = mapped_column(String(40), index=True)
    role: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    approver_id: Mapped[str | None] = mapped_column(String(40))
    delegate_of: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(String(10))
    comment: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None]
    sod_checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # When the level became the one to decide: its memo's creation for level 1, the approval
    # of the level before it otherwise; None while it waits for that (written with the level,
    # so decision time is one pass over the levels).
    pending_since: Mapped[datetime | None]
    # Who may not decide it (segregation of duties): its memo's preparer and its dispute's
    # opener, written with the level since neither ever changes.
    memo_preparer_id: Mapped[str] = mapped_column(String(40))
    dispute_opener_id: Mapped[str] = mapped_column(String(40))


class SlaBreach(Base):
    """One breached SLA clock of a dispute, for the managers' breach list."""

    __tablename__ = "sla_breaches"
    __table_args__ = (Index("ix_sla_breaches_open_due", "stopped_at", "due_at"),)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.id"), primary_key=True)
    clock: Mapped[str] = mapped_column(String(80), primary_key=True)
    due_at: Mapped[datetime]
    breached_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    assignee_role: Mapped[str] = mapped_column(String(64), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    escalated_to: Mapped[str | None] = mapped_column(String(64))


class LedgerPosting(Base):
    """The ledger book: one row per idempotency key, never two — the embedded ledger's
    postings, or what the ERP booked."""

    __tablename__ = "ledger_postings"
    idempotency_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    # The embedded ledger's LGR-<memo>, or the reference the ERP answered.
    reference: Mapped[str] = mapped_column(String(120), unique=True)
    # Indexed: the auditors' export looks up each memo's postings.
    memo_number: Mapped[str] = mapped_column(String(40), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    invoice_number: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    posted_at: Mapped[datetime]


class Notification(Base):
    """The pluggable notifier's log: what would be (or was) sent, to whom, once per key."""

    __tablename__ = "notifications"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    dispute_id: Mapped[str | None] = mapped_column(String(40), index=True)
    recipient: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class AuditEvent(Base):
    """Append-only, hash-chained: each row's hash covers its content and the previous hash."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_subject_seq", "subject", "seq"),
                      Index("ix_audit_actor_at", "actor", "at"))
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(80))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    idem_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
