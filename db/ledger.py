"""The ledger book: one posting per idempotency key, never two. The embedded ledger
connector posts into it; the ERP connector records in it what the ERP booked (its
reference), so the control test and the documents read one book whichever ledger is used.
A retried activity finds the first posting instead of writing a second one."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import LedgerPosting


def post(
    session: Session, *, idempotency_key: str, memo_number: str, account_id: str,
    invoice_number: str, currency: str, amount_minor: int,
) -> LedgerPosting:
    """The embedded ledger's posting: its reference is made here."""
    return record(session, idempotency_key=idempotency_key, reference="LGR-" + memo_number,
                  memo_number=memo_number, account_id=account_id,
                  invoice_number=invoice_number, currency=currency, amount_minor=amount_minor,
                  posted_at=datetime.now(UTC))


def record(
    session: Session, *, idempotency_key: str, reference: str, memo_number: str,
    account_id: str, invoice_number: str, currency: str, amount_minor: int,
    posted_at: datetime,
) -> LedgerPosting:
    """A posting under ``reference`` (the embedded ledger's or the ERP's), unless one is
    recorded for the key already: then that one is returned, unchanged."""
    existing = session.get(LedgerPosting, idempotency_key)
    if existing is not None:
        return existing
    row = LedgerPosting(
        idempotency_key=idempotency_key, reference=reference, memo_number=memo_number,
        account_id=account_id, invoice_number=invoice_number, currency=currency,
        amount_minor=amount_minor, posted_at=posted_at,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent attempt won; return its posting
        found = session.get(LedgerPosting, idempotency_key)
        assert found is not None
        return found
    return row
