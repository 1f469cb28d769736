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
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.models import (
        ApprovalLevel,
        AuditEntry,
        DecideLevel,
        DisputeState,
        Finding,
        GatherFindings,
        Notify,
        PolicyRef,
        PostCreditMemo,
        Posted,
        PrepareCreditMemo,
        PreparedCreditMemo,
        RecordSnapshot,
        ReviseCreditMemo,
        SlaClock,
        SubmitInvestigation,
        UpdateResult,
        Withdraw,
        WorkflowInput,
    )
    from domain.models import Investigation as InvestigationRecord
    from domain.money import fmt
    from workflows import rules, sla
    from workflows.rules import OPEN, refuse

# Database writes and connector reads retry until they succeed: an outage delays a dispute,
# it never fails it. Validation refusals are non-retryable ApplicationErrors.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=30))
ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Interactive steps (an analyst waiting on a submission) give up sooner and say so.
INTERACTIVE_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200),
                                maximum_interval=timedelta(seconds=2), maximum_attempts=5)
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
class DisputeWorkflow:
    @workflow.init
    def __init__(self, inp: WorkflowInput) -> None:
        self.state: DisputeState = inp.state or DisputeState(opened=inp.opened)
        self._events: list[AuditEntry] = []
        self._persist_lock = asyncio.Lock()
        self._submitting = False
        self._persisted = self.state.revision  # highest revision the read model has

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
                raise refuse(cause.type, cause.message) from None
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

    # --- SLA clocks ---------------------------------------------------------------------

    async def _fire_due_clocks(self) -> None:
        """Remind, record breaches, escalate; then persist once and notify."""
        now = workflow.now()
        due = sla.due_now(self.state, now)
        o = self.state.opened
        notes: list[Notify] = []

        def note(key: str, recipient: str, message: str) -> None:
            notes.append(Notify(key=f"{o.dispute_id}:{key}", dispute_id=o.dispute_id,
                                recipient=recipient, message=message))

        for name in due.reminders:
            clock = self.state.sla[name]
            clock.reminded = True
            msg = (f"Reminder: {self._clock_words(name)} on dispute {o.dispute_id} is due "
                   f"{clock.due_at.isoformat()}.")
            self._event("system", "sla.reminder", msg, {"clock": name,
                                                         "due_at": clock.due_at.isoformat()})
            note(f"{name}:remind", f"role:{clock.assignee_role}", msg)
        for name in due.breaches:
            clock = self.state.sla[name]
            clock.breached, clock.breached_at = True, now
            msg = (f"SLA breached: {self._clock_words(name)} on dispute {o.dispute_id} was due "
                   f"{clock.due_at.isoformat()} ({clock.assignee_role}); "
                   f"{fmt(o.disputed_amount, o.currency)} waiting.")
            self._event("system", "sla.breached", msg,
                        {"clock": name, "due_at": clock.due_at.isoformat(),
                         "assignee_role": clock.assignee_role})
            note(f"{name}:breach", "managers", msg)
            self._escalate(name, clock, now, note)
        for name in due.repeat_alerts:
            clock = self.state.sla[name]
            clock.alerts += 1
            clock.next_alert_at = sla.calendar_of(self.state.memo_policy).add(now,
                                                                               sla.REPEAT_ALERT)
            msg = (f"Still breached: {self._clock_words(name)} on dispute {o.dispute_id}, due "
                   f"{clock.due_at.isoformat()}, has no backup role; "
                   f"{clock.assignee_role} must decide.")
            self._event("system", "sla.still_breached", msg,
                        {"clock": name, "alerts": clock.alerts})
            note(f"{name}:alert:{clock.alerts}", "managers", msg)
        await self._persist()
        for n in notes:
            await self._db_step("notify", n)

    def _escalate(self, name: str, clock: SlaClock, now: datetime, note: object) -> None:
        memo = self.state.credit_memo
        if clock.level is None or memo is None:
            return
        level = next((lv for lv in memo.levels if lv.level == clock.level), None)
        if level is None or level.status != "pending":
            return
        if level.escalate_to:
            level.status = "escalated"
            msg = (f"Level {level.level} ({level.role}) of credit memo {memo.number} escalated "
                   f"to {level.escalate_to}, who may now decide it too.")
            self._event("system", "approval.escalated", msg,
                        {"level": level.level, "role": level.role,
                         "escalate_to": level.escalate_to})
            note(f"{name}:escalate", f"role:{level.escalate_to}", msg)  # type: ignore[operator]
        else:
            clock.next_alert_at = sla.calendar_of(self.state.memo_policy).add(now,
                                                                               sla.REPEAT_ALERT)

    def _clock_words(self, name: str) -> str:
        clock = self.state.sla[name]
        if clock.level is not None:
            return f"approval level {clock.level} ({clock.assignee_role})"
        return {"acknowledge": "acknowledgement", "investigate": "investigation",
                "resolve": "resolution"}.get(name, name)

    # --- posting ------------------------------------------------------------------------

    def _needs_posting(self) -> bool:
        return rules.needs_posting(self.state)

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

    def _start_clock(self, name: str, duration: str, policy: PolicyRef | None,
                     assignee_role: str, level: int | None = None) -> None:
        self.state.sla[name] = sla.new_clock(now=workflow.now(), duration=duration,
                                             policy=policy, assignee_role=assignee_role,
                                             level=level)

    def _stop_clock(self, name: str, at: datetime) -> None:
        clock = self.state.sla.get(name)
        if clock is not None and clock.stopped_at is None:
            clock.stopped_at = at

    def _activate_level(self, level: ApprovalLevel, now: datetime) -> None:
        level.status = "pending"
        if level.sla:
            name = f"approval_{self.state.credit_memo.number}_{level.level}"  # type: ignore[union-attr]
            self._start_clock(name, level.sla, self.state.memo_policy, level.role, level.level)
            level.due_at = self.state.sla[name].due_at

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
            await self._db_step("record_snapshot", RecordSnapshot(state=self.state, events=events))
            self._persisted = revision

    async def _notify_opener(self, kind: str, message: str) -> None:
        o = self.state.opened
        await self._db_step("notify", Notify(key=f"{o.dispute_id}:{kind}",
                                             dispute_id=o.dispute_id, recipient=o.opened_by,
                                             message=message))

    def _result(self, message: str) -> UpdateResult:
        return UpdateResult(status=self.state.status, revision=self.state.revision,
                            message=message)


__all__ = ["DisputeWorkflow"]
