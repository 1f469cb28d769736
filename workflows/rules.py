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
from domain.models import (
    ApprovalLevel,
    DecideLevel,
    DisputeState,
    ReviseCreditMemo,
    SubmitInvestigation,
    Withdraw,
)

OPEN = ("investigating", "pending_approval")


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
    if busy:
        raise refuse("wrong_state", "A change is being submitted right now; try again in a "
                     "moment.")


def pending_level(state: DisputeState) -> ApprovalLevel | None:
    memo = state.credit_memo
    if memo is None:
        return None
    return next((lv for lv in memo.levels if lv.status in ("pending", "escalated")), None)


def check_decision(
    state: DisputeState, req: DecideLevel, now: datetime
) -> tuple[ApprovalLevel, DecisionVerdict]:
    memo = state.credit_memo
    level = pending_level(state)
    if state.status != "pending_approval" or memo is None or level is None:
        raise refuse("wrong_state", f"The dispute is {_status(state)}; there is no approval "
                     "waiting for a decision.")
    if req.level is not None and req.level != level.level:
        asked = next((lv for lv in memo.levels if lv.level == req.level), None)
        if asked is not None and asked.approver_id:
            raise refuse("wrong_state", f"Level {asked.level} was already {asked.status} by "
                         f"{asked.approver_id}.")
        raise refuse("wrong_state", f"Level {req.level} is not waiting for a decision; level "
                     f"{level.level} is.")
    if req.decision == "reject" and not req.comment.strip():
        raise refuse("validation_error", "A rejection needs a reason in the comment.")
    prior = [lv.approver_id for lv in memo.levels if lv.level < level.level and lv.approver_id]
    verdict = check_decision_policy(state, req, level, prior, now)
    if not verdict.allowed:
        raise refuse(verdict.code or "forbidden", verdict.message or "Not allowed.")
    return level, verdict


def check_decision_policy(
    state: DisputeState, req: DecideLevel, level: ApprovalLevel, prior: list[str],
    now: datetime,
) -> DecisionVerdict:
    memo = state.credit_memo
    assert memo is not None
    return sod_verdict(DecisionContext(
        actor_id=req.actor.id, actor_roles=req.actor.roles,
        delegations=[Delegation(principal_id=d.principal_id, principal_roles=d.principal_roles,
                                starts_at=d.starts_at, ends_at=d.ends_at)
                     for d in req.delegations if d.ends_at > d.starts_at],
        at=now, level_role=level.role,
        escalation_roles=[level.escalate_to] if level.status == "escalated" and level.escalate_to
        else [],
        preparer_id=memo.preparer_id, opener_id=state.opened.opened_by,
        prior_approver_ids=prior, decision=req.decision,
    ))
