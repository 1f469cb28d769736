"""The ledger reconciliation report: credit memos approved in a month, set against what was
posted and the ledger's references.

A memo approved in the period (``credit_memos.approved_at``, the calendar month in the
policy's time zone, as the month-end report counts) is expected to be posted once, with a
reference the ledger answered, and that reference to be in our ledger book
(``ledger_postings``, where the embedded ledger posts and the ERP connector records what the
ERP booked). Each memo gets the exceptions it shows:

- ``not_posted``: approved, not posted yet (the ledger is being asked);
- ``posting_failed``: the ledger refused it (its reason is on the row), waiting for a re-post;
- ``voided_after_approval``: approved, then revised after the ledger refused it;
- ``missing_reference``: posted with no reference kept;
- ``not_in_ledger_book``: posted, but the ledger book holds no posting of it;
- ``reference_mismatch``: the reference kept differs from the ledger book's;
- ``posted_more_than_once``: the ledger book holds several postings of it.

Amounts are in each memo's currency and, summed, in the policy's base currency at each
memo's own rate (as approved): no rate is looked up, so the figures never move.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import policies, report_window
from db.models import Account, CreditMemo, LedgerPosting
from db.month_end import month_bounds
from domain.money import from_minor

__all__ = ["COLUMNS", "reconciliation_report"]

# The CSV's columns (the JSON rows' keys, in order).
COLUMNS = ("number", "dispute_id", "account_id", "account_name", "invoice_number", "currency",
           "total", "base_currency", "base_total", "approved_at", "status", "posted_at",
           "ledger_reference", "ledger_book_references", "posting_error", "exceptions")
_TALLIES = ("approved", "posted", "not_posted", "posting_failed", "voided_after_approval")


def reconciliation_report(session: Session, *, period: str) -> dict[str, Any]:
    """The report for ``period`` (``YYYY-MM``); raises ``db.month_end.PeriodError`` for a
    bad one."""
    zone = ZoneInfo(report_window.policy_timezone(session))
    start, end = month_bounds(period, zone)
    base = str(policies.current(session).document.get("base_currency", "USD"))
    memos = session.execute(
        select(CreditMemo.number, CreditMemo.dispute_id, CreditMemo.account_id, Account.name,
               CreditMemo.invoice_number, CreditMemo.currency, CreditMemo.total_minor,
               CreditMemo.base_currency, CreditMemo.base_total_minor, CreditMemo.approved_at,
               CreditMemo.status, CreditMemo.posted_at, CreditMemo.ledger_reference,
               CreditMemo.posting_error)
        .join(Account, Account.id == CreditMemo.account_id, isouter=True)
        .where(CreditMemo.approved_at >= start, CreditMemo.approved_at < end)
        .order_by(CreditMemo.approved_at, CreditMemo.number)).all()
    book = _ledger_book(session, [m.number for m in memos])
    rows = [_row(m, book.get(m.number, [])) for m in memos]
    return {"period": period, "from": start.isoformat(), "to": end.isoformat(),
            "timezone": str(zone), "base_currency": base,
            "summary": _summary(memos, rows, base), "by_currency": _by_currency(memos, rows),
            "reconciled": not any(r["exceptions"] for r in rows), "items": rows}


def _ledger_book(session: Session, numbers: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for chunk in (numbers[i:i + 500] for i in range(0, len(numbers), 500)):
        for number, reference in session.execute(
                select(LedgerPosting.memo_number, LedgerPosting.reference)
                .where(LedgerPosting.memo_number.in_(chunk))
                .order_by(LedgerPosting.memo_number, LedgerPosting.reference)):
            found[number].append(reference)
    return found


def _exceptions(memo: Any, book: list[str]) -> list[str]:
    if memo.status == "posted":
        found = []
        if not memo.ledger_reference:
            found.append("missing_reference")
        if not book:
            found.append("not_in_ledger_book")
        elif memo.ledger_reference and memo.ledger_reference not in book:
            found.append("reference_mismatch")
        if len(book) > 1:
            found.append("posted_more_than_once")
        return found
    return [{"approved": "not_posted", "posting_failed": "posting_failed",
             "voided": "voided_after_approval"}.get(memo.status, "not_posted")]


def _row(memo: Any, book: list[str]) -> dict[str, Any]:
    return {
        "number": memo.number, "dispute_id": memo.dispute_id, "account_id": memo.account_id,
        "account_name": memo.name, "invoice_number": memo.invoice_number,
        "currency": memo.currency, "total": str(from_minor(memo.total_minor, memo.currency)),
        "base_currency": memo.base_currency,
        "base_total": str(from_minor(memo.base_total_minor, memo.base_currency)),
        "approved_at": _iso(memo.approved_at), "status": memo.status,
        "posted_at": _iso(memo.posted_at), "ledger_reference": memo.ledger_reference,
        "ledger_book_references": book, "posting_error": memo.posting_error,
        "exceptions": _exceptions(memo, book),
    }


def _tally(row: dict[str, Any]) -> list[str]:
    """The summary lines a memo counts in: approved always, then where it stands."""
    where = {"posted": "posted", "posting_failed": "posting_failed",
             "voided": "voided_after_approval"}.get(row["status"], "not_posted")
    return ["approved", where]


def _summary(memos: Sequence[Any], rows: list[dict[str, Any]], base: str) -> dict[str, Any]:
    counts = dict.fromkeys(_TALLIES, 0)
    minor = dict.fromkeys(_TALLIES, 0)
    for memo, row in zip(memos, rows, strict=True):
        for name in _tally(row):
            counts[name] += 1
            minor[name] += memo.base_total_minor
    out: dict[str, Any] = {name: {"credit_memos": counts[name],
                                  "base_amount": str(from_minor(minor[name], base))}
                           for name in _TALLIES}
    out["missing_reference"] = sum("missing_reference" in r["exceptions"] for r in rows)
    out["exceptions"] = sum(bool(r["exceptions"]) for r in rows)
    return out


def _by_currency(memos: Sequence[Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Approved against posted in each memo currency, and what is not posted."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for memo, row in zip(memos, rows, strict=True):
        sums[memo.currency][0] += memo.total_minor
        if row["status"] == "posted":
            sums[memo.currency][1] += memo.total_minor
    return [{"currency": cur, "approved": str(from_minor(a, cur)),
             "posted": str(from_minor(p, cur)), "not_posted": str(from_minor(a - p, cur))}
            for cur, (a, p) in sorted(sums.items())]


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
