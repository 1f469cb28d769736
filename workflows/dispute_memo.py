"""The dispute workflow's credit-memo steps: prepare one (validated by an activity),
install it and start its approval chain, post it to the ledger once approved — or, when
the ledger refuses it, record why and wait for a re-post. The Updates that call these stay
on the workflow class."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.credit_memo import CreditMemoActivities
    from activities.ledger import LEDGER_REJECTED, LedgerActivities
    from domain.codes import Resolution
    from domain.models import (
        Actor,
        ApprovalLevel,
        CreditLine,
        CreditMemo,
        PostCreditMemo,
        PrepareCreditMemo,
        PreparedCreditMemo,
    )
    from domain.money import fmt
    from domain.slack_steps import PromptLevel
    from workflows.dispute_record import DisputeRecord
    from workflows.dispute_sla import SlaClocks
    from workflows.dispute_slack import SlackQueue
    from workflows.options import ACTIVITY_TIMEOUT, INTERACTIVE_RETRY, RETRY
    from workflows.rules import refuse
    from workflows.steps import local_step

# A ledger that refuses a memo (the ERP's 4xx) leaves it posting_failed instead of failing
# the dispute (2026-12-07). Disputes posting before then never met a refusal: the embedded
# ledger does not refuse.
LEDGER_REJECTIONS_PATCH = "ledger-rejections-v1"


class MemoSteps:
    def __init__(self, record: DisputeRecord, clocks: SlaClocks, slack: SlackQueue) -> None:
        self.record = record
        self.state = record.state
        self.clocks = clocks
        self.slack = slack

    async def prepare(self, preparer: str, resolution: Resolution, lines: list[CreditLine],
                      prior_period: bool) -> PreparedCreditMemo:
        """The next memo, amounts and chain checked by the activity; its refusals (a line
        not on the invoice, more than is open) become the Update's, with their field."""
        o = self.state.opened
        number = f"CM-{o.dispute_id.removeprefix('DSP-')}-{self.state.memo_count + 1}"
        try:
            return await local_step(
                CreditMemoActivities.prepare_credit_memo,
                PrepareCreditMemo(
                    dispute_id=o.dispute_id, account_id=o.account_id,
                    invoice_number=o.invoice_number, currency=o.currency,
                    disputed_amount=o.disputed_amount, resolution=resolution,
                    credit_lines=lines, prior_period=prior_period, memo_number=number,
                    preparer_id=preparer, at=workflow.now()),
                retry_policy=INTERACTIVE_RETRY)
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type:
                details = cause.details[0] if cause.details else None
                raise refuse(cause.type, cause.message,
                             details if isinstance(details, dict) else None) from None
            raise refuse("database_unavailable", "The credit memo could not be prepared "
                         "because the database did not answer; try again shortly.") from None

    def install(self, prepared: PreparedCreditMemo, now: datetime) -> None:
        """Make a freshly prepared memo the current one and start its chain."""
        memo = prepared.memo
        self.state.memo_count += 1
        if self.state.credit_memo is not None:
            self.state.past_memos.append(self.state.credit_memo)
        self.state.credit_memo = memo
        self.state.memo_policy = prepared.policy
        chain = ", ".join(lv.role for lv in memo.levels) or "none (auto-approved)"
        self.record.event(
            "system", "approval.chain_selected",
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
            self.activate(memo.levels[0], now)

    def activate(self, level: ApprovalLevel, now: datetime) -> None:
        """The level is now the one to decide: its clock starts, its approvers are asked."""
        memo = self.state.credit_memo
        assert memo is not None
        level.status = "pending"
        if level.sla:
            name = f"approval_{memo.number}_{level.level}"
            self.clocks.start(name, level.sla, self.state.memo_policy, level.role, level.level)
            level.due_at = self.state.sla[name].due_at
        self.slack.level(PromptLevel, level.level)

    async def post(self) -> None:
        """Post the approved memo to the ledger (exactly once: keyed on its number) and
        resolve the dispute. The ledger being unavailable is retried; its refusal leaves
        the memo ``posting_failed`` with the reason, until someone re-posts it."""
        o = self.state.opened
        memo = self.state.credit_memo
        assert memo is not None
        try:
            posted = await workflow.execute_activity_method(
                LedgerActivities.post_credit_memo,
                PostCreditMemo(dispute_id=o.dispute_id, memo_number=memo.number,
                               account_id=o.account_id, invoice_number=o.invoice_number,
                               currency=memo.currency, total=memo.total,
                               lines=[ln.model_copy() for ln in memo.lines]),
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)
        except ActivityError as err:
            cause = err.cause
            if not (isinstance(cause, ApplicationError) and cause.type == LEDGER_REJECTED
                    and workflow.patched(LEDGER_REJECTIONS_PATCH)):
                raise
            await self._posting_failed(memo, cause)
            return
        memo.status = "posted"
        memo.posted_at = posted.posted_at
        memo.ledger_reference = posted.reference
        memo.posting_error = None
        self.record.event(
            "system", "credit_memo.posted",
            f"Credit memo {memo.number} posted to the ledger as {posted.reference} "
            f"for {fmt(memo.total, memo.currency)}.",
            {"credit_memo": memo.number, "reference": posted.reference,
             "total": str(memo.total)})
        self.record.close("resolved", f"Resolved with credit memo {memo.number}.")
        await self.record.persist()
        await self.record.notify_opener(
            "resolved", f"Dispute {o.dispute_id} is resolved: credit memo {memo.number} for "
            f"{fmt(memo.total, memo.currency)} posted.")

    async def _posting_failed(self, memo: CreditMemo, refusal: ApplicationError) -> None:
        """The ledger refused the memo: it stays approved but unposted, with the ledger's
        reason for managers to read; the dispute waits for a re-post (or a revised memo)."""
        details = refusal.details[0] if refusal.details else None
        status = details.get("status") if isinstance(details, dict) else None
        memo.status = "posting_failed"
        memo.posting_error = refusal.message
        memo.posting_failed_at = workflow.now()
        self.record.event(
            "system", "credit_memo.posting_failed",
            f"The ledger refused credit memo {memo.number}: {refusal.message} It can be "
            "re-posted once the cause is fixed.",
            {"credit_memo": memo.number, "reason": refusal.message, "http_status": status})
        await self.record.persist()

    def repost(self, actor: Actor, comment: str) -> None:
        """Send the refused memo to the ledger again: the main loop posts it (same key)."""
        memo = self.state.credit_memo
        assert memo is not None
        before = memo.posting_error
        memo.status = "approved"
        memo.posting_error = None
        memo.posting_failed_at = None
        self.record.event(
            actor.id, "credit_memo.repost_requested",
            f"Credit memo {memo.number} sent to the ledger again by {actor.id}"
            + (f": {comment}" if comment else ".") + f" It had been refused: {before}",
            {"credit_memo": memo.number, "previous_error": before, "comment": comment})
