"""The dispute workflow's credit-memo steps: prepare one (validated by an activity),
install it and start its approval chain, and post it to the ledger once approved.
A mixin of DisputeWorkflow; the Updates that call these stay on the workflow class."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.models import (
        ApprovalLevel,
        DisputeState,
        PostCreditMemo,
        Posted,
        PrepareCreditMemo,
        PreparedCreditMemo,
    )
    from domain.money import fmt
    from workflows.options import ACTIVITY_TIMEOUT, INTERACTIVE_RETRY, RETRY
    from workflows.rules import refuse


class MemoSteps:
    state: DisputeState
    _event: Callable[..., None]
    _persist: Callable[[], Awaitable[None]]
    _db_step: Callable[..., Awaitable[object]]
    _start_clock: Callable[..., None]
    _slack_level: Callable[..., None]
    _close: Callable[[str, str], None]
    _notify_opener: Callable[[str, str], Awaitable[None]]

    async def _prepare(self, preparer: str, resolution: str, lines: list,  # type: ignore[type-arg]
                       prior_period: bool) -> PreparedCreditMemo:
        o = self.state.opened
        number = f"CM-{o.dispute_id.removeprefix('DSP-')}-{self.state.memo_count + 1}"
        try:
            prepared = await self._db_step(
                "prepare_credit_memo",
                PrepareCreditMemo(
                    dispute_id=o.dispute_id, account_id=o.account_id,
                    invoice_number=o.invoice_number, currency=o.currency,
                    disputed_amount=o.disputed_amount, resolution=resolution,  # type: ignore[arg-type]
                    credit_lines=lines, prior_period=prior_period, memo_number=number,
                    preparer_id=preparer, at=workflow.now()),
                retry_policy=INTERACTIVE_RETRY, result_type=PreparedCreditMemo)
            assert isinstance(prepared, PreparedCreditMemo)
            return prepared
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type:
                details = cause.details[0] if cause.details else None
                raise refuse(cause.type, cause.message,
                             details if isinstance(details, dict) else None) from None
            raise refuse("database_unavailable", "The credit memo could not be prepared "
                         "because the database did not answer; try again shortly.") from None

    def _install_memo(self, prepared: PreparedCreditMemo, now: datetime) -> None:
        """Make a freshly prepared memo the current one and start its chain."""
        memo = prepared.memo
        self.state.memo_count += 1
        if self.state.credit_memo is not None:
            self.state.past_memos.append(self.state.credit_memo)
        self.state.credit_memo = memo
        self.state.memo_policy = prepared.policy
        chain = ", ".join(lv.role for lv in memo.levels) or "none (auto-approved)"
        self._event("system", "approval.chain_selected",
                    f"Approval chain under policy v{memo.policy_version}: {chain}. "
                    + " ".join(memo.chain_reasons),
                    {"credit_memo": memo.number, "policy_version": memo.policy_version,
                     "tier_min": str(memo.tier_min), "levels": [lv.role for lv in memo.levels],
                     "base_total": str(memo.base_total), "fx_rate": str(memo.fx_rate),
                     "fx_as_of": memo.fx_as_of.isoformat(),
                     "window_total_base": str(memo.window_total_base),
                     "prior_period": memo.prior_period})
        self.state.status = "pending_approval"
        if memo.levels:
            self._activate_level(memo.levels[0], now)

    def _activate_level(self, level: ApprovalLevel, now: datetime) -> None:
        level.status = "pending"
        if level.sla:
            name = f"approval_{self.state.credit_memo.number}_{level.level}"  # type: ignore[union-attr]
            self._start_clock(name, level.sla, self.state.memo_policy, level.role, level.level)
            level.due_at = self.state.sla[name].due_at
        self._slack_level("slack_prompt_level", level.level)

    async def _post(self) -> None:
        o = self.state.opened
        memo = self.state.credit_memo
        assert memo is not None
        posted = await workflow.execute_activity(
            "post_credit_memo",
            PostCreditMemo(dispute_id=o.dispute_id, memo_number=memo.number,
                           account_id=o.account_id, invoice_number=o.invoice_number,
                           currency=memo.currency, total=memo.total),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY, result_type=Posted)
        memo.status = "posted"
        memo.posted_at = posted.posted_at
        memo.ledger_reference = posted.reference
        self._event("system", "credit_memo.posted",
                    f"Credit memo {memo.number} posted to the ledger as {posted.reference} "
                    f"for {fmt(memo.total, memo.currency)}.",
                    {"credit_memo": memo.number, "reference": posted.reference,
                     "total": str(memo.total)})
        self._close("resolved", f"Resolved with credit memo {memo.number}.")
        await self._persist()
        await self._notify_opener("resolved", f"Dispute {o.dispute_id} is resolved: credit memo "
                                  f"{memo.number} for {fmt(memo.total, memo.currency)} posted.")

