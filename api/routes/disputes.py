"""Dispute routes: intake, read, list, investigation, revision, decision, withdrawal.

Reads query the read model; every change is one command of ``api/commands``, answered
with the dispute the command returned (201/200), or 202 when it was accepted and is still
being processed. Command answers carry no timeline (``"timeline": null``): it is the
audit trail, which a GET of the dispute reads.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api import commands
from api.commands import DecisionRequest, Outcome
from api.deps import (
    AnalystDep,
    ClientServicesDep,
    CommandsDep,
    ReaderDep,
    ReadSessionDep,
    WriterDep,
)
from api.errors import AppError
from api.period import Instant, utc, utc_period
from api.schemas import (
    DecisionIn,
    DisputeCreate,
    DisputeOut,
    DisputePage,
    InvestigationIn,
    RevisionIn,
    WithdrawIn,
)
from db import dispute_list, disputes
from domain.codes import DisputeStatus, ReasonCode, RootCause

router = APIRouter(prefix="/api/v1/disputes", tags=["disputes"])
IdemHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def answer(outcome: Outcome, status: int = 200) -> JSONResponse:
    """A command's outcome as the API's answer; a replay (the same Idempotency-Key) says
    so in ``Idempotent-Replayed: true`` and shows the dispute as it is now."""
    body: dict[str, Any] = {**outcome.view.as_json(), "timeline": None}
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    if outcome.processing:
        return JSONResponse({**body, "accepted": True, "message": outcome.message}, 202,
                            headers=headers)
    return JSONResponse(body, status, headers=headers)


@router.post("", status_code=201, response_model=DisputeOut)
async def open_dispute(
    body: DisputeCreate, principal: ClientServicesDep, cmd: CommandsDep,
    idempotency_key: IdemHeader = None,
) -> Any:
    return answer(await commands.open_dispute(cmd, principal=principal, body=body,
                                              channel="api", key=idempotency_key), 201)


@router.get("/{dispute_id}", response_model=DisputeOut)
def get_dispute(dispute_id: str, _: ReaderDep, session: ReadSessionDep) -> Any:
    return _with_timeline(session, dispute_id)


def _with_timeline(session: Session, dispute_id: str) -> dict[str, Any]:
    view = disputes.get_view(session, dispute_id)
    if view is None:
        raise AppError("not_found", f"There is no dispute {dispute_id}.")
    return view


@router.get("", response_model=DisputePage)
def list_disputes(
    _: ReaderDep,
    session: ReadSessionDep,
    status: DisputeStatus | None = None,
    account_id: Annotated[str | None, Query(max_length=64)] = None,
    reason_code: ReasonCode | None = None,
    breached: bool | None = None,
    root_cause: RootCause | None = None,
    q: Annotated[str | None, Query(max_length=100, description=(
        "search: dispute id, invoice number or account id (prefix), account name or "
        "description (contains); case ignored"))] = None,
    opened_from: Annotated[Instant | None, Query(description="inclusive, ISO 8601")] = None,
    opened_to: Annotated[Instant | None, Query(description="exclusive, ISO 8601")] = None,
    open_at: Annotated[Instant | None, Query(
        description="only disputes open at this instant (opened before, not closed by then)"
    )] = None,
    sort: Annotated[Literal["newest", "oldest", "amount"], Query(
        description="newest (default) or oldest opened first, or largest amount first (each "
                    "in its own currency)")] = "newest",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Any:
    opened_from, opened_to = utc_period(opened_from, opened_to,
                                        names=("opened_from", "opened_to"))
    try:
        items, next_cursor = dispute_list.list_views(
            session, filters=dispute_list.ListFilter(
                status=status, account_id=account_id, breached=breached,
                reason_code=reason_code, root_cause=root_cause, text=q or None,
                opened_from=opened_from,
                opened_to=opened_to, open_at=None if open_at is None else utc(open_at)),
            limit=limit, cursor=cursor, sort=sort)
    except ValueError:
        raise AppError("validation_error", "cursor is not one this API issued; start again "
                       "without it.", [{"field": "cursor", "message": "invalid"}]) from None
    return {"items": [{**i, "timeline": []} for i in items], "next_cursor": next_cursor}


@router.post("/{dispute_id}/investigation", response_model=DisputeOut)
async def submit_investigation(
    dispute_id: str, body: InvestigationIn, principal: AnalystDep, cmd: CommandsDep,
    idempotency_key: IdemHeader = None,
) -> Any:
    return answer(await commands.investigate(cmd, principal=principal, dispute_id=dispute_id,
                                             body=body, channel="api", key=idempotency_key))


@router.post("/{dispute_id}/credit-memo", response_model=DisputeOut)
async def revise_credit_memo(
    dispute_id: str, body: RevisionIn, principal: AnalystDep, cmd: CommandsDep,
    idempotency_key: IdemHeader = None,
) -> Any:
    """Change the credit memo under approval: its approvals are voided, the chain restarts."""
    return answer(await commands.revise(cmd, principal=principal, dispute_id=dispute_id,
                                        body=body, channel="api", key=idempotency_key))


@router.post("/{dispute_id}/decision", response_model=DisputeOut)
async def decide(
    dispute_id: str, body: DecisionIn, principal: WriterDep, cmd: CommandsDep,
    idempotency_key: IdemHeader = None,
) -> Any:
    """Decide the level pending now. A repeat is a replay only with the same
    Idempotency-Key (and body); otherwise the workflow's validator answers it."""
    request = DecisionRequest(decision=body.decision, comment=body.comment,
                              key=idempotency_key)
    return answer(await commands.decide(cmd, principal=principal, dispute_id=dispute_id,
                                        request=request, channel="api"))


@router.post("/{dispute_id}/withdraw", response_model=DisputeOut)
async def withdraw(
    dispute_id: str, body: WithdrawIn, principal: ClientServicesDep, cmd: CommandsDep,
    idempotency_key: IdemHeader = None,
) -> Any:
    return answer(await commands.withdraw(cmd, principal=principal, dispute_id=dispute_id,
                                          body=body, channel="api", key=idempotency_key))
