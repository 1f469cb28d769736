"""A decision made on a web page: the same workflow Update as the API's, on channel "web".

Why not a page-specific path: segregation of duties, role and delegation checks live in the
Update's validator, and refusals are audited by ``api.routes.disputes._run_update`` — so the
page reuses exactly those (and the API's update id, so a decision sent twice, from the API
and a page, or by a double click, is applied once). What differs is the answer: an
:class:`Outcome` in words for the page instead of an exception, so a bulk approval can report
every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Response
from pydantic import ValidationError

from api.deps import in_db
from api.errors import AppError
from api.routes.disputes import _actor, _grants, _refusal_audited, _run_update, _update_id, _view
from api.schemas import DecisionIn
from api.temporal_gateway import TemporalGateway
from api.web.forms import from_validation
from config.settings import Settings
from db.users import Principal
from domain.models import DecideLevel

DONE = {"approve": "approved", "reject": "rejected"}


@dataclass(frozen=True)
class Outcome:
    """What became of one decision, in words for the page (``ok`` False: refused)."""

    dispute_id: str
    ok: bool
    message: str
    code: str | None = None


def _success(view: dict[str, Any], decision: str, level: int) -> str:
    memo = (view.get("credit_memo") or {}).get("number", "")
    verb = DONE[decision]
    status = str(view.get("status", "")).replace("_", " ")
    return f"You {verb} level {level} of credit memo {memo}; the dispute is now {status}."


async def decide(
    *, settings: Settings, gateway: TemporalGateway, principal: Principal, dispute_id: str,
    decision: str, comment: str, level: int | None,
) -> Outcome:
    """Validate like the API (DecisionIn), then run the ``decide`` Update on channel web."""
    try:
        body = DecisionIn.model_validate({"decision": decision, "comment": comment})
    except ValidationError as exc:
        return Outcome(dispute_id, False, from_validation(exc).message, "validation_error")
    request = {**body.model_dump(mode="json"), "level": level, "channel": "web"}
    try:
        view = await in_db(settings, _view, readonly=True, dispute_id=dispute_id)
        done = DONE[body.decision]
        mine = next((a for a in view["approvals"]
                     if a["approver_id"] == principal.id and a["status"] == done), None)
        if mine is not None:  # a resubmitted form: already applied, never twice
            return Outcome(dispute_id, True, _success(view, body.decision, mine["level"]))
        pending = next((a for a in view["approvals"]
                        if a["status"] in ("pending", "escalated")), None)
        if view["status"] != "pending_approval" or pending is None:
            err = AppError("wrong_state", f"Dispute {dispute_id} is "
                           f"{view['status'].replace('_', ' ')}; no approval is waiting.")
            await in_db(settings, _refusal_audited, principal=principal,
                        dispute_id=dispute_id, action="decision", err=err, request=request)
            raise err
        grants = await in_db(settings, _grants, readonly=True, principal=principal)
        target = level if level is not None else int(pending["level"])
        arg = DecideLevel(actor=_actor(principal), delegations=grants, decision=body.decision,
                          comment=body.comment, channel="web", level=target)
        update_id = _update_id("decision", principal, None, view["credit_memo"]["number"],
                               body.decision)
        result = await _run_update(settings=settings, gateway=gateway, principal=principal,
                                   dispute_id=dispute_id, action="decision", name="decide",
                                   arg=arg, update_id=update_id, request=request)
    except AppError as err:
        return Outcome(dispute_id, False, err.message, err.code)
    if isinstance(result, Response):  # accepted, still being processed (e.g. the ledger)
        return Outcome(dispute_id, True, f"Your decision on dispute {dispute_id} was accepted "
                       "and is still being processed; reload in a moment.")
    return Outcome(dispute_id, True, _success(result, body.decision, target))
