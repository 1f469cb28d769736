"""One durable workflow per dispute (workflow id = dispute id).

The workflow is the single writer of a dispute's state. Analysts and approvers change it
only through Updates whose validators refuse at once what the state or the SOX policy does
not allow (wrong state, missing role, segregation of duties); every accepted change is
written to the read model and the audit trail by an idempotent activity before the Update
returns, so the API answers with the new state.

Deterministic only: time from ``workflow.now()``, all I/O in activities.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import workflows.rules as rules
    import workflows.sla as sla
    from domain.models import (
        AuditEntry,
        DecideLevel,
        DisputeState,
        Finding,
        GatherFindings,
        Notify,
        PolicyRef,
        RecordSnapshot,
        ReviseCreditMemo,
        SubmitInvestigation,
        UpdateResult,
        Withdraw,
        WorkflowInput,
    )
    from domain.models import Investigation as InvestigationRecord
    from domain.money import fmt
    from workflows.dispute_memo import MemoSteps
    from workflows.dispute_sla import SlaClocks
    from workflows.dispute_slack import SlackOutbox
    from workflows.options import ACTIVITY_TIMEOUT, RETRY
    from workflows.rules import OPEN, refuse

FINAL_APPROVAL_WAIT = timedelta(seconds=5)  # under the API's update wait
# Continue as new well before Temporal's limits, so a dispute alerting daily for a year
# keeps a small history (and a small replay cost in the worker).
MAX_HISTORY_EVENTS = 2000
SLA_TIMERS_PATCH = "sla-timers-v1"
# Short database steps run as local activities: no round trip through the server's task
# queue, so a decision answers in milliseconds. Ledger posting and connector reads stay
# regular activities (external systems, independent retries and timeouts).
LOCAL_ACTIVITIES_PATCH = "local-activities-v1"


@workflow.defn(name="DisputeWorkflow")
class DisputeWorkflow(MemoSteps, SlaClocks, SlackOutbox):
    @workflow.init
    def __init__(self, inp: WorkflowInput) -> None:
        self.state: DisputeState = inp.state or DisputeState(opened=inp.opened)
        self._events: list[AuditEntry] = []
        self._persist_lock = asyncio.Lock()
        self._submitting = False
        self._persisted = self.state.revision  # highest revision the read model has
        self._slack_queue: list[tuple[str, dict[str, object]]] = []
        self._slack_running: list[asyncio.Future[object]] = []

    # --- the main line ------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: WorkflowInput) -> UpdateResult:
        if self.state.revision == 0:
            await self._open()
        while True:
            if self._needs_posting():
                await self._post()
                continue
            if self.state.status not in OPEN:
                break
            if self._history_too_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._slack_settled()
                workflow.continue_as_new(WorkflowInput(opened=self.state.opened, state=self.state))
            revision = self.state.revision
            timeout: timedelta | None = None
            if workflow.patched(SLA_TIMERS_PATCH):
                next_at = sla.next_event_at(self.state)
                if next_at is not None:
                    timeout = next_at - workflow.now()
                    if timeout <= timedelta(0):
                        await self._fire_due_clocks()
                        continue
            try:
                await workflow.wait_condition(
                    lambda rev=revision: self._needs_posting()  # type: ignore[misc]
                    or self.state.status not in OPEN
                    or self.state.revision != rev
                    or workflow.info().is_continue_as_new_suggested(),
                    timeout=timeout)
            except TimeoutError:
                await self._fire_due_clocks()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._slack_settled()
        return UpdateResult(status=self.state.status, revision=self.state.revision,
                            message=self.state.close_reason or self.state.status)

    def _history_too_long(self) -> bool:
        info = workflow.info()
        return (info.is_continue_as_new_suggested()
                or info.get_current_history_length() > MAX_HISTORY_EVENTS)

    async def _open(self) -> None:
        o = self.state.opened
        policy = await self._db_step("load_policy", result_type=PolicyRef)
        assert isinstance(policy, PolicyRef)
        self.state.policy = policy
        durations = policy.document.get("sla", {})
        for clock in ("acknowledge", "investigate", "resolve"):
            if clock in durations:
                self._start_clock(clock, str(durations[clock]), policy, "analyst")
        self._event(o.opened_by, "dispute.opened",
                    f"Dispute opened for {fmt(o.disputed_amount, o.currency)} on invoice "
                    f"{o.invoice_number} ({o.reason_code}).",
                    {"after": {"status": "investigating"}, "policy_version": policy.version})
        await self._persist()
        findings = await workflow.execute_activity(
            "gather_findings",
            GatherFindings(dispute_id=o.dispute_id, account_id=o.account_id,
                           invoice_number=o.invoice_number, line_ids=o.line_ids),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
            result_type=list[Finding])
        self.state.findings = findings
        implied = sum((f.implied_credit for f in findings), start=o.disputed_amount * 0)
        issues = [f for f in findings if f.status == "discrepancy"]
        self._event("system", "findings.recorded",
                    f"Automatic investigation: {len(issues)} discrepancies found, implying "
                    f"{fmt(implied, o.currency)} of credit.",
                    {"findings": len(findings), "discrepancies": len(issues)})
        await self._persist()

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
        self._acknowledge(req.actor.id)
        if req.resolution == "deny":
            self.state.investigation = record
            self._stop_clock("investigate", now)
            self._close("denied", f"Denied by {req.actor.id}: {req.note or req.root_cause}.")
            self._event(req.actor.id, "investigation.submitted",
                        f"Investigation submitted: root cause {req.root_cause}, resolution deny.",
                        {"root_cause": req.root_cause, "resolution": "deny", "note": req.note})
            await self._persist()
            await self._notify_opener("denied", f"Dispute {o.dispute_id} was denied: "
                                      f"{req.note or req.root_cause}.")
            return self._result("The dispute is denied.")

        prepared = await self._prepare(req.actor.id, req.resolution, req.credit_lines,
                                       req.prior_period)
        if self.state.status != "investigating":  # withdrawn while we were preparing
            raise refuse("wrong_state", f"The dispute became {self.state.status} meanwhile.")
        memo = prepared.memo
        self.state.investigation = record
        self._stop_clock("investigate", now)
        self._event(req.actor.id, "investigation.submitted",
                    f"Investigation submitted: root cause {req.root_cause}, resolution "
                    f"{req.resolution}, credit memo {memo.number} for "
                    f"{fmt(memo.total, memo.currency)}.",
                    {"root_cause": req.root_cause, "resolution": req.resolution,
                     "credit_memo": memo.number, "total": str(memo.total), "note": req.note})
        self._install_memo(prepared, now)
        await self._persist()
        return self._result(f"Credit memo {memo.number} is waiting for approval."
                            if memo.levels else f"Credit memo {memo.number} is auto-approved.")

    @workflow.update(name="revise_credit_memo")
    async def revise_credit_memo(self, req: ReviseCreditMemo) -> UpdateResult:
        """A change to the memo under approval voids its approvals; the chain starts again."""
        rules.check_revision(self.state, req, self._submitting)
        self._submitting = True
        try:
            inv = self.state.investigation
            assert inv is not None
            resolution = req.resolution or inv.resolution
            prepared = await self._prepare(req.actor.id, resolution, req.credit_lines,
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
            if lv.status in ("pending", "escalated"):
                self._slack_level("slack_level_decided", lv.level, old.number)
            if lv.status in ("waiting", "pending", "escalated"):
                lv.status = "voided"
            self._stop_clock(f"approval_{old.number}_{lv.level}", now)
        self.state.investigation = inv.model_copy(update={
            "credit_lines": req.credit_lines, "prior_period": req.prior_period,
            "resolution": resolution, "note": req.note or inv.note})
        memo = prepared.memo
        self._event(req.actor.id, "credit_memo.revised",
                    f"Credit memo {old.number} ({fmt(old.total, old.currency)}) replaced by "
                    f"{memo.number} ({fmt(memo.total, memo.currency)}); "
                    f"{len(voided)} approval(s) voided, the approval chain starts again.",
                    {"before": {"credit_memo": old.number, "total": str(old.total)},
                     "after": {"credit_memo": memo.number, "total": str(memo.total)},
                     "voided_approvals": [lv.approver_id for lv in voided], "note": req.note})
        self._install_memo(prepared, now)
        await self._persist()
        return self._result(f"Credit memo {memo.number} replaces {old.number}; approval starts "
                            "again.")

    @revise_credit_memo.validator
    def _validate_revision(self, req: ReviseCreditMemo) -> None:
        rules.check_revision(self.state, req, self._submitting)

    @workflow.update(name="decide")
    async def decide(self, req: DecideLevel) -> UpdateResult:
        level, verdict = rules.check_decision(self.state, req, workflow.now())
        memo = self.state.credit_memo
        assert memo is not None
        now = workflow.now()
        level.status = "approved" if req.decision == "approve" else "rejected"
        level.approver_id = req.actor.id
        level.delegate_of = verdict.delegate_of
        level.acting_role = verdict.acting_role
        level.decided_at = now
        level.channel = req.channel
        level.comment = req.comment or None
        level.sod_checks = [c.model_dump() for c in verdict.checks]
        self._acknowledge(req.actor.id)
        self._stop_clock(f"approval_{memo.number}_{level.level}", now)
        self._slack_level("slack_level_decided", level.level)
        who = req.actor.id + (f" (delegate of {verdict.delegate_of})" if verdict.delegate_of
                              else "")
        if req.decision == "reject":
            memo.status = "rejected"
            for other in memo.levels:
                if other.status == "waiting":
                    other.status = "voided"
            self.state.status = "investigating"
            self.state.rejections += 1
            self._event(req.actor.id, "approval.rejected",
                        f"Level {level.level} ({level.role}) rejected credit memo {memo.number} "
                        f"by {who} via {req.channel}: {req.comment}",
                        {"level": level.level, "role": level.role, "comment": req.comment,
                         "channel": req.channel, "delegate_of": verdict.delegate_of,
                         "after": {"status": "investigating"}})
            await self._persist()
            return self._result(f"Rejected; the dispute is back with the analyst: {req.comment}")

        self._event(req.actor.id, "approval.approved",
                    f"Level {level.level} of {len(memo.levels)} ({level.role}) approved credit "
                    f"memo {memo.number} by {who} via {req.channel}."
                    + (f" Comment: {req.comment}" if req.comment else ""),
                    {"level": level.level, "role": level.role, "comment": req.comment,
                     "channel": req.channel, "delegate_of": verdict.delegate_of,
                     "sod_checks": level.sod_checks})
        following = [lv for lv in memo.levels if lv.status == "waiting"]
        if following:
            self._activate_level(following[0], now)
            await self._persist()
            return self._result(f"Approved; level {following[0].level} ({following[0].role}) "
                                "is next.")
        memo.status = "approved"
        self._event("system", "credit_memo.approved",
                    f"Credit memo {memo.number} fully approved; posting to the ledger.",
                    {"credit_memo": memo.number})
        await self._persist()
        # Answer with the resolved dispute when posting is quick; never hold the caller long.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self.state.status != "pending_approval"
                and self._persisted >= self.state.revision,
                timeout=FINAL_APPROVAL_WAIT)
        return self._result("Approved; the credit memo is posted." if
                            self.state.status == "resolved" else
                            "Approved; the credit memo is being posted.")

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
                if lv.status in ("pending", "escalated"):
                    self._slack_level("slack_level_decided", lv.level)
                if lv.status in ("waiting", "pending", "escalated"):
                    lv.status = "voided"
        self._close("withdrawn", f"Withdrawn by {req.actor.id}: {req.comment or 'no comment'}.")
        self._event(req.actor.id, "dispute.withdrawn",
                    f"Dispute withdrawn by {req.actor.id}."
                    + (f" Comment: {req.comment}" if req.comment else ""),
                    {"comment": req.comment, "after": {"status": "withdrawn"}})
        await self._persist()
        return self._result("The dispute is withdrawn.")

    @withdraw.validator
    def _validate_withdraw(self, req: Withdraw) -> None:
        rules.check_withdraw(self.state, req, self._submitting)

    @workflow.query(name="state")
    def get_state(self) -> DisputeState:
        return self.state

    # --- posting ------------------------------------------------------------------------

    def _needs_posting(self) -> bool:
        return rules.needs_posting(self.state)

    # --- helpers ------------------------------------------------------------------------

    async def _db_step(self, name: str, arg: object = None, *, result_type: type | None = None,
                       retry_policy: RetryPolicy = RETRY) -> object:
        """A short database activity: local once patched, a regular activity for old runs."""
        args = [] if arg is None else [arg]
        if workflow.patched(LOCAL_ACTIVITIES_PATCH):
            return await workflow.execute_local_activity(
                name, args=args, start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=retry_policy, result_type=result_type)
        return await workflow.execute_activity(
            name, args=args, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=retry_policy,
            result_type=result_type)

    def _acknowledge(self, actor: str) -> None:
        if self.state.acknowledged_by is None:
            self.state.acknowledged_by = actor
            self._stop_clock("acknowledge", workflow.now())

    def _close(self, status: str, reason: str) -> None:
        now = workflow.now()
        self.state.status = status  # type: ignore[assignment]
        self.state.closed_at = now
        self.state.close_reason = reason
        elapsed = sla.calendar_of(self.state.policy).elapsed(self.state.opened.opened_at, now)
        self.state.turnaround_seconds = int(elapsed.total_seconds())
        for clock in self.state.sla.values():
            if clock.stopped_at is None:
                clock.stopped_at = now

    def _event(self, actor: str, action: str, message: str, data: dict | None = None) -> None:
        self._events.append(AuditEntry(actor=actor, action=action, message=message,
                                       data=data or {}, at=workflow.now()))

    async def _persist(self) -> None:
        """Write state and pending audit events; serialized so revisions only go up."""
        async with self._persist_lock:
            self.state.revision += 1
            revision = self.state.revision
            events, self._events = self._events, []
            await self._db_step("record_snapshot", RecordSnapshot(
                state=self.state, events=events, slack_steps=self._outbox_steps()))
            self._persisted = revision
        self._flush_slack()

    async def _notify_opener(self, kind: str, message: str) -> None:
        o = self.state.opened
        await self._db_step("notify", Notify(key=f"{o.dispute_id}:{kind}",
                                             dispute_id=o.dispute_id, recipient=o.opened_by,
                                             message=message))

    def _result(self, message: str) -> UpdateResult:
        return UpdateResult(status=self.state.status, revision=self.state.revision,
                            message=message)


__all__ = ["DisputeWorkflow"]
