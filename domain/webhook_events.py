"""What a recorded state change tells outside systems: the outbound webhook events of one
snapshot, from its audit events and the status it replaces. Pure, so the rule that decides
which events a change gives lives in one place and is tested without a database.

Amounts are strings with the currency's minor units (``"1250.00"``), never JSON numbers, so
no receiver reads money as a float.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.codes import TERMINAL_STATUSES
from domain.models import AuditEntry, CreditMemo, DisputeState
from domain.money import quantize

EVENT_TYPES: tuple[str, ...] = (
    "dispute.opened", "dispute.status_changed", "credit_memo.approved", "credit_memo.posted",
    "dispute.closed", "sla.breached", "invoice.dispute_hold", "invoice.dispute_released",
)
HOLD, RELEASE = "invoice.dispute_hold", "invoice.dispute_released"


@dataclass(frozen=True)
class Outgoing:
    """One event to send: its type and its ``data`` (the envelope adds type and time)."""

    type: str
    data: dict[str, Any]


def money(amount: Decimal, currency: str) -> str:
    return str(quantize(amount, currency))


def _at(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def dispute_data(state: DisputeState) -> dict[str, Any]:
    o = state.opened
    return {"dispute_id": o.dispute_id, "status": state.status, "account_id": o.account_id,
            "invoice_number": o.invoice_number, "currency": o.currency,
            "disputed_amount": money(o.disputed_amount, o.currency),
            "reason_code": o.reason_code, "opened_at": _at(o.opened_at),
            "closed_at": _at(state.closed_at)}


def memo_data(state: DisputeState, memo: CreditMemo) -> dict[str, Any]:
    o = state.opened
    return {"dispute_id": o.dispute_id, "account_id": o.account_id,
            "invoice_number": o.invoice_number, "credit_memo": memo.number,
            "status": memo.status, "currency": memo.currency,
            "total": money(memo.total, memo.currency),
            "lines": [{"line_id": line.line_id, "amount": money(line.amount, memo.currency)}
                      for line in memo.lines],
            "ledger_reference": memo.ledger_reference, "posted_at": _at(memo.posted_at)}


def invoice_data(state: DisputeState) -> dict[str, Any]:
    """For accounts receivable: which invoice, and how much of it this dispute holds."""
    o = state.opened
    return {"invoice_number": o.invoice_number, "account_id": o.account_id,
            "dispute_id": o.dispute_id, "currency": o.currency,
            "amount_in_dispute": money(o.disputed_amount, o.currency)}


def _memo(state: DisputeState, number: object) -> CreditMemo | None:
    memos = [*state.past_memos, *([state.credit_memo] if state.credit_memo else [])]
    return next((m for m in memos if m.number == number), None)


def events_of(state: DisputeState, audit: Sequence[AuditEntry],
              before_status: str | None) -> list[Outgoing]:
    """The events of one recorded change, in the order they happened: those its audit events
    name, then a change of status (with ``dispute.closed`` and the invoice's release when the
    dispute ends). ``before_status`` is the stored status this change replaces (None for the
    first record of a dispute)."""
    out: list[Outgoing] = []
    for entry in audit:
        if entry.action == "dispute.opened":
            out += [Outgoing("dispute.opened", dispute_data(state)),
                    Outgoing(HOLD, invoice_data(state))]
        elif entry.action in ("credit_memo.approved", "credit_memo.posted"):
            memo = _memo(state, entry.data.get("credit_memo"))
            if memo is not None:
                out.append(Outgoing(entry.action, memo_data(state, memo)))
        elif entry.action == "sla.breached":
            out.append(Outgoing("sla.breached", {
                **dispute_data(state), "clock": entry.data.get("clock"),
                "due_at": entry.data.get("due_at"),
                "assignee_role": entry.data.get("assignee_role")}))
    if before_status is not None and before_status != state.status:
        out.append(Outgoing("dispute.status_changed",
                            {**dispute_data(state), "previous_status": before_status}))
        if state.status in TERMINAL_STATUSES and before_status not in TERMINAL_STATUSES:
            out += [Outgoing("dispute.closed", {**dispute_data(state),
                                                "close_reason": state.close_reason}),
                    Outgoing(RELEASE, invoice_data(state))]
    return out
