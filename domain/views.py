"""The public JSON shape of a dispute (API.md), derived from the workflow state.

Computed when the read model is written, so every reader (API, pages, exports) shows the
same thing and a GET never needs the workflow.
"""

from __future__ import annotations

from typing import Any

from domain.models import ApprovalLevel, CreditMemo, DisputeState


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def level_view(level: ApprovalLevel) -> dict[str, Any]:
    return {
        "level": level.level,
        "role": level.role,
        "status": level.status,
        "approver_id": level.approver_id,
        "delegate_of": level.delegate_of,
        "decided_at": _iso(level.decided_at),
        "channel": level.channel,
        "comment": level.comment,
        "due_at": _iso(level.due_at),
        "escalate_to": level.escalate_to,
        "sod_checks": level.sod_checks,
    }


def memo_view(memo: CreditMemo) -> dict[str, Any]:
    return {
        "number": memo.number,
        "total": str(memo.total),
        "currency": memo.currency,
        "base_total": str(memo.base_total),
        "base_currency": memo.base_currency,
        "fx_rate": str(memo.fx_rate),
        "fx_as_of": memo.fx_as_of.isoformat(),
        "lines": [{"line_id": ln.line_id, "amount": str(ln.amount)} for ln in memo.lines],
        "prior_period": memo.prior_period,
        "closed_periods": memo.closed_periods,
        "status": memo.status,
        "preparer_id": memo.preparer_id,
        "policy_version": memo.policy_version,
        "tier_min": str(memo.tier_min),
        "window_total_base": str(memo.window_total_base),
        "chain_reasons": memo.chain_reasons,
        "created_at": memo.created_at.isoformat(),
        "posted_at": _iso(memo.posted_at),
        "ledger_reference": memo.ledger_reference,
    }


def dispute_view(state: DisputeState) -> dict[str, Any]:
    o = state.opened
    memo = state.credit_memo
    inv = state.investigation
    return {
        "id": o.dispute_id,
        "status": state.status,
        "account_id": o.account_id,
        "invoice_number": o.invoice_number,
        "currency": o.currency,
        "disputed_amount": str(o.disputed_amount),
        "reason_code": o.reason_code,
        "description": o.description,
        "line_ids": o.line_ids,
        "evidence": [e.model_dump() for e in o.evidence],
        "opened_by": o.opened_by,
        "opened_at": o.opened_at.isoformat(),
        "closed_at": _iso(state.closed_at),
        "close_reason": state.close_reason,
        "findings": [f.model_dump(mode="json") for f in state.findings or []],
        "findings_ready": state.findings is not None,
        "investigation": None if inv is None else {
            "root_cause": inv.root_cause,
            "resolution": inv.resolution,
            "credit_lines": [{"line_id": c.line_id, "amount": str(c.amount)}
                             for c in inv.credit_lines],
            "prior_period": inv.prior_period,
            "note": inv.note,
            "submitted_by": inv.submitted_by,
            "submitted_at": inv.submitted_at.isoformat(),
        },
        "credit_memo": memo_view(memo) if memo else None,
        "approvals": [level_view(lv) for lv in memo.levels] if memo else [],
        "policy_version": memo.policy_version if memo else None,
        "sla": {
            name: {"due_at": clock.due_at.isoformat(), "breached": clock.breached,
                   "stopped_at": _iso(clock.stopped_at)}
            for name, clock in state.sla.items()
        },
        "rejections": state.rejections,
        "turnaround_seconds": state.turnaround_seconds,
        "revision": state.revision,
    }
