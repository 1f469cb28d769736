"""My approvals: the levels the signed-in user may decide now, and the decisions themselves.

One form holds the whole queue: each row has its own Approve / Reject buttons and comment,
and a checkbox for "Approve selected". A bulk approval is a loop of single decisions, each
validated by the workflow and audited on its own, so one refusal (say, segregation of duties
on a memo the user prepared) does not stop the others; the page lists every outcome.
The dispute page posts single decisions to ``/disputes/{id}/decision``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from api.deps import CommandsDep, SettingsDep, in_db
from api.errors import STATUS
from api.web.auth import Posted, form_user, page_user
from api.web.decisions import PageOutcome, decide
from api.web.forms import flash
from api.web.queue import QUEUE_LIMIT, decidable
from api.web.render import PAGE_ROLES, PageRoute, render
from db.users import Principal

router = APIRouter(route_class=PageRoute, include_in_schema=False)
ROLES = PAGE_ROLES["/approvals"]
ApproverPage = Annotated[Principal, Depends(page_user(*ROLES))]
ApproverForm = Annotated[Posted, Depends(form_user(*ROLES))]
MAX_BULK = QUEUE_LIMIT


def _level(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) < 6 else None


async def _queue_page(request: Request, settings: SettingsDep, outcomes: list[PageOutcome],
                      status: int = 200) -> Response:
    principal = request.state.principal
    items, more = await in_db(settings, decidable, readonly=True, principal=principal,
                              now=datetime.now(UTC))
    return render(request, "approvals.html", {
        "title": "My approvals", "items": items, "more": more, "limit": QUEUE_LIMIT,
        "approver": getattr(request.state, "approver", False),
        "outcomes": outcomes,
        "refused": [o for o in outcomes if not o.ok],
        "approved": [o for o in outcomes if o.ok]}, status=status)


@router.get("/approvals")
async def approvals_page(request: Request, _: ApproverPage, settings: SettingsDep) -> Response:
    """The queue (see api/web/queue.py for who sees which level)."""
    return await _queue_page(request, settings, [])


async def _one(posted: Posted, cmd: CommandsDep, dispute_id: str, decision: str,
               comment: str) -> PageOutcome:
    return await decide(cmd, principal=posted.principal, dispute_id=dispute_id[:40],
                        decision=decision, comment=comment,
                        level=_level(posted.text(f"level_{dispute_id}")),
                        memo_number=posted.text(f"memo_{dispute_id}")[:40] or None)


@router.post("/approvals")
async def decide_from_queue(request: Request, posted: ApproverForm, settings: SettingsDep,
                            cmd: CommandsDep) -> Response:
    """One row's Approve/Reject (``decide`` = "<dispute>:<decision>"), or "Approve
    selected"; the answer is the refreshed queue with every outcome on top."""
    single = posted.text("decide")
    if single:
        dispute_id, _, decision = single.rpartition(":")
        outcome = await _one(posted, cmd, dispute_id, decision,
                             posted.text(f"comment_{dispute_id}"))
        status = 200 if outcome.ok else STATUS.get(outcome.code or "", 400)
        return await _queue_page(request, settings, [outcome], status)
    selected = list(dict.fromkeys(posted.all("selected")))[:MAX_BULK]
    if posted.text("bulk") != "approve" or not selected:
        return await _queue_page(request, settings, [PageOutcome(
            "", False, "Select at least one row, then choose “Approve selected”.",
            "validation_error")], 422)
    shared = posted.text("bulk_comment")
    outcomes = []
    for dispute_id in selected:  # one by one: each validated and audited on its own
        comment = posted.text(f"comment_{dispute_id}") or shared
        outcomes.append(await _one(posted, cmd, dispute_id, "approve", comment))
    return await _queue_page(request, settings, outcomes)


@router.post("/disputes/{dispute_id}/decision")
async def decide_from_dispute(dispute_id: str, posted: ApproverForm,
                              cmd: CommandsDep) -> Response:
    """The decision form of the dispute page; back to it with the outcome as a notice."""
    outcome = await decide(cmd, principal=posted.principal, dispute_id=dispute_id,
                           decision=posted.text("decision"), comment=posted.text("comment"),
                           level=_level(posted.text("level")),
                           memo_number=posted.text("memo")[:40] or None)
    response = RedirectResponse(f"/disputes/{dispute_id}", status_code=303)
    flash(response, outcome.message, kind="ok" if outcome.ok else "error")
    return response
