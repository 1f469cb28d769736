"""Closed vocabularies of the public contract (API.md)."""

from __future__ import annotations

from typing import Literal, get_args

ReasonCode = Literal[
    "rate_mismatch", "delivery_shortfall", "duplicate_billing", "makegood_not_applied",
    "tax_error", "invalid_traffic", "contract_terms", "other",
]
RootCause = Literal[
    "contract_setup", "rate_card", "delivery_data", "billing_system", "manual_error",
    "duplicate", "customer_misunderstanding", "other",
]
Resolution = Literal["full_credit", "partial_credit", "rebill", "deny"]
DisputeStatus = Literal["investigating", "pending_approval", "resolved", "denied", "withdrawn"]
ApprovalStatus = Literal["waiting", "pending", "approved", "rejected", "escalated", "voided"]
# ``posting_failed``: approved, but the ledger (ERP) refused it; it waits for a re-post.
MemoStatus = Literal["pending_approval", "approved", "posted", "posting_failed", "rejected",
                     "voided"]
# Memos approved, whatever became of their posting: they take money off an invoice (or are
# about to), and their chains are evidence. One the ledger refused is approved all the same.
APPROVED_MEMO_STATUSES: tuple[str, ...] = ("approved", "posted", "posting_failed")
Channel = Literal["api", "slack", "web"]
Decision = Literal["approve", "reject"]

BUILTIN_ROLES = ("client_services", "analyst", "manager", "auditor", "admin")
TERMINAL_STATUSES: tuple[str, ...] = ("resolved", "denied", "withdrawn")
REASON_CODES: tuple[str, ...] = get_args(ReasonCode)
ROOT_CAUSES: tuple[str, ...] = get_args(RootCause)
# A level waiting for a decision; the status a decision gives it.
OPEN_LEVEL_STATUSES: tuple[str, ...] = ("pending", "escalated")
DECIDED_STATUS: dict[str, ApprovalStatus] = {"approve": "approved", "reject": "rejected"}
