"""Dispute routes: intake, read, list, investigation, decision, withdrawal."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api import intake
from api.deps import (
    AnalystDep,
    ClientServicesDep,
    GatewayDep,
    ReaderDep,
    ReadSessionDep,
    SettingsDep,
    WriterDep,
    in_db,
)
from api.errors import AppError
from api.schemas import (
    DecisionIn,
    DisputeCreate,
    DisputeOut,
    DisputePage,
    InvestigationIn,
    RevisionIn,
    WithdrawIn,
)
from db import audit, disputes, users
from db.users import Principal
from domain.codes import TERMINAL_STATUSES, DisputeStatus, ReasonCode
from domain.models import (
    Actor,
    CreditLine,
    DecideLevel,
    DelegationGrant,
    ReviseCreditMemo,
    SubmitInvestigation,
    Withdraw,
)

router = APIRouter(prefix="/api/v1/disputes", tags=["disputes"])
IdemHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def _view(session: Session, dispute_id: str, *, with_timeline: bool = True) -> dict[str, Any]:
    view = disputes.get_view(session, dispute_id, with_timeline=with_timeline)
    if view is None:
        raise AppError("not_found", f"There is no dispute {dispute_id}.")
    return view


def _actor(principal: Principal) -> Actor:
    return Actor(id=principal.id, roles=list(principal.roles))


def _update_id(kind: str, principal: Principal, key: str | None, *parts: object) -> str:
    if key:
        return f"{kind}:{principal.id}:key:{key}"
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]
    return f"{kind}:{principal.id}:{digest}"


@router.post("", status_code=201, response_model=DisputeOut)
async def open_dispute(
    body: DisputeCreate, principal: ClientServicesDep, settings: SettingsDep,
    gateway: GatewayDep, idempotency_key: IdemHeader = None,
) -> Any:
    body_hash = intake.request_hash(body)
    if idempotency_key:
        existing = await in_db(settings, intake.replayed, principal=principal,
                               key=idempotency_key, body_hash=body_hash)
        if existing:
            view = await in_db(settings, _view, readonly=True, dispute_id=existing)
            return JSONResponse(view, 201)
    dispute_id = intake.dispute_id_for(user_id=principal.id, key=idempotency_key)
    opened = await in_db(settings, intake.validate, body=body, principal=principal,
                         dispute_id=dispute_id, now=datetime.now(UTC))
    await gateway.start_dispute(opened)
    await in_db(settings, intake.record, opened=opened, principal=principal,
                key=idempotency_key, body_hash=body_hash)
    return JSONResponse(await in_db(settings, _view, readonly=True, dispute_id=dispute_id), 201)


@router.get("/{dispute_id}", response_model=DisputeOut)
def get_dispute(dispute_id: str, _: ReaderDep, session: ReadSessionDep) -> Any:
    return _view(session, dispute_id)


@router.get("", response_model=DisputePage)
def list_disputes(
    _: ReaderDep,
    session: ReadSessionDep,
    status: DisputeStatus | None = None,
    account_id: Annotated[str | None, Query(max_length=64)] = None,
    reason_code: ReasonCode | None = None,
    breached: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Any:
    try:
        items, next_cursor = disputes.list_views(
            session, filters=disputes.ListFilter(status=status, account_id=account_id,
                                                 breached=breached, reason_code=reason_code),
            limit=limit, cursor=cursor)
    except ValueError:
        raise AppError("validation_error", "cursor is not one this API issued; start again "
                       "without it.", [{"field": "cursor", "message": "invalid"}]) from None
    return {"items": [{**i, "timeline": []} for i in items], "next_cursor": next_cursor}


def _refusal_audited(session: Session, *, principal: Principal, dispute_id: str, action: str,
                     err: AppError, request: dict[str, Any]) -> None:
    audit.append(session, [audit.NewEvent(
        actor=principal.id, action=f"{action}.refused", subject=dispute_id,
        message=f"Refused {action} by {principal.id}: {err.message}",
        data={"code": err.code, "request": request},
    )])


async def _run_update(
    *, settings: Any, gateway: Any, principal: Principal, dispute_id: str, action: str,
    name: str, arg: Any, update_id: str, request: dict[str, Any],
    view: dict[str, Any] | None = None,
) -> Any:
    """Send one decision-type Update; ``view`` is the dispute as the caller already read it
    (saves a read on the hot path), else it is read here."""
    if view is None:
        view = await in_db(settings, _view, readonly=True, dispute_id=dispute_id)
    if view["status"] in TERMINAL_STATUSES:
        raise AppError("wrong_state", f"Dispute {dispute_id} is {view['status']}; it takes no "
                       "more changes.")
    try:
        result = await gateway.update(dispute_id, name, arg, update_id=update_id)
    except AppError as err:
        if err.code in ("forbidden", "sod_violation", "wrong_state"):
            await in_db(settings, _refusal_audited, principal=principal, dispute_id=dispute_id,
                        action=action, err=err, request=request)
        raise
    view = await in_db(settings, _view, readonly=True, dispute_id=dispute_id)
    if result is None:  # accepted (durable) but still being processed
        return JSONResponse({**view, "accepted": True, "message": (
            "Accepted; it is still being processed (for example posted to the ledger). "
            "Reload the dispute in a moment.")}, status_code=202)
    return view


@router.post("/{dispute_id}/investigation", response_model=DisputeOut)
async def submit_investigation(
    dispute_id: str, body: InvestigationIn, principal: AnalystDep, settings: SettingsDep,
    gateway: GatewayDep, idempotency_key: IdemHeader = None,
) -> Any:
    lines = [CreditLine(line_id=c.line_id, amount=Decimal(c.amount)) for c in body.credit_lines]
    arg = SubmitInvestigation(actor=_actor(principal), root_cause=body.root_cause,
                              resolution=body.resolution, credit_lines=lines,
                              prior_period=body.prior_period, note=body.note)
    view = await in_db(settings, _view, readonly=True, dispute_id=dispute_id)
    update_id = _update_id("investigation", principal, idempotency_key, dispute_id,
                           view.get("revision"), body.model_dump_json())
    return await _run_update(settings=settings, gateway=gateway, principal=principal,
                             dispute_id=dispute_id, action="investigation",
                             name="submit_investigation", arg=arg, update_id=update_id,
                             request=body.model_dump(mode="json"), view=view)


@router.post("/{dispute_id}/credit-memo", response_model=DisputeOut)
async def revise_credit_memo(
    dispute_id: str, body: RevisionIn, principal: AnalystDep, settings: SettingsDep,
    gateway: GatewayDep, idempotency_key: IdemHeader = None,
) -> Any:
    """Change the credit memo under approval: its approvals are voided, the chain restarts."""
    lines = [CreditLine(line_id=c.line_id, amount=Decimal(c.amount)) for c in body.credit_lines]
    arg = ReviseCreditMemo(actor=_actor(principal), credit_lines=lines,
                           prior_period=body.prior_period, note=body.note,
                           resolution=body.resolution)
    view = await in_db(settings, _view, readonly=True, dispute_id=dispute_id)
    update_id = _update_id("revision", principal, idempotency_key, dispute_id,
                           view.get("revision"), body.model_dump_json())
    return await _run_update(settings=settings, gateway=gateway, principal=principal,
                             dispute_id=dispute_id, action="revision",
                             name="revise_credit_memo", arg=arg, update_id=update_id,
                             request=body.model_dump(mode="json"), view=view)


def _grants(session: Session, *, principal: Principal) -> list[DelegationGrant]:
    now = datetime.now(UTC)
    return [DelegationGrant(principal_id=u.id, principal_roles=list(u.roles),
                            starts_at=d.starts_at, ends_at=d.ends_at)
            for d, u in users.delegations_to(session, delegate_id=principal.id, at=now)]


def _decision_inputs(session: Session, *, dispute_id: str, principal: Principal,
                     ) -> tuple[dict[str, Any], list[DelegationGrant]]:
    """The dispute (without its timeline: only checked) and the caller's delegations, in one
    read (the decision's hot path)."""
    return (_view(session, dispute_id, with_timeline=False),
            _grants(session, principal=principal))


@router.post("/{dispute_id}/decision", response_model=DisputeOut)
async def decide(
    dispute_id: str, body: DecisionIn, principal: WriterDep, settings: SettingsDep,
    gateway: GatewayDep, idempotency_key: IdemHeader = None,
) -> Any:
    view, grants = await in_db(settings, _decision_inputs, readonly=True,
                               dispute_id=dispute_id, principal=principal)
    # Segregation of duties lets a person decide at most one level of a credit memo, so
    # (memo, person, decision) identifies a decision: a retry of one already applied
    # answers with the dispute as it is, and is never applied twice.
    done = {"approve": "approved", "reject": "rejected"}[body.decision]
    if any(a["approver_id"] == principal.id and a["status"] == done
           for a in view["approvals"]):
        return await in_db(settings, _view, readonly=True, dispute_id=dispute_id)
    pending = next((a for a in view["approvals"] if a["status"] in ("pending", "escalated")),
                   None)
    if view["status"] != "pending_approval" or pending is None:
        err = AppError("wrong_state", f"Dispute {dispute_id} is "
                       f"{view['status'].replace('_', ' ')}; no approval is waiting.")
        await in_db(settings, _refusal_audited, principal=principal, dispute_id=dispute_id,
                    action="decision", err=err, request=body.model_dump(mode="json"))
        raise err
    arg = DecideLevel(actor=_actor(principal), delegations=grants, decision=body.decision,
                      comment=body.comment, channel="api", level=pending["level"])
    memo = view["credit_memo"]["number"]
    update_id = _update_id("decision", principal, idempotency_key, memo, body.decision)
    return await _run_update(settings=settings, gateway=gateway, principal=principal,
                             dispute_id=dispute_id, action="decision", name="decide", arg=arg,
                             update_id=update_id, request=body.model_dump(mode="json"),
                             view=view)


@router.post("/{dispute_id}/withdraw", response_model=DisputeOut)
async def withdraw(
    dispute_id: str, body: WithdrawIn, principal: ClientServicesDep, settings: SettingsDep,
    gateway: GatewayDep,
) -> Any:
    arg = Withdraw(actor=_actor(principal), comment=body.comment)
    return await _run_update(settings=settings, gateway=gateway, principal=principal,
                             dispute_id=dispute_id, action="withdrawal", name="withdraw",
                             arg=arg, update_id=f"withdraw:{dispute_id}",
                             request=body.model_dump(mode="json"))
