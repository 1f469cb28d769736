"""Intake: validate a new dispute against the billing data, make retries idempotent.

Order matters for "nothing half-done": validate (read only) → start the workflow (its id is
derived from the Idempotency-Key, so a retry finds the same one) → write the read-model row
and the key. A crash between the last two is repaired by the retry or by the workflow's own
first snapshot.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.errors import AppError
from api.schemas import DisputeCreate
from db import billing, disputes
from db.models import Account
from db.users import Principal
from domain.codes import Channel
from domain.models import DisputeOpened, DisputeState, Evidence
from domain.money import MoneyError, fmt, from_minor, parse_amount, to_minor

_NAMESPACE = uuid.UUID("6f1c7a52-3d0e-4a8e-9b7c-d15b07ef1a0e")


def request_hash(body: DisputeCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def dispute_id_for(*, user_id: str, key: str | None) -> str:
    if key is None:
        return "DSP-" + uuid.uuid4().hex[:12].upper()
    return "DSP-" + uuid.uuid5(_NAMESPACE, f"{user_id}\n{key}").hex[:12].upper()


def replayed(session: Session, *, principal: Principal, key: str, body_hash: str) -> str | None:
    """The dispute an earlier request with this key created, or None; 409 if the body differs."""
    row = disputes.find_idempotency(session, user_id=principal.id, key=key)
    if row is None:
        return None
    if row.request_hash != body_hash:
        raise AppError("idempotency_conflict",
                       "This Idempotency-Key was already used with a different request body. "
                       "Use a new key for a new dispute.", {"dispute_id": row.dispute_id})
    return row.dispute_id


def _invalid(message: str, field: str) -> AppError:
    return AppError("validation_error", message, [{"field": field, "message": message}])


def validate(
    session: Session, *, body: DisputeCreate, principal: Principal, dispute_id: str,
    channel: Channel, now: datetime,
) -> DisputeOpened:
    if session.get(Account, body.account_id) is None:
        raise _invalid(f"Account {body.account_id} is unknown; check the id or import it.",
                       "account_id")
    invoice = billing.load_invoice(session, body.invoice_number)
    if invoice is None or invoice.account_id != body.account_id:
        raise _invalid(f"Invoice {body.invoice_number} is not an invoice of account "
                       f"{body.account_id}.", "invoice_number")
    if body.currency != invoice.currency:
        raise _invalid(f"The invoice is in {invoice.currency}; dispute it in {invoice.currency},"
                       f" not {body.currency}.", "currency")
    try:
        amount = parse_amount(body.disputed_amount, body.currency, field="disputed_amount")
    except MoneyError as exc:
        raise _invalid(str(exc), "disputed_amount") from None
    if amount <= Decimal(0):
        raise _invalid("disputed_amount must be greater than zero.", "disputed_amount")
    unknown = [lid for lid in body.line_ids if invoice.line(lid) is None]
    if unknown:
        raise _invalid(f"Lines not on invoice {invoice.number}: {', '.join(unknown)}.",
                       "line_ids")
    credited = from_minor(billing.credited_on_invoice(session, invoice.number), invoice.currency)
    open_amount = invoice.total - credited
    if amount > open_amount:
        raise _invalid(
            f"disputed_amount {fmt(amount, invoice.currency)} is more than what is still open on "
            f"invoice {invoice.number}: {fmt(open_amount, invoice.currency)} (total "
            f"{fmt(invoice.total, invoice.currency)} less {fmt(credited, invoice.currency)} "
            "already credited).", "disputed_amount")
    return DisputeOpened(
        dispute_id=dispute_id, account_id=body.account_id, invoice_number=invoice.number,
        currency=invoice.currency, disputed_amount=amount, reason_code=body.reason_code,
        description=body.description, line_ids=list(dict.fromkeys(body.line_ids)),
        evidence=[Evidence(**e.model_dump()) for e in body.evidence],
        opened_by=principal.id, opened_at=now, channel=channel,
    )


def record(
    session: Session, *, opened: DisputeOpened, principal: Principal, key: str | None,
    body_hash: str,
) -> None:
    """Write the intake row and the key. Either may already be there: the workflow's first
    snapshot can write the dispute row first (it runs as soon as the workflow starts), and a
    concurrent twin request with the same key can write the key first."""
    try:
        with session.begin_nested():
            disputes.insert_intake(session, state=DisputeState(opened=opened))
    except IntegrityError:
        pass  # the workflow's own first snapshot came first; it is the newer row
    billing.mark_disputed(session, invoice_number=opened.invoice_number, at=opened.opened_at)
    disputes.record_lines(session, dispute_id=opened.dispute_id,
                          invoice_number=opened.invoice_number, line_ids=opened.line_ids,
                          disputed_minor=to_minor(opened.disputed_amount, opened.currency))
    if key is None:
        return
    try:
        with session.begin_nested():
            disputes.insert_idempotency(session, user_id=principal.id, key=key,
                                        request_hash=body_hash, dispute_id=opened.dispute_id)
    except IntegrityError:
        replayed(session, principal=principal, key=key, body_hash=body_hash)  # 409 if not ours
