"""What a dispute allows, given its state: the checks behind every Update validator.

Pure functions over the workflow state, raising non-retryable ApplicationErrors whose type
is the API error code. The validators call them to refuse at once; the handlers call them
again before changing anything, because two Updates can pass their validators before either
handler runs.
"""

from __future__ import annotations

from datetime import datetime

from temporalio.exceptions import ApplicationError

from approvals.sod import DecisionContext, DecisionVerdict, Delegation
from approvals.sod import check_decision as sod_verdict
from domain.codes import DECIDED_STATUS
from domain.dispute_view import open_level
from domain.models import (
    ApprovalLevel,
    CreditMemo,
    DecideLevel,
    DecisionCheck,
    DisputeState,
    RepostCreditMemo,
    ReviseCreditMemo,
    SubmitInvestigation,
    Withdraw,
)

OPEN = ("investigating", "pending_approval")
# Who may send a memo the ledger refused to it again: it changes no amount and no approval,
# so the people who run billing operations and the books (and admins, who fix connections).
REPOST_ROLES = ("manager", "controller", "admin")


def refuse(code: str, message: str, details: dict[str, object] | None = None
           ) -> ApplicationError:
    """A refusal the API returns as ``code``; ``details`` (e.g. the field) travel with it."""
    if details:
        return ApplicationError(message, details, type=code, non_retryable=True)
    return ApplicationError(message, type=code, non_retryable=True)


def _status(state: DisputeState) -> str:
    return state.status.replace("_", " ")


def needs_posting(state: DisputeState) -> bool:
    memo = state.credit_memo
    return memo is not None and memo.status == "approved" and state.status in OPEN


def posting_refused(state: DisputeState) -> bool:
    """The memo is approved, the ledger refused it, and it waits for a re-post."""
    memo = state.credit_memo
    return memo is not None and memo.status == "posting_failed" and state.status in OPEN


def check_investigation(state: DisputeState, req: SubmitInvestigation, busy: bool) -> None:
    if state.status != "investigating":
        raise refuse("wrong_state", f"The dispute is {_status(state)}; an investigation can "
                     "only be submitted while it is investigating.")
    if busy:
        raise refuse("wrong_state", "Another change to this dispute is being submitted right "
                     "now; reload the dispute and try again.")
    if "analyst" not in req.actor.roles:
        raise refuse("forbidden", "Only an analyst can submit the investigation.")
    if req.resolution == "deny" and req.credit_lines:
        raise refuse("validation_error", "A denial carries no credit lines; remove them or "
                     "choose a credit resolution.")
    if req.resolution != "deny" and not req.credit_lines:
        raise refuse("validation_error", f"The resolution {req.resolution} needs credit lines "
                     "(line_id and amount).")


def check_revision(state: DisputeState, req: ReviseCreditMemo, busy: bool) -> None:
    if state.status != "pending_approval" or state.credit_memo is None or needs_posting(state):
        raise refuse("wrong_state", f"The dispute is {_status(state)}; only a credit memo "
                     "waiting for approval can be changed (submit the investigation instead).")
    if busy:
        raise refuse("wrong_state", "Another change to this dispute is being submitted right "
                     "now; reload the dispute and try again.")
    if "analyst" not in req.actor.roles:
        raise refuse("forbidden", "Only an analyst can change the credit memo.")
    if not req.credit_lines:
        raise refuse("validation_error", "A credit memo needs credit lines (line_id and amount).")
    if req.resolution == "deny":
        raise refuse("validation_error", "To deny, reject the credit memo and submit a denial.")


def check_withdraw(state: DisputeState, req: Withdraw, busy: bool) -> None:
    if state.status not in OPEN or needs_posting(state):
        raise refuse("wrong_state", f"The dispute is {_status(state)} and can no longer be "
                     "withdrawn.")
    if posting_refused(state):
        raise refuse("wrong_state", "The credit memo is approved and waits to be re-posted "
                     "to the ledger; re-post it, or have the analyst revise it, first.")
    if busy:
        raise refuse("wrong_state", "A change is being submitted right now; try again in a "
                     "moment.")


def check_repost(state: DisputeState, req: RepostCreditMemo) -> None:
    memo = state.credit_memo
    if memo is None or memo.number != req.memo_number:
        raise refuse("wrong_state", f"Credit memo {req.memo_number} is not the memo this "
                     "dispute is waiting on; nothing to re-post.",
                     {"memo_number": req.memo_number})
    if not posting_refused(state):
        raise refuse("wrong_state", f"Credit memo {memo.number} is "
                     f"{memo.status.replace('_', ' ')}; only a memo the ledger refused can be "
                     "re-posted.", {"memo_number": memo.number, "memo_status": memo.status})
    if not set(req.actor.roles) & set(REPOST_ROLES):
        raise refuse("forbidden", "Only a manager, a controller or an admin can re-post a "
                     "credit memo to the ledger.")


def pending_level(state: DisputeState) -> ApprovalLevel | None:
    memo = state.credit_memo
    return open_level(memo.levels) if memo is not None else None


def _memo(state: DisputeState, number: str) -> CreditMemo | None:
    memos = [*([state.credit_memo] if state.credit_memo else []), *state.past_memos]
    return next((m for m in memos if m.number == number), None)


def _check_button(state: DisputeState, req: DecideLevel) -> None:
    """A decision that names its level (and memo: a Slack or web button; the current one
    otherwise) applies to exactly those: a decided level says by whom, a replaced memo says
    so — with the facts in the details, for the caller to put names to."""
    current = state.credit_memo
    memo = _memo(state, req.memo_number) if req.memo_number else current
    if memo is None:
        raise refuse("wrong_state", f"Credit memo {req.memo_number} is not one of this "
                     "dispute's.", {"memo_number": req.memo_number})
    asked = next((lv for lv in memo.levels if lv.level == req.level), None)
    if asked is not None and asked.approver_id and asked.status in DECIDED_STATUS.values():
        raise refuse("wrong_state", f"Level {asked.level} of credit memo {memo.number} was "
                     f"already {asked.status} by {asked.approver_id}.", {
                         "memo_number": memo.number, "level": asked.level,
                         "status": asked.status, "approver_id": asked.approver_id,
                         "decided_at": asked.decided_at.isoformat() if asked.decided_at
                         else None, "channel": asked.channel})
    if current is None or memo.number != current.number or memo.status != "pending_approval":
        what = {"rejected": "was rejected", "approved": "is already approved",
                "posted": "is already approved and posted"}.get(memo.status,
                                                                "was changed or withdrawn")
        now = f" (now {current.number})" if current is not None and current is not memo else ""
        raise refuse("wrong_state", f"Credit memo {memo.number} {what}{now}, so this decision "
                     "no longer applies.", {
                         "memo_number": memo.number, "memo_status": memo.status,
                         "current_memo": current.number if current else None})


def check_decision(
    state: DisputeState, req: DecideLevel, now: datetime, *, asking: bool = False
) -> tuple[ApprovalLevel, DecisionVerdict]:
    """The level ``req`` decides and the policy's verdict, or the refusal. ``asking``: only
    whether this person may decide it (before they have written a rejection's reason)."""
    if req.memo_number is not None or req.level is not None:
        _check_button(state, req)
    memo = state.credit_memo
    level = pending_level(state)
    if state.status != "pending_approval" or memo is None or level is None:
        raise refuse("wrong_state", f"The dispute is {_status(state)}; there is no approval "
                     "waiting for a decision.")
    if req.level is not None and req.level != level.level:
        raise refuse("wrong_state", f"Level {req.level} is not waiting for a decision; level "
                     f"{level.level} is.")
    if req.decision == "reject" and not req.comment.strip() and not asking:
        raise refuse("validation_error", "A rejection needs a reason in the comment.")
    prior = [lv.approver_id for lv in memo.levels if lv.level < level.level and lv.approver_id]
    verdict = check_decision_policy(state, req, level, prior, now)
    if not verdict.allowed:
        raise refuse(verdict.code or "forbidden", verdict.message or "Not allowed.")
    return level, verdict


def decision_check(state: DisputeState, req: DecideLevel, now: datetime) -> DecisionCheck:
    """:func:`check_decision` as an answer rather than an exception (the workflow's query
    that lets Slack ask before it opens the rejection form)."""
    try:
        check_decision(state, req, now, asking=True)
    except ApplicationError as refusal:
        detail = refusal.details[0] if refusal.details else None
        return DecisionCheck(allowed=False, code=refusal.type or "forbidden",
                             message=refusal.message,
                             details=detail if isinstance(detail, dict) else {})
    return DecisionCheck(allowed=True)


def check_decision_policy(
    state: DisputeState, req: DecideLevel, level: ApprovalLevel, prior: list[str],
    now: datetime,
) -> DecisionVerdict:
    memo = state.credit_memo
    assert memo is not None
    return sod_verdict(DecisionContext.for_level(
        actor_id=req.actor.id, actor_roles=req.actor.roles,
        delegations=[Delegation(principal_id=d.principal_id, principal_roles=d.principal_roles,
                                starts_at=d.starts_at, ends_at=d.ends_at)
                     for d in req.delegations if d.ends_at > d.starts_at],
        at=now, level_role=level.role, level_status=level.status,
        escalate_to=level.escalate_to, preparer_id=memo.preparer_id,
        opener_id=state.opened.opened_by, prior_approver_ids=prior, decision=req.decision,
    ))
