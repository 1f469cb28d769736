"""The embedded ledger connector's book. A posting is keyed by its idempotency key, so a
retried activity finds the first posting instead of writing a second one."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import LedgerPosting


def post(
    session: Session, *, idempotency_key: str, memo_number: str, account_id: str,
    invoice_number: str, currency: str, amount_minor: int,
) -> LedgerPosting:
    existing = session.get(LedgerPosting, idempotency_key)
    if existing is not None:
        return existing
    row = LedgerPosting(
        idempotency_key=idempotency_key, reference="LGR-" + memo_number,
        memo_number=memo_number, account_id=account_id, invoice_number=invoice_number,
        currency=currency, amount_minor=amount_minor, posted_at=datetime.now(UTC),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent attempt won; return its posting
        found = session.get(LedgerPosting, idempotency_key)
        assert found is not None
        return found
    return row
