"""The dispute read model: intake rows, idempotency keys, snapshots from the workflow,
and the queries behind GET and list."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    RowMapping,
    Table,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import audit
from db.models import (
    ApprovalLevel,
    AuditEvent,
    CreditMemo,
    CreditMemoLine,
    CreditMemoProduct,
    Dispute,
    DisputeLine,
    IdempotencyKey,
    InvoiceLine,
    SlaBreach,
    table,
)
from domain.codes import APPROVED_MEMO_STATUSES
from domain.models import ApprovalLevel as LevelState
from domain.models import AuditEntry, DisputeState
from domain.models import CreditMemo as MemoState
from domain.money import allocate, from_minor, to_minor
from domain.views import dispute_view

_DISPUTES, _MEMOS = table(Dispute), table(CreditMemo)
_LINES, _LEVELS = table(CreditMemoLine), table(ApprovalLevel)
_PRODUCTS = table(CreditMemoProduct)


def find_idempotency(session: Session, *, user_id: str, key: str) -> IdempotencyKey | None:
    return session.get(IdempotencyKey, (user_id, key))


def insert_intake(session: Session, *, state: DisputeState) -> None:
    """The row the API writes before the workflow's first snapshot, so GET works at once."""
    o = state.opened
    session.add(Dispute(
        id=o.dispute_id, status=state.status, account_id=o.account_id,
        invoice_number=o.invoice_number, currency=o.currency,
        disputed_minor=to_minor(o.disputed_amount, o.currency), reason_code=o.reason_code,
        opened_by=o.opened_by, opened_at=o.opened_at, closed_at=None, breached=False,
        root_cause=None, revision=0, description=o.description,
        view=dispute_view(state).as_json(),
    ))
    session.flush()


def record_lines(session: Session, *, dispute_id: str, invoice_number: str,
                 line_ids: Sequence[str], disputed_minor: int) -> None:
    """The invoice lines the dispute is about — those named, or every line of the invoice
    when none is — each with its product and its part of the disputed amount (in proportion
    to what the lines billed, adding up exactly), and the dispute's product when they are
    all one; once (an intake answered again writes nothing)."""
    if session.scalar(select(DisputeLine.dispute_id).where(
            DisputeLine.dispute_id == dispute_id).limit(1)) is not None:
        return
    billed = {line: (product, amount) for line, product, amount in session.execute(
        select(InvoiceLine.line_id, InvoiceLine.product, InvoiceLine.amount_minor)
        .where(InvoiceLine.invoice_number == invoice_number).order_by(InvoiceLine.position))}
    lines = [line for line in (list(dict.fromkeys(line_ids)) or list(billed)) if line in billed]
    shares = allocate(disputed_minor, [billed[line][1] for line in lines])
    session.add_all([DisputeLine(dispute_id=dispute_id, line_id=line,
                                 invoice_number=invoice_number, product=billed[line][0],
                                 share_minor=share)
                     for line, share in zip(lines, shares, strict=True)])
    products = {billed[line][0] for line in lines}
    if len(products) == 1:
        session.execute(update(_DISPUTES).where(_DISPUTES.c.id == dispute_id)
                        .values(product=products.pop()))
    session.flush()


def insert_idempotency(session: Session, *, user_id: str, key: str, request_hash: str,
                       dispute_id: str) -> None:
    """Remember which dispute an intake request with this Idempotency-Key created."""
    session.add(IdempotencyKey(user_id=user_id, key=key, request_hash=request_hash,
                               dispute_id=dispute_id, created_at=datetime.now(UTC)))
    session.flush()


def save_snapshot(session: Session, *, state: DisputeState, events: Sequence[AuditEntry],
                  before_audit: Callable[[], None] | None = None) -> bool:
    """Write the workflow's state if it is newer than what is stored; idempotent on retry.

    ``before_audit`` adds what else belongs to this change (the Slack outbox row) when it is
    written; it runs before the audit events are appended, because appending takes the
    audit chain's lock, held until commit: every other change waits behind it, so as little
    as possible happens after it."""
    o = state.opened
    view = dispute_view(state).as_json()
    values: dict[str, Any] = {
        "status": state.status, "account_id": o.account_id, "invoice_number": o.invoice_number,
        "currency": o.currency, "disputed_minor": to_minor(o.disputed_amount, o.currency),
        "reason_code": o.reason_code, "opened_by": o.opened_by, "opened_at": o.opened_at,
        "closed_at": state.closed_at,
        "breached": any(c.breached for c in state.sla.values()),
        "root_cause": state.investigation.root_cause if state.investigation else None,
        "turnaround_s": state.turnaround_seconds, "rejections": state.rejections,
        "revision": state.revision, "description": o.description, "view": view,
    }
    if not update_if_newer(session, o.dispute_id, state.revision, values):
        stored = locked_revision(session, o.dispute_id)
        if stored is not None:
            return False  # this revision or a newer one is stored: a retry, nothing to do
        try:
            with session.begin_nested():
                session.add(Dispute(id=o.dispute_id, **values))
        except IntegrityError:
            # The API's intake row landed meanwhile (it races the first snapshot): write
            # over it, rather than fail and wait for the activity's retry.
            if locked_revision(session, o.dispute_id) is None:
                raise  # not that race: some other constraint
            if not update_if_newer(session, o.dispute_id, state.revision, values):
                return False
    memos = [*state.past_memos, *([state.credit_memo] if state.credit_memo else [])]
    if memos:
        _save_memos(session, state, memos)
    _save_breaches(session, state)
    if before_audit is not None:
        before_audit()
        session.flush()
    audit.append(session, [
        audit.NewEvent(actor=e.actor, action=e.action, subject=o.dispute_id, message=e.message,
                       data=e.data, at=e.at, idem_key=f"{o.dispute_id}:{state.revision}:{i}")
        for i, e in enumerate(events)
    ], keys_are_new=True)  # this revision was not stored: neither are its events
    return True


def update_if_newer(session: Session, dispute_id: str, revision: int,
                    values: dict[str, Any]) -> bool:
    """The snapshot's first statement (public so a test can interleave a racing intake):
    write the row if it holds an older revision — one statement, which also takes the
    row's lock until commit (a locking read, then the update, were two round trips on every
    snapshot, inside the decision's Update). False when there is no row or it is as new."""
    return session.execute(
        update(_DISPUTES).where(_DISPUTES.c.id == dispute_id, _DISPUTES.c.revision < revision)
        .values(**values).returning(_DISPUTES.c.revision)).first() is not None


def locked_revision(session: Session, dispute_id: str) -> int | None:
    """The snapshot's check when :func:`update_if_newer` wrote nothing: the stored revision,
    row locked until commit; only it: loading the whole row would parse its (large) view."""
    return session.scalar(select(_DISPUTES.c.revision).where(_DISPUTES.c.id == dispute_id)
                          .with_for_update())


# Rows as stored, by their key columns' values.
_Stored = dict[tuple[Any, ...], RowMapping]


def _line_products(session: Session, invoice_number: str) -> dict[str, str]:
    """The product of each line of the invoice: one read per new memo, none per decision."""
    return {line: product for line, product in session.execute(
        select(InvoiceLine.line_id, InvoiceLine.product)
        .where(InvoiceLine.invoice_number == invoice_number))}


def _save_memos(session: Session, state: DisputeState, memos: list[Any]) -> None:
    """Insert new memos (with their lines) and levels, update those that changed: two reads
    and a statement per kind of write, whatever the number of rows (Core statements: the
    ORM's unit of work cost more than the database did)."""
    o = state.opened
    stored_memos: _Stored = {(r.number,): r._mapping for r in session.execute(
        select(_MEMOS).where(_MEMOS.c.dispute_id == o.dispute_id))}
    stored_levels: _Stored = {(r.memo_number, r.level): r._mapping for r in session.execute(
        select(_LEVELS).where(_LEVELS.c.dispute_id == o.dispute_id))}
    memo_rows = [{
        "number": memo.number, "dispute_id": o.dispute_id, "account_id": o.account_id,
        "invoice_number": o.invoice_number, "status": memo.status, "currency": memo.currency,
        "total_minor": to_minor(memo.total, memo.currency), "base_currency": memo.base_currency,
        "base_total_minor": to_minor(memo.base_total, memo.base_currency),
        "fx_rate": memo.fx_rate, "fx_as_of": memo.fx_as_of, "prior_period": memo.prior_period,
        "preparer_id": memo.preparer_id, "policy_version": memo.policy_version,
        "tier_min": memo.tier_min,
        "chain": {"reasons": memo.chain_reasons, "closed_periods": memo.closed_periods,
                  "window_total_base": str(memo.window_total_base),
                  "levels": [lv.role for lv in memo.levels]},
        "created_at": memo.created_at, "posted_at": memo.posted_at,
        "approved_at": approved_at(memo), "ledger_reference": memo.ledger_reference,
        "posting_error": memo.posting_error,
    } for memo in memos]
    _write_rows(session, _MEMOS, ("number",), stored_memos, memo_rows)
    fresh = [memo for memo in memos if (memo.number,) not in stored_memos]
    products = _line_products(session, o.invoice_number) if fresh else {}
    lines = [{"memo_number": memo.number, "line_id": ln.line_id,
              "invoice_number": o.invoice_number,
              "amount_minor": to_minor(ln.amount, memo.currency)}
             for memo in fresh for ln in memo.lines]
    by_product: dict[tuple[str, str], int] = defaultdict(int)
    for line in lines:
        by_product[line["memo_number"], products.get(line["line_id"], "")] += \
            line["amount_minor"]
    if lines:  # a memo's lines never change: written with it
        session.execute(insert(_LINES), lines)
        session.execute(insert(_PRODUCTS), [
            {"memo_number": memo, "product": product, "amount_minor": minor}
            for (memo, product), minor in by_product.items()])
    _write_rows(session, _LEVELS, ("memo_number", "level"), stored_levels, [{
        "memo_number": memo.number, "level": lv.level, "dispute_id": o.dispute_id,
        "role": lv.role, "status": lv.status, "approver_id": lv.approver_id,
        "delegate_of": lv.delegate_of, "decided_at": lv.decided_at, "channel": lv.channel,
        "comment": lv.comment, "due_at": lv.due_at, "sod_checks": lv.sod_checks,
        "pending_since": _pending_since(memo, lv), "memo_preparer_id": memo.preparer_id,
        "dispute_opener_id": o.opened_by,
    } for memo in memos for lv in memo.levels])


def _pending_since(memo: MemoState, level: LevelState) -> datetime | None:
    """When the level became the one to decide: level 1 when its memo was created, a later
    level when the one before it was approved (the workflow activates the next level then);
    None while it waits, and for one voided before its turn came."""
    if level.level == 1:
        return memo.created_at
    before = next((lv for lv in memo.levels if lv.level == level.level - 1), None)
    return before.decided_at if before is not None and before.status == "approved" else None


def approved_at(memo: MemoState) -> datetime | None:
    """When the memo was approved: its last level's decision, or its creation when no level
    was needed; None for a memo never approved. A memo voided after its approval (revised
    once the ledger refused it) keeps it. Migration 0022 fills older rows by the same rule."""
    approved = memo.status in APPROVED_MEMO_STATUSES or (
        memo.status == "voided" and all(lv.status == "approved" for lv in memo.levels))
    if not approved:
        return None
    decided = [lv.decided_at for lv in memo.levels if lv.decided_at is not None]
    return max(decided) if decided else memo.created_at


def _write_rows(session: Session, target: Table, keys: tuple[str, ...],
                stored: _Stored, rows: list[dict[str, Any]]) -> None:
    """Insert the rows not ``stored`` (by their ``keys``) and update those whose other
    values differ: one statement each. An update's key parameters are named ``k_<column>``
    (they cannot share the names of the columns it sets)."""
    new, changed = [], []
    for row in rows:
        old = stored.get(tuple(row[k] for k in keys))
        values = {c: v for c, v in row.items() if c not in keys}
        if old is None:
            new.append(row)
        elif any(old[c] != v for c, v in values.items()):
            changed.append({**{f"k_{k}": row[k] for k in keys}, **values})
    if new:
        session.execute(insert(target), new)
    if changed:
        session.execute(update(target).where(*(target.c[k] == bindparam(f"k_{k}") for k in keys)),
                        changed)


def _save_breaches(session: Session, state: DisputeState) -> None:
    o = state.opened
    memo = state.credit_memo
    breached = {name: clock for name, clock in state.sla.items()
                if clock.breached and clock.breached_at is not None}
    if not breached:
        return
    stored = {r.clock: r for r in session.scalars(
        select(SlaBreach).where(SlaBreach.dispute_id == o.dispute_id))}  # one read for all
    for name, clock in breached.items():
        escalated = None
        if clock.level is not None and memo is not None:
            level = next((lv for lv in memo.levels if lv.level == clock.level), None)
            escalated = level.escalate_to if level and level.status == "escalated" else None
        values = {"due_at": clock.due_at, "breached_at": clock.breached_at,
                  "stopped_at": clock.stopped_at, "assignee_role": clock.assignee_role,
                  "amount_minor": to_minor(o.disputed_amount, o.currency),
                  "currency": o.currency, "escalated_to": escalated}
        row = stored.get(name)
        if row is None:
            session.add(SlaBreach(dispute_id=o.dispute_id, clock=name, **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)
    session.flush()


def list_breaches(
    session: Session, *, open_only: bool | None, clock: str | None, assignee_role: str | None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Breaches, longest past due first."""
    query = select(SlaBreach)
    if open_only is True:
        query = query.where(SlaBreach.stopped_at.is_(None))
    elif open_only is False:
        query = query.where(SlaBreach.stopped_at.is_not(None))
    if clock:
        query = query.where(SlaBreach.clock.like(f"{clock}%") if clock == "approval"
                            else SlaBreach.clock == clock)
    if assignee_role:
        query = query.where(SlaBreach.assignee_role == assignee_role)
    rows = session.scalars(query.order_by(SlaBreach.due_at, SlaBreach.dispute_id).limit(limit))
    return [{"dispute_id": r.dispute_id, "clock": r.clock, "due_at": r.due_at.isoformat(),
             "breached_at": r.breached_at.isoformat(),
             "stopped_at": r.stopped_at.isoformat() if r.stopped_at else None,
             "assignee_role": r.assignee_role, "escalated_to": r.escalated_to,
             "amount": str(from_minor(r.amount_minor, r.currency)), "currency": r.currency}
            for r in rows]


def timeline(session: Session, dispute_id: str) -> list[dict[str, Any]]:
    """The dispute's audit events as the view shows them: only their shown columns (the
    event data and hashes are not parsed for every read of a dispute)."""
    rows = session.execute(
        select(AuditEvent.seq, AuditEvent.at, AuditEvent.actor, AuditEvent.action,
               AuditEvent.message)
        .where(AuditEvent.subject == dispute_id).order_by(AuditEvent.seq))
    return [{"seq": seq, "at": at.isoformat(), "actor": actor, "action": action,
             "message": message} for seq, at, actor, action, message in rows]


def get_view(session: Session, dispute_id: str, *, with_timeline: bool = True
             ) -> dict[str, Any] | None:
    """The dispute as the API shows it. ``with_timeline=False`` for callers that only check
    its state (a decision's pre-checks, Slack messages): one query instead of two."""
    view = session.scalar(select(Dispute.view).where(Dispute.id == dispute_id))
    if view is None:
        return None
    return {**view, "timeline": timeline(session, dispute_id)} if with_timeline else dict(view)


def stored_status(session: Session, dispute_id: str) -> str | None:
    """The status a snapshot is about to replace (None before the dispute's first row): what
    outbound webhooks compare the new one with."""
    return session.scalar(select(_DISPUTES.c.status).where(_DISPUTES.c.id == dispute_id))
