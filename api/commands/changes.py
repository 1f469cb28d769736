"""``investigate``, ``revise`` and ``withdraw``: the analyst's and client services'
changes, each one Update after one read (the dispute exists and is still open)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from api.commands import outcomes, reads, refusals
from api.commands.context import Commands, Outcome
from api.commands.update_ids import IdempotencyKey, update_id
from api.errors import AppError
from api.schemas import CreditLineIn, InvestigationIn, RevisionIn, WithdrawIn
from api.temporal_gateway import Update
from db.users import Principal
from domain.codes import Channel
from domain.models import Actor, CreditLine, ReviseCreditMemo, SubmitInvestigation, Withdraw
from workflows.dispute import DisputeWorkflow


def _actor(principal: Principal) -> Actor:
    return Actor(id=principal.id, roles=list(principal.roles))


def _lines(lines: list[CreditLineIn]) -> list[CreditLine]:
    return [CreditLine(line_id=c.line_id, amount=Decimal(c.amount)) for c in lines]


async def _change(
    commands: Commands, *, principal: Principal, dispute_id: str, command: str,
    update: Update[Any], arg: Any, body: BaseModel, key: str | None, channel: Channel,
) -> Outcome:
    view = await commands.in_db(reads.dispute, readonly=True, dispute_id=dispute_id)
    request = body.model_dump(mode="json")
    try:
        closed = reads.closed(view)
        if closed and key is None:  # a keyed request may replay one the workflow answered
            raise AppError("wrong_state", closed)
        replay = IdempotencyKey(key, body.model_dump_json()) if key else None
        result = await commands.gateway.update(
            dispute_id, update, arg,
            update_id=update_id(command, dispute_id=dispute_id, actor_id=principal.id,
                                replay=replay))
    except AppError as err:
        raise await refusals.refuse(commands, err, actor=principal.id, dispute_id=dispute_id,
                                    command=command, channel=channel, request=request) from None
    return await outcomes.from_update(commands, result, view)


async def investigate(
    commands: Commands, *, principal: Principal, dispute_id: str, body: InvestigationIn,
    channel: Channel, key: str | None = None,
) -> Outcome:
    """Record root cause and resolution; a credit resolution prepares the memo and starts
    its approval chain, a denial closes the dispute."""
    arg = SubmitInvestigation(actor=_actor(principal), root_cause=body.root_cause,
                              resolution=body.resolution, credit_lines=_lines(body.credit_lines),
                              prior_period=body.prior_period, note=body.note)
    return await _change(commands, principal=principal, dispute_id=dispute_id,
                         command="investigate", update=DisputeWorkflow.submit_investigation,
                         arg=arg, body=body, key=key, channel=channel)


async def revise(
    commands: Commands, *, principal: Principal, dispute_id: str, body: RevisionIn,
    channel: Channel, key: str | None = None,
) -> Outcome:
    """Replace the memo under approval: its approvals are voided, the chain starts again."""
    arg = ReviseCreditMemo(actor=_actor(principal), credit_lines=_lines(body.credit_lines),
                           prior_period=body.prior_period, note=body.note,
                           resolution=body.resolution)
    return await _change(commands, principal=principal, dispute_id=dispute_id,
                         command="revise", update=DisputeWorkflow.revise_credit_memo, arg=arg,
                         body=body, key=key, channel=channel)


async def withdraw(
    commands: Commands, *, principal: Principal, dispute_id: str, body: WithdrawIn,
    channel: Channel, key: str | None = None,
) -> Outcome:
    """End the dispute at the opener's request; a memo under approval is voided."""
    arg = Withdraw(actor=_actor(principal), comment=body.comment)
    return await _change(commands, principal=principal, dispute_id=dispute_id,
                         command="withdraw", update=DisputeWorkflow.withdraw, arg=arg,
                         body=body, key=key, channel=channel)
