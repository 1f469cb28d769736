"""``decide``: approve or reject the level a request means; ``may_decide``: whether that
would be accepted now (Slack asks before it opens the rejection form).

Which level: a button names its memo and level (web, Slack); an API request means the
level pending when it is read, and says so to the workflow, so a level decided meanwhile
by someone else is refused rather than the next one decided in its place. The validator
(``workflows/rules.check_decision``) is the authority on everything else.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.commands import outcomes, reads, refusals
from api.commands.context import Commands, Outcome, Refused
from api.commands.update_ids import Button, IdempotencyKey, Replay, update_id
from api.errors import AppError
from db.users import Principal
from domain.codes import Channel, Decision
from domain.dispute_view import DisputeView, LevelView
from domain.models import Actor, DecideLevel, DecisionQuestion
from workflows.dispute import DisputeWorkflow


class DecisionRequest(BaseModel):
    """A decision as any channel asks for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    decision: Decision
    comment: Annotated[str, StringConstraints(max_length=4000)] = ""
    level: Annotated[int, Field(ge=1, le=100)] | None = None  # a button's level
    memo_number: Annotated[str, StringConstraints(max_length=40)] | None = None  # its memo
    key: Annotated[str, StringConstraints(max_length=200)] | None = None  # Idempotency-Key

    @property
    def replay(self) -> Replay:
        if self.key:
            return IdempotencyKey(self.key, self.model_dump_json(include={"decision",
                                                                           "comment"}))
        if self.level is not None and self.memo_number:
            return Button(self.memo_number, self.level, self.decision)
        return None

    def audited(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"key"}, exclude_none=True)


def _already_recorded(view: DisputeView, request: DecisionRequest,
                      actor_id: str) -> LevelView | None:
    """The level, when the same button on it is already recorded as this person's
    decision; None otherwise."""
    memo, replay = view.credit_memo, request.replay
    if not isinstance(replay, Button) or memo is None or memo.number != replay.memo_number:
        return None
    level = view.level(replay.level)
    return level if level is not None and level.decided_as(request.decision, actor_id) else None


async def _arguments(
    commands: Commands, *, principal: Principal, dispute_id: str, request: DecisionRequest,
    channel: Channel, command: str,
) -> tuple[DisputeView, DecideLevel | Outcome]:
    """The dispute read once, and what to send: the Update's input — or, for a replayed
    button, the outcome as recorded. Refuses what the validator cannot judge."""
    view, grants = await commands.in_db(reads.decision_inputs, readonly=True,
                                        dispute_id=dispute_id, principal=principal,
                                        at=datetime.now(UTC))
    recorded = _already_recorded(view, request, principal.id)
    if recorded is not None:
        words = await commands.in_db(refusals.already_decided, readonly=True,
                                     level=recorded.model_dump(mode="json"))
        return view, Outcome(view, words, replayed=True)
    level_number, memo_number = request.level, request.memo_number
    if request.key is None:  # a keyed request may be a replay of one the workflow answered
        problem = reads.closed(view) or (None if level_number is not None
                                         else _nothing_pending(view))
        if problem is not None:
            raise await refusals.refuse(
                commands, AppError("wrong_state", problem), actor=principal.id,
                dispute_id=dispute_id, command=command, channel=channel,
                request=request.audited())
    if level_number is None:
        pending = view.pending
        level_number = pending.level if pending else None
        memo_number = view.credit_memo.number if pending and view.credit_memo else None
    return view, DecideLevel(
        actor=Actor(id=principal.id, roles=list(principal.roles)), delegations=grants,
        decision=request.decision, comment=request.comment, channel=channel,
        level=level_number, memo_number=memo_number)


def _nothing_pending(view: DisputeView) -> str | None:
    if view.pending is None:
        return (f"Dispute {view.id} is {view.status.replace('_', ' ')}; no approval is "
                "waiting.")
    return None


async def decide(
    commands: Commands, *, principal: Principal, dispute_id: str, request: DecisionRequest,
    channel: Channel,
) -> Outcome:
    """Send the ``decide`` Update once; its refusal is audited and raised as Refused. How
    long it took is told to ``commands.observe_decision`` with its outcome."""
    started, outcome = time.perf_counter(), "error"
    try:
        view, arg = await _arguments(commands, principal=principal, dispute_id=dispute_id,
                                     request=request, channel=channel, command="decide")
        if isinstance(arg, Outcome):
            outcome = "replayed"
            return arg
        try:
            result = await commands.gateway.update(
                dispute_id, DisputeWorkflow.decide, arg,
                update_id=update_id("decide", dispute_id=dispute_id, actor_id=principal.id,
                                    replay=request.replay))
        except AppError as err:
            outcome = "refused"
            raise await refusals.refuse(commands, err, actor=principal.id,
                                        dispute_id=dispute_id, command="decide",
                                        channel=channel, request=request.audited()) from None
        answered = await outcomes.from_update(commands, result, view)
        outcome = ("replayed" if answered.replayed else
                   "processing" if answered.processing else "decided")
        return answered
    except Refused:
        outcome = "refused"
        raise
    finally:
        if commands.observe_decision is not None:
            commands.observe_decision(channel, outcome, time.perf_counter() - started)


async def may_decide(
    commands: Commands, *, principal: Principal, dispute_id: str, request: DecisionRequest,
    channel: Channel,
) -> None:
    """Raise :class:`Refused` (audited, as a refused decision) if ``decide`` would refuse
    ``request`` now: the workflow answers from its validator's own rule, changing nothing."""
    _, arg = await _arguments(commands, principal=principal, dispute_id=dispute_id,
                              request=request, channel=channel, command="decide")
    if isinstance(arg, Outcome):  # already recorded: there is nothing left to decide
        err = AppError("wrong_state", arg.message)
    else:
        check = await commands.gateway.query(
            dispute_id, DisputeWorkflow.check_decision,
            DecisionQuestion(decision=arg, at=datetime.now(UTC)))
        if check.allowed:
            return
        err = AppError(check.code or "forbidden", check.message or "Not allowed.",
                       check.details or None)
    raise await refusals.refuse(commands, err, actor=principal.id, dispute_id=dispute_id,
                                command="decide", channel=channel, request=request.audited())

