"""The dispute's public view (``domain.dispute_view.DisputeView``), derived from the
workflow state.

Built by the workflow when an Update answers and by the snapshot activity when the read
model is written — the same function of the same state — so every reader (API, pages,
Slack, exports) shows the same thing and a GET never needs the workflow.
"""

from __future__ import annotations

from domain.dispute_view import (
    ClockView,
    DisputeView,
    InvestigationView,
    LevelView,
    MemoView,
    SodCheckView,
)
from domain.models import ApprovalLevel, CreditLine, CreditMemo, DisputeState


def _lines(lines: list[CreditLine]) -> list[CreditLine]:
    return [ln.model_copy() for ln in lines]


def level_view(level: ApprovalLevel) -> LevelView:
    return LevelView(
        level=level.level, role=level.role, status=level.status,
        approver_id=level.approver_id, delegate_of=level.delegate_of,
        decided_at=level.decided_at, channel=level.channel, comment=level.comment,
        due_at=level.due_at, escalate_to=level.escalate_to,
        sod_checks=[SodCheckView.model_validate(c) for c in level.sod_checks])


def memo_view(memo: CreditMemo) -> MemoView:
    return MemoView(
        number=memo.number, total=memo.total, currency=memo.currency,
        base_total=memo.base_total, base_currency=memo.base_currency, fx_rate=memo.fx_rate,
        fx_as_of=memo.fx_as_of, lines=_lines(memo.lines), prior_period=memo.prior_period,
        closed_periods=memo.closed_periods, status=memo.status, preparer_id=memo.preparer_id,
        policy_version=memo.policy_version, tier_min=memo.tier_min,
        window_total_base=memo.window_total_base, chain_reasons=memo.chain_reasons,
        created_at=memo.created_at, posted_at=memo.posted_at,
        ledger_reference=memo.ledger_reference, posting_error=memo.posting_error,
        posting_failed_at=memo.posting_failed_at)


def dispute_view(state: DisputeState) -> DisputeView:
    o = state.opened
    memo = state.credit_memo
    inv = state.investigation
    return DisputeView(
        id=o.dispute_id, status=state.status, account_id=o.account_id,
        invoice_number=o.invoice_number, currency=o.currency,
        disputed_amount=o.disputed_amount, reason_code=o.reason_code,
        description=o.description, line_ids=o.line_ids,
        evidence=[e.model_copy() for e in o.evidence],
        opened_by=o.opened_by, opened_at=o.opened_at, closed_at=state.closed_at,
        close_reason=state.close_reason,
        findings=[f.model_copy() for f in state.findings or []],
        findings_ready=state.findings is not None,
        investigation=None if inv is None else InvestigationView(
            root_cause=inv.root_cause, resolution=inv.resolution,
            credit_lines=_lines(inv.credit_lines), prior_period=inv.prior_period,
            note=inv.note, submitted_by=inv.submitted_by, submitted_at=inv.submitted_at),
        credit_memo=memo_view(memo) if memo else None,
        approvals=[level_view(lv) for lv in memo.levels] if memo else [],
        policy_version=memo.policy_version if memo else None,
        sla={name: ClockView(due_at=c.due_at, breached=c.breached, stopped_at=c.stopped_at)
             for name, c in state.sla.items()},
        rejections=state.rejections, turnaround_seconds=state.turnaround_seconds,
        revision=state.revision)
