"""The auditor's approval-chain export: one row per approval level of every credit memo.

DESIGN.md (Audit) asks that an auditor can see, per credit memo, the amounts in both
currencies, the policy version and tier that chose the chain, and for each level who decided,
for whom, how, when and under which segregation-of-duties checks. This module reads that from
the read model (``credit_memos`` and ``approval_levels``, written by ``db.disputes._save_memo``)
and streams it: memos are read in keyset-paginated batches on ``(created_at, number)``, so an
export of 100,000 memos holds one batch in memory, never the whole result, and the HTTP layer
can hand :func:`iter_csv` / :func:`iter_json` straight to a ``StreamingResponse``.

Every value leaves as a string (``""`` for none): money from integer minor units through
:func:`domain.money.from_minor` (never a float), times as ISO 8601 UTC.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.orm import Session

from db.models import ApprovalLevel, CreditMemo, LedgerPosting
from domain.money import from_minor

__all__ = [
    "EXPORT_COLUMNS",
    "csv_safe",
    "iter_csv",
    "iter_json",
    "iter_rows",
    "memo_batches",
]

EXPORT_COLUMNS: list[str] = [
    "dispute_id", "account_id", "invoice_number", "credit_memo", "memo_status",
    "memo_created_at", "currency", "total", "base_currency", "base_total", "fx_rate",
    "fx_as_of", "policy_version", "tier_min", "chain_reasons", "level", "levels_in_chain",
    "required_role", "level_status", "approver_id", "delegate_of", "decision", "comment",
    "channel", "decided_at", "sod_checks", "posted_at", "ledger_reference",
]

_MEMOS = CreditMemo.__table__
_LEVELS = ApprovalLevel.__table__
_DECISIONS = {"approved": "approve", "rejected": "reject"}
# Characters a spreadsheet reads as the start of a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def memo_batches(
    session: Session,
    *,
    start: datetime | None,
    end: datetime | None,
    batch: int = 1000,
    statuses: Sequence[str] | None = None,
) -> Iterator[list[Row[Any]]]:
    """Credit memo rows with ``start <= created_at < end``, in ``(created_at, number)`` order.

    Keyset pagination rather than OFFSET, so every page costs the same and a memo written
    during the export cannot shift a page boundary and be read twice or skipped. Core rows
    (not ORM objects) are returned so nothing accumulates in the session's identity map.
    Shared with :mod:`db.control_test`, which walks the same population.
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    base = select(_MEMOS)
    if start is not None:
        base = base.where(_MEMOS.c.created_at >= start)
    if end is not None:
        base = base.where(_MEMOS.c.created_at < end)
    if statuses is not None:
        base = base.where(_MEMOS.c.status.in_(list(statuses)))
    after: tuple[datetime, str] | None = None
    while True:
        query = base
        if after is not None:
            at, number = after
            query = query.where(or_(_MEMOS.c.created_at > at,
                                    and_(_MEMOS.c.created_at == at, _MEMOS.c.number > number)))
        rows = list(session.execute(
            query.order_by(_MEMOS.c.created_at, _MEMOS.c.number).limit(batch)))
        if not rows:
            return
        yield rows
        if len(rows) < batch:
            return
        after = (rows[-1].created_at, rows[-1].number)


def levels_by_memo(session: Session, numbers: Sequence[str]) -> dict[str, list[Row[Any]]]:
    """The approval levels of one batch of memos, each memo's list ordered by level."""
    found: dict[str, list[Row[Any]]] = defaultdict(list)
    if numbers:
        rows = session.execute(select(_LEVELS).where(_LEVELS.c.memo_number.in_(list(numbers)))
                               .order_by(_LEVELS.c.memo_number, _LEVELS.c.level))
        for row in rows:
            found[row.memo_number].append(row)
    return found


def _ledger_references(session: Session, numbers: Sequence[str]) -> dict[str, str]:
    """The ledger's reference for each posted memo of a batch (several joined, sorted)."""
    refs: dict[str, list[str]] = defaultdict(list)
    if numbers:
        rows = session.execute(
            select(LedgerPosting.memo_number, LedgerPosting.reference)
            .where(LedgerPosting.memo_number.in_(list(numbers)))
            .order_by(LedgerPosting.memo_number, LedgerPosting.reference))
        for memo_number, reference in rows:
            refs[memo_number].append(reference)
    return {number: ", ".join(values) for number, values in refs.items()}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _sod_text(checks: object) -> str:
    """``name=pass; name=fail`` from the stored ``[{"name", "passed", "detail"}]`` list."""
    if not isinstance(checks, list):
        return ""
    parts = []
    for check in checks:
        if isinstance(check, dict):
            parts.append(f"{check.get('name', '?')}={'pass' if check.get('passed') else 'fail'}")
    return "; ".join(parts)


def _memo_columns(memo: Row[Any], ledger_reference: str) -> dict[str, str]:
    chain = memo.chain if isinstance(memo.chain, dict) else {}
    reasons = chain.get("reasons") or []
    return {
        "dispute_id": memo.dispute_id,
        "account_id": memo.account_id,
        "invoice_number": memo.invoice_number,
        "credit_memo": memo.number,
        "memo_status": memo.status,
        "memo_created_at": _text(memo.created_at),
        "currency": memo.currency,
        "total": str(from_minor(memo.total_minor, memo.currency)),
        "base_currency": memo.base_currency,
        "base_total": str(from_minor(memo.base_total_minor, memo.base_currency)),
        "fx_rate": _text(memo.fx_rate),
        "fx_as_of": _text(memo.fx_as_of),
        "policy_version": _text(memo.policy_version),
        "tier_min": _text(memo.tier_min),
        "chain_reasons": " ".join(str(r) for r in reasons),
        "posted_at": _text(memo.posted_at),
        "ledger_reference": ledger_reference,
    }


def _auto_approved_row(memo: Row[Any], head: dict[str, str]) -> dict[str, str]:
    """The single row of a memo with no approval levels (a de-minimis tier)."""
    reasons = head["chain_reasons"] or (
        f"No approval levels: auto-approved under the de-minimis tier (from "
        f"{_text(memo.tier_min)} {memo.base_currency}) of policy version {memo.policy_version}.")
    level = {"level": "0", "levels_in_chain": "0", "required_role": "",
             "level_status": "auto_approved", "approver_id": "", "delegate_of": "",
             "decision": "auto_approve", "comment": "", "channel": "", "decided_at": "",
             "sod_checks": ""}
    return _ordered({**head, "chain_reasons": reasons, **level})


def _ordered(values: dict[str, str]) -> dict[str, str]:
    return {column: values.get(column, "") for column in EXPORT_COLUMNS}


def iter_rows(
    session: Session, *, start: datetime | None, end: datetime | None, batch: int = 1000
) -> Iterator[dict[str, str]]:
    """Export rows ordered by ``(memo created_at, memo number, level)``, every value a string.

    ``batch`` counts memos per query; each batch costs three queries (memos, their levels,
    their ledger references), whatever the number of memos exported.
    """
    for memos in memo_batches(session, start=start, end=end, batch=batch):
        numbers = [m.number for m in memos]
        levels = levels_by_memo(session, numbers)
        refs = _ledger_references(session, numbers)
        for memo in memos:
            head = _memo_columns(memo, refs.get(memo.number, ""))
            chain = levels.get(memo.number, [])
            if not chain:
                yield _auto_approved_row(memo, head)
                continue
            for lv in chain:
                yield _ordered({
                    **head,
                    "level": str(lv.level),
                    "levels_in_chain": str(len(chain)),
                    "required_role": lv.role,
                    "level_status": lv.status,
                    "approver_id": _text(lv.approver_id),
                    "delegate_of": _text(lv.delegate_of),
                    "decision": _DECISIONS.get(lv.status, ""),
                    "comment": _text(lv.comment),
                    "channel": _text(lv.channel),
                    "decided_at": _text(lv.decided_at),
                    "sod_checks": _sod_text(lv.sod_checks),
                })


def csv_safe(value: str) -> str:
    """Neutralise spreadsheet formula injection: a comment such as ``=HYPERLINK(...)``
    typed by an approver must reach the auditor's spreadsheet as text, not run as a formula.
    The leading quote is the conventional, visible escape (OWASP)."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def iter_csv(rows: Iterable[dict[str, str]]) -> Iterator[str]:
    """The header, then one CSV record (``\\r\\n``-terminated) per row, each cell escaped.

    Records are yielded one by one so a ``StreamingResponse`` sends them as they are read.
    A comment with embedded newlines stays one quoted record (the csv module quotes it).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: Iterable[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_safe(cell) for cell in cells])
        return buffer.getvalue()

    yield line(EXPORT_COLUMNS)
    for row in rows:
        yield line(row.get(column, "") for column in EXPORT_COLUMNS)


def iter_json(rows: Iterable[dict[str, str]]) -> Iterator[str]:
    """``{"items": [...]}`` in chunks, one row per chunk, never holding the list in memory.

    No formula escaping here: JSON consumers get the values exactly as stored.
    """
    yield '{"items": ['
    first = True
    for row in rows:
        yield ("" if first else ", ") + json.dumps(row, ensure_ascii=False)
        first = False
    yield "]}\n"
