"""``repost``: send a credit memo the ledger refused to it again, once the cause is fixed.

The memo is named (its number is what the ERP and the page show); the command finds its
dispute in the read model, and the workflow's ``repost`` Update (validator:
``workflows/rules.check_repost``) decides whether it may be re-posted and by whom. The
posting keeps the memo number as its idempotency key, so a re-post never books twice.
"""

from __future__ import annotations

from api.commands import outcomes, reads, refusals
from api.commands.context import Commands, Outcome
from api.commands.update_ids import IdempotencyKey, update_id
from api.errors import AppError
from db.users import Principal
from domain.codes import Channel
from domain.models import Actor, RepostCreditMemo
from workflows.dispute import DisputeWorkflow


async def repost(
    commands: Commands, *, principal: Principal, memo_number: str, comment: str,
    channel: Channel, key: str | None = None,
) -> Outcome:
    """One read (the memo's dispute), one Update; a refusal is audited as ``repost.refused``."""
    view = await commands.in_db(reads.memo_dispute, readonly=True, number=memo_number)
    request = {"memo_number": memo_number, "comment": comment}
    arg = RepostCreditMemo(actor=Actor(id=principal.id, roles=list(principal.roles)),
                           memo_number=memo_number, comment=comment)
    try:
        closed = reads.closed(view)
        if closed and key is None:  # a keyed request may replay one the workflow answered
            raise AppError("wrong_state", closed)
        replay = IdempotencyKey(key, arg.model_dump_json(include={"memo_number", "comment"})
                                ) if key else None
        result = await commands.gateway.update(
            view.id, DisputeWorkflow.repost, arg,
            update_id=update_id("repost", dispute_id=view.id, actor_id=principal.id,
                                replay=replay))
    except AppError as err:
        raise await refusals.refuse(commands, err, actor=principal.id, dispute_id=view.id,
                                    command="repost", channel=channel,
                                    request=request) from None
    return await outcomes.from_update(commands, result, view)
