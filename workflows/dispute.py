"""One durable workflow per dispute (workflow id = dispute id).

The workflow is the single writer of a dispute's state. Analysts and approvers change it
only through Updates whose validators refuse at once what the state or the SOX policy does
not allow (wrong state, missing role, segregation of duties); every accepted change is
written to the read model and the audit trail by an idempotent activity before the Update
returns, so the API answers with the new state.

Deterministic only: time from ``workflow.now()``, all I/O in activities.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.rules as rules
    import workflows.sla as sla
    from activities.investigation import InvestigationActivities
    from activities.readmodel import ReadModelActivities
    from domain.codes import DECIDED_STATUS, OPEN_LEVEL_STATUSES
    from domain.models import (
        DecideLevel,
        DecisionCheck,
        DecisionQuestion,
        DisputeState,
        GatherFindings,
        RepostCreditMemo,
        ReviseCreditMemo,
        SubmitInvestigation,
        UpdateResult,
        Withdraw,
        WorkflowInput,
    )
    from domain.models import Investigation as InvestigationRecord
    from domain.money import fmt
    from domain.slack_steps import LevelDecided
    from workflows.dispute_memo import MemoSteps
    from workflows.dispute_record import DisputeRecord
    from workflows.dispute_sla import SlaClocks
    from workflows.dispute_slack import SlackQueue
    from workflows.options import ACTIVITY_TIMEOUT, RETRY
    from workflows.rules import OPEN, refuse
    from workflows.steps import local_step

FINAL_APPROVAL_WAIT = timedelta(seconds=5)  # under the API's update wait
# Continue as new well before Temporal's limits, so a dispute alerting daily for a year
# keeps a small history (and a small replay cost in the worker).
MAX_HISTORY_EVENTS = 2000
# Deprecated: disputes from before 2026-11-30 had no SLA timers; none is supported now
# (README, "Changing the workflow").
SLA_TIMERS_PATCH = "sla-timers-v1"


@workflow.defn(name="DisputeWorkflow")
class DisputeWorkflow:
    @workflow.init
    def __init__(self, inp: WorkflowInput) -> None:
        self.state: DisputeState = inp.state or DisputeState(opened=inp.opened)
        self.slack = SlackQueue(self.state)
        self.record = DisputeRecord(self.state, self.slack)
        self.clocks = SlaClocks(self.record, self.slack)
        self.memos = MemoSteps(self.record, self.clocks, self.slack)
        self._submitting = False

    # --- the main line ------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: WorkflowInput) -> UpdateResult:
        if self.state.revision == 0:
            await self._open()
        while True:
            if self._needs_posting():
                await self.memos.post()
                continue
            if self.state.status not in OPEN:
                break
            if self._history_too_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self.slack.settled()
                workflow.continue_as_new(WorkflowInput(opened=self.state.opened, state=self.state))
            revision = self.state.revision
            timeout: timedelta | None = None
            workflow.deprecate_patch(SLA_TIMERS_PATCH)
            next_at = sla.next_event_at(self.state)
            if next_at is not None:
                timeout = next_at - workflow.now()
                if timeout <= timedelta(0):
                    await self.clocks.fire_due()
                    continue
            try:
                await workflow.wait_condition(
                    lambda rev=revision: self._needs_posting()  # type: ignore[misc]
                    or self.state.status not in OPEN
                    or self.state.revision != rev
                    or workflow.info().is_continue_as_new_suggested(),
                    timeout=timeout)
            except TimeoutError:
                await self.clocks.fire_due()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self.slack.settled()
        return self.record.result(self.state.close_reason or self.state.status)

    def _history_too_long(self) -> bool:
        info = workflow.info()
        return (info.is_continue_as_new_suggested()
                or info.get_current_history_length() > MAX_HISTORY_EVENTS)

    async def _open(self) -> None:
        o = self.state.opened
        policy = await local_step(ReadModelActivities.load_policy)
        self.state.policy = policy
        durations = policy.document.get("sla", {})
        for clock in ("acknowledge", "investigate", "resolve"):
            if clock in durations:
                self.clocks.start(clock, str(durations[clock]), policy, "analyst")
        self.record.event(o.opened_by, "dispute.opened",
                          f"Dispute opened for {fmt(o.disputed_amount, o.currency)} on invoice "
                          f"{o.invoice_number} ({o.reason_code}).",
                          {"after": {"status": "investigating"}, "policy_version": policy.version,
                           "channel": o.channel})
        await self.record.persist()
        findings = await workflow.execute_activity_method(
            InvestigationActivities.gather_findings,
            GatherFindings(dispute_id=o.dispute_id, account_id=o.account_id,
                           invoice_number=o.invoice_number, line_ids=o.line_ids),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)
        self.state.findings = findings
        implied = sum((f.implied_credit for f in findings), start=o.disputed_amount * 0)
        issues = [f for f in findings if f.status == "discrepancy"]
        self.record.event("system", "findings.recorded",
                          f"Automatic investigation: {len(issues)} discrepancies found, implying "
                          f"{fmt(implied, o.currency)} of credit.",
                          {"findings": len(findings), "discrepancies": len(issues)})
        await self.record.persist()

    # --- updates ------------------------------------------------------------------------

    @workflow.update(name="submit_investigation")
    async def submit_investigation(self, req: SubmitInvestigation) -> UpdateResult:
        rules.check_investigation(self.state, req, self._submitting)
        self._submitting = True
        try:
            return await self._apply_investigation(req)
        finally:
            self._submitting = False

    @submit_investigation.validator
    def _validate_investigation(self, req: SubmitInvestigation) -> None:
        rules.check_investigation(self.state, req, self._submitting)

    async def _apply_investigation(self, req: SubmitInvestigation) -> UpdateResult:
        o = self.state.opened
        now = workflow.now()
        record = InvestigationRecord(
            root_cause=req.root_cause, resolution=req.resolution, credit_lines=req.credit_lines,
            prior_period=req.prior_period, note=req.note, submitted_by=req.actor.id,
            submitted_at=now)
        self.clocks.acknowledge(req.actor.id)
        if req.resolution == "deny":
            self.state.investigation = record
            self.clocks.stop("investigate", now)
            self.record.close("denied",
                              f"Denied by {req.actor.id}: {req.note or req.root_cause}.")
            self.record.event(
                req.actor.id, "investigation.submitted",
                f"Investigation submitted: root cause {req.root_cause}, resolution deny.",
                {"root_cause": req.root_cause, "resolution": "deny", "note": req.note})
            await self.record.persist()
            await self.record.notify_opener("denied", f"Dispute {o.dispute_id} was denied: "
                                            f"{req.note or req.root_cause}.")
            return self.record.result("The dispute is denied.")

        prepared = await self.memos.prepare(req.actor.id, req.resolution, req.credit_lines,
                                            req.prior_period)
        if self.state.status != "investigating":  # withdrawn while we were preparing
            raise refuse("wrong_state", f"The dispute became {self.state.status} meanwhile.")
        memo = prepared.memo
        self.state.investigation = record
        self.clocks.stop("investigate", now)
        self.record.event(req.actor.id, "investigation.submitted",
                          f"Investigation submitted: root cause {req.root_cause}, resolution "
                          f"{req.resolution}, credit memo {memo.number} for "
                          f"{fmt(memo.total, memo.currency)}.",
                          {"root_cause": req.root_cause, "resolution": req.resolution,
                           "credit_memo": memo.number, "total": str(memo.total), "note": req.note})
        self.memos.install(prepared, now)
        await self.record.persist()
        return self.record.result(
            f"Credit memo {memo.number} is waiting for approval." if memo.levels
            else f"Credit memo {memo.number} is auto-approved.")

    @workflow.update(name="revise_credit_memo")
    async def revise_credit_memo(self, req: ReviseCreditMemo) -> UpdateResult:
        """A change to the memo under approval voids its approvals; the chain starts again."""
        rules.check_revision(self.state, req, self._submitting)
        self._submitting = True
        try:
            inv = self.state.investigation
            assert inv is not None
            resolution = req.resolution or inv.resolution
            prepared = await self.memos.prepare(req.actor.id, resolution, req.credit_lines,
                                                req.prior_period)
            rules.check_revision(self.state, req, busy=False)
        finally:
            self._submitting = False
        now = workflow.now()
        old = self.state.credit_memo
        assert old is not None
        old.status = "voided"
        voided = [lv for lv in old.levels if lv.status == "approved"]
        for lv in old.levels:
            if lv.status in OPEN_LEVEL_STATUSES:
                self.slack.level(LevelDecided, lv.level, old.number)
            if lv.status in ("waiting", "pending", "escalated"):
                lv.status = "voided"
            self.clocks.stop(f"approval_{old.number}_{lv.level}", now)
        self.state.investigation = inv.model_copy(update={
            "credit_lines": req.credit_lines, "prior_period": req.prior_period,
            "resolution": resolution, "note": req.note or inv.note})
        memo = prepared.memo
        self.record.event(req.actor.id, "credit_memo.revised",
                          f"Credit memo {old.number} ({fmt(old.total, old.currency)}) replaced by "
                          f"{memo.number} ({fmt(memo.total, memo.currency)}); "
                          f"{len(voided)} approval(s) voided, the approval chain starts again.",
                          {"before": {"credit_memo": old.number, "total": str(old.total)},
                           "after": {"credit_memo": memo.number, "total": str(memo.total)},
                           "voided_approvals": [lv.approver_id for lv in voided], "note": req.note})
        self.memos.install(prepared, now)
        await self.record.persist()
        return self.record.result(
            f"Credit memo {memo.number} replaces {old.number}; approval starts again.")

    @revise_credit_memo.validator
    def _validate_revision(self, req: ReviseCreditMemo) -> None:
        rules.check_revision(self.state, req, self._submitting)

    @workflow.update(name="decide")
    async def decide(self, req: DecideLevel) -> UpdateResult:
        level, verdict = rules.check_decision(self.state, req, workflow.now())
        memo = self.state.credit_memo
        assert memo is not None
        now = workflow.now()
        level.status = DECIDED_STATUS[req.decision]
        level.approver_id = req.actor.id
        level.delegate_of = verdict.delegate_of
        level.acting_role = verdict.acting_role
        level.decided_at = now
        level.channel = req.channel
        level.comment = req.comment or None
        level.sod_checks = [c.model_dump() for c in verdict.checks]
        self.clocks.acknowledge(req.actor.id)
        self.clocks.stop(f"approval_{memo.number}_{level.level}", now)
        self.slack.level(LevelDecided, level.level)
        who = req.actor.id + (f" (delegate of {verdict.delegate_of})" if verdict.delegate_of
                              else "")
        if req.decision == "reject":
            memo.status = "rejected"
            for other in memo.levels:
                if other.status == "waiting":
                    other.status = "voided"
            self.state.status = "investigating"
            self.state.rejections += 1
            self.record.event(req.actor.id, "approval.rejected",
                              f"Level {level.level} ({level.role}) rejected credit memo "
                              f"{memo.number} by {who} via {req.channel}: {req.comment}",
                              {"level": level.level, "role": level.role, "comment": req.comment,
                               "channel": req.channel, "delegate_of": verdict.delegate_of,
                               "after": {"status": "investigating"}})
            await self.record.persist()
            return self.record.result(
                f"Rejected; the dispute is back with the analyst: {req.comment}")

        self.record.event(req.actor.id, "approval.approved",
                          f"Level {level.level} of {len(memo.levels)} ({level.role}) approved "
                          f"credit memo {memo.number} by {who} via {req.channel}."
                          + (f" Comment: {req.comment}" if req.comment else ""),
                          {"level": level.level, "role": level.role, "comment": req.comment,
                           "channel": req.channel, "delegate_of": verdict.delegate_of,
                           "sod_checks": level.sod_checks})
        following = [lv for lv in memo.levels if lv.status == "waiting"]
        if following:
            self.memos.activate(following[0], now)
            await self.record.persist()
            return self.record.result(f"Approved; level {following[0].level} ({following[0].role}) "
                                      "is next.")
        memo.status = "approved"
        self.record.event("system", "credit_memo.approved",
                          f"Credit memo {memo.number} fully approved; posting to the ledger.",
                          {"credit_memo": memo.number})
        await self.record.persist()
        return await self._posting_outcome("Approved")

    async def _posting_outcome(self, done: str) -> UpdateResult:
        """Answer with the resolved dispute when posting is quick (or with the ledger's
        refusal); never hold the caller long."""
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: (self.state.status != "pending_approval"
                         or rules.posting_refused(self.state)) and self.record.up_to_date,
                timeout=FINAL_APPROVAL_WAIT)
        memo = self.state.credit_memo
        if rules.posting_refused(self.state) and memo is not None:
            return self.record.result(f"{done}, but the ledger refused the credit memo: "
                                      f"{memo.posting_error}")
        return self.record.result(f"{done}; the credit memo is posted." if
                                  self.state.status == "resolved" else
                                  f"{done}; the credit memo is being posted.")

    @decide.validator
    def _validate_decision(self, req: DecideLevel) -> None:
        rules.check_decision(self.state, req, workflow.now())

    @workflow.update(name="withdraw")
    async def withdraw(self, req: Withdraw) -> UpdateResult:
        rules.check_withdraw(self.state, req, self._submitting)
        memo = self.state.credit_memo
        if memo is not None and memo.status == "pending_approval":
            memo.status = "voided"
            for lv in memo.levels:
                if lv.status in OPEN_LEVEL_STATUSES:
                    self.slack.level(LevelDecided, lv.level)
                if lv.status in ("waiting", "pending", "escalated"):
                    lv.status = "voided"
        self.record.close("withdrawn",
                          f"Withdrawn by {req.actor.id}: {req.comment or 'no comment'}.")
        self.record.event(req.actor.id, "dispute.withdrawn",
                          f"Dispute withdrawn by {req.actor.id}."
                          + (f" Comment: {req.comment}" if req.comment else ""),
                          {"comment": req.comment, "after": {"status": "withdrawn"}})
        await self.record.persist()
        return self.record.result("The dispute is withdrawn.")

    @withdraw.validator
    def _validate_withdraw(self, req: Withdraw) -> None:
        rules.check_withdraw(self.state, req, self._submitting)

    @workflow.update(name="repost")
    async def repost(self, req: RepostCreditMemo) -> UpdateResult:
        """Post a memo the ledger refused again (the same idempotency key), once the cause
        is fixed in the ERP; the answer says whether it is posted now or refused again."""
        rules.check_repost(self.state, req)
        self.memos.repost(req.actor, req.comment)
        await self.record.persist()
        return await self._posting_outcome("Sent to the ledger again")

    @repost.validator
    def _validate_repost(self, req: RepostCreditMemo) -> None:
        rules.check_repost(self.state, req)

    @workflow.query(name="state")
    def get_state(self) -> DisputeState:
        return self.state

    @workflow.query(name="check_decision")
    def check_decision(self, question: DecisionQuestion) -> DecisionCheck:
        """Whether ``decide`` would accept the decision at the time asked (the validator's
        own rule), so a channel can ask before it asks the person for more (Slack's
        rejection form)."""
        return rules.decision_check(self.state, question.decision, question.at)

    def _needs_posting(self) -> bool:
        return rules.needs_posting(self.state)


__all__ = ["DisputeWorkflow"]
