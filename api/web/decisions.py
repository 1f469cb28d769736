"""A decision made on a web page: the command layer's ``decide`` on channel "web", its
outcome put in words for the page.

A page's button names its memo and level, so pressing it twice (a double click, a reload
of the answer) is one decision (``api/commands/update_ids.py``). The answer is a
:class:`PageOutcome` rather than an exception, so a bulk approval can report every row.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from api import commands
from api.commands import Commands, DecisionRequest
from api.errors import AppError
from api.web.forms import from_validation
from db.users import Principal
from domain.codes import DECIDED_STATUS


@dataclass(frozen=True)
class PageOutcome:
    """What became of one decision, in words for the page (``ok`` False: refused)."""

    dispute_id: str
    ok: bool
    message: str
    code: str | None = None


async def decide(
    cmd: Commands, *, principal: Principal, dispute_id: str, decision: str, comment: str,
    level: int | None, memo_number: str | None,
) -> PageOutcome:
    try:
        request = DecisionRequest.model_validate({
            "decision": decision, "comment": comment, "level": level,
            "memo_number": memo_number or None})
    except ValidationError as exc:
        return PageOutcome(dispute_id, False, from_validation(exc).message, "validation_error")
    try:
        outcome = await commands.decide(cmd, principal=principal, dispute_id=dispute_id,
                                        request=request, channel="web")
    except AppError as err:
        return PageOutcome(dispute_id, False, err.message, err.code)
    if outcome.replayed:
        return PageOutcome(dispute_id, True, f"{outcome.message} Nothing else was changed.")
    if outcome.processing:
        return PageOutcome(dispute_id, True, f"Your decision on dispute {dispute_id} was "
                           "accepted and is still being processed; reload in a moment.")
    view = outcome.view
    decided = next((lv for lv in view.approvals
                    if lv.decided_as(request.decision, principal.id)), None)
    memo = view.credit_memo.number if view.credit_memo else ""
    level_words = f"level {decided.level} of " if decided else ""
    return PageOutcome(dispute_id, True,
                       f"You {DECIDED_STATUS[request.decision]} {level_words}credit memo {memo}; "
                       f"the dispute is now {view.status.replace('_', ' ')}.")
