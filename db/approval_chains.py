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
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    String,
    Text,
    any_,
    bindparam,
    cast,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from db.approval_chains_pg import iter_records_pg
from db.csv_cells import escaped
from db.models import ApprovalLevel, CreditMemo, LedgerPosting, table
from db.users import user_names
from domain.money import minor_text

__all__ = [
    "EXPORT_COLUMNS",
    "export",
    "iter_csv",
    "iter_json",
    "iter_records",
    "iter_records_python",
    "memo_batches",
]

EXPORT_COLUMNS: list[str] = [
    "dispute_id", "account_id", "invoice_number", "credit_memo", "memo_status",
    "memo_created_at", "currency", "total", "base_currency", "base_total", "fx_rate",
    "fx_as_of", "policy_version", "tier_min", "chain_reasons", "level", "levels_in_chain",
    "required_role", "level_status", "approver_id", "delegate_of", "decision", "comment",
    "channel", "decided_at", "sod_checks", "posted_at", "ledger_reference",
    # Appended (columns are never renamed or moved): the people by name beside their ids.
    "preparer_id", "preparer_name", "approver_name", "delegate_of_name",
]

_MEMOS, _LEVELS, _LEDGER = table(CreditMemo), table(ApprovalLevel), table(LedgerPosting)
_DECISIONS = {"approved": "approve", "rejected": "reject"}
# What the export reads. The JSON columns come as text and are parsed here: the driver's own
# JSON loading cost more than the rest of the row (PostgreSQL's psycopg) — see bench_audit.
_EXPORT_MEMO_COLUMNS: list[ColumnElement[Any]] = [
    *(_MEMOS.c[name] for name in (
        "dispute_id", "account_id", "invoice_number", "number", "status", "created_at",
        "currency", "total_minor", "base_currency", "base_total_minor", "fx_rate", "fx_as_of",
        "policy_version", "tier_min", "posted_at")),
    cast(_MEMOS.c.chain, Text).label("chain"),
    _MEMOS.c.preparer_id,
]
_EXPORT_LEVEL_COLUMNS: list[ColumnElement[Any]] = [
    *(_LEVELS.c[name] for name in (
        "memo_number", "level", "role", "status", "approver_id", "delegate_of", "comment",
        "channel", "decided_at")),
    cast(_LEVELS.c.sod_checks, Text).label("sod_checks"),
]


def memo_batches(
    session: Session,
    *,
    start: datetime | None,
    end: datetime | None,
    batch: int = 1000,
    statuses: Sequence[str] | None = None,
    columns: Sequence[ColumnElement[Any]] | None = None,
) -> Iterator[list[Row[Any]]]:
    """Credit memo rows with ``start <= created_at < end``, in ``(created_at, number)`` order.

    Keyset pagination rather than OFFSET, so every page costs the same and a memo written
    during the export cannot shift a page boundary and be read twice or skipped. Core rows
    (not ORM objects) are returned so nothing accumulates in the session's identity map.
    Shared with :mod:`db.control_test`, which walks the same population. ``columns`` (which
    must include ``created_at`` and ``number``) narrows what is read; every column by default.
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    base = select(*columns) if columns is not None else select(_MEMOS)
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
            # A row-value comparison, not ``a > x OR (a = x AND b > y)``: PostgreSQL turns
            # it into one index range scan, where the OR form filtered from the start of the
            # index on every page.
            query = query.where(tuple_(_MEMOS.c.created_at, _MEMOS.c.number) > tuple_(at, number))
        rows = list(session.execute(
            query.order_by(_MEMOS.c.created_at, _MEMOS.c.number).limit(batch)).all())
        if not rows:
            return
        yield rows
        if len(rows) < batch:
            return
        after = (rows[-1].created_at, rows[-1].number)


def one_of(session: Session, column: ColumnElement[str],
           values: Sequence[str]) -> ColumnElement[bool]:
    """``column IN values`` for a batch of keys. On PostgreSQL, ``= ANY(array)`` with one
    array parameter: an ``IN`` of 1,000 parameters cost more to bind client-side than the
    query took to run."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(list(values))


def levels_by_memo(
    session: Session, numbers: Sequence[str],
    columns: Sequence[ColumnElement[Any]] | None = None,
) -> dict[str, list[Row[Any]]]:
    """The approval levels of one batch of memos, each memo's list ordered by level.
    ``columns`` (which must include ``memo_number``) narrows what is read."""
    found: dict[str, list[Row[Any]]] = defaultdict(list)
    if numbers:
        query = select(*columns) if columns is not None else select(_LEVELS)
        rows = session.execute(query.where(one_of(session, _LEVELS.c.memo_number, numbers))
                               .order_by(_LEVELS.c.memo_number, _LEVELS.c.level))
        for row in rows.all():
            found[row.memo_number].append(row)
    return found


def _ledger_references(session: Session, numbers: Sequence[str]) -> dict[str, str]:
    """The ledger's reference for each posted memo of a batch (several joined, sorted)."""
    refs: dict[str, list[str]] = defaultdict(list)
    if numbers:
        rows = session.execute(
            select(_LEDGER.c.memo_number, _LEDGER.c.reference)
            .where(one_of(session, _LEDGER.c.memo_number, numbers))
            .order_by(_LEDGER.c.memo_number, _LEDGER.c.reference))
        for memo_number, reference in rows.all():
            refs[memo_number].append(reference)
    return {number: ", ".join(values) for number, values in refs.items()}


def _sod_text(checks: object) -> str:
    """``name=pass; name=fail`` from the stored ``[{"name", "passed", "detail"}]`` list."""
    if not isinstance(checks, list):
        return ""
    parts = []
    for check in checks:
        if isinstance(check, dict):
            parts.append(f"{check.get('name', '?')}={'pass' if check.get('passed') else 'fail'}")
    return "; ".join(parts)


def _memo_cells(memo: Any, ledger_reference: str, names: dict[str, str]
                ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A memo's leading 15 cells (``dispute_id`` … ``chain_reasons``) and its trailing four
    (``posted_at``, ``ledger_reference``, ``preparer_id``, ``preparer_name``): computed once
    per memo, shared by its levels (whose names follow them).

    ``memo`` is a row of :data:`_EXPORT_MEMO_COLUMNS`, unpacked by position (a hundred
    thousand rows make attribute lookups count)."""
    (dispute_id, account_id, invoice_number, number, status, created_at, currency, total_minor,
     base_currency, base_total_minor, fx_rate, fx_as_of, policy_version, tier_min, posted_at,
     chain_json, preparer_id) = memo
    chain = json.loads(chain_json) if chain_json else None
    reasons = chain.get("reasons") if isinstance(chain, dict) else None
    if not isinstance(reasons, list):
        reasons = []
    head = (
        dispute_id, account_id, invoice_number, number, status, created_at.isoformat(),
        currency, minor_text(total_minor, currency), base_currency,
        minor_text(base_total_minor, base_currency), str(fx_rate), fx_as_of.isoformat(),
        str(policy_version), str(tier_min), " ".join(str(r) for r in reasons),
    )
    return head, ("" if posted_at is None else posted_at.isoformat(), ledger_reference,
                  preparer_id, names.get(preparer_id, ""))


# The level cells of a memo with no approval levels (a de-minimis tier): one record says so.
_AUTO_APPROVED_LEVEL = ("0", "0", "", "auto_approved", "", "", "auto_approve", "", "", "", "")


def _auto_approved_reasons(memo: Row[Any]) -> str:
    """The chain's reason when an auto-approved memo recorded none."""
    return (f"No approval levels: auto-approved under the de-minimis tier (from "
            f"{memo.tier_min} {memo.base_currency}) of policy version "
            f"{memo.policy_version}.")


def _level_cells(lv: Any, levels_in_chain: str) -> tuple[str, ...]:
    """The 11 cells of one approval level, from a row of :data:`_EXPORT_LEVEL_COLUMNS`."""
    (_, level, role, status, approver_id, delegate_of, comment, channel, decided_at,
     sod_json) = lv
    return (str(level), levels_in_chain, role, status, approver_id or "", delegate_of or "",
            _DECISIONS.get(status, ""), comment or "", channel or "",
            "" if decided_at is None else decided_at.isoformat(),
            _sod_text(json.loads(sod_json) if sod_json else None))


def iter_records(
    session: Session, *, start: datetime | None, end: datetime | None, batch: int = 1000,
    escape: bool = False,
) -> Iterator[list[tuple[str, ...]]]:
    """The export in batches of records (tuples in :data:`EXPORT_COLUMNS` order, every value
    a string), ordered by ``(memo created_at, memo number, level)``; ``escape`` applies
    :func:`db.csv_cells.csv_safe` to every cell (for CSV).

    On PostgreSQL the database formats the cells (:mod:`db.approval_chains_pg`, two to three
    times faster); elsewhere :func:`iter_records_python`, which defines the output.
    """
    if session.get_bind().dialect.name == "postgresql":
        return iter_records_pg(session, start=start, end=end, batch=batch, escape=escape)
    return iter_records_python(session, start=start, end=end, batch=batch, escape=escape)


def iter_records_python(
    session: Session, *, start: datetime | None, end: datetime | None, batch: int = 1000,
    escape: bool = False,
) -> Iterator[list[tuple[str, ...]]]:
    """The export's records, formatted here: the reference for every backend.

    ``batch`` counts memos per query; each batch costs three queries (memos, their levels,
    their ledger references), whatever the number of memos exported. Batches rather than
    single records, and the memo's cells built once for all its levels, because per-record
    overhead is what bounds an export of 100,000 rows.
    """
    esc = escaped if escape else tuple
    for memos in memo_batches(session, start=start, end=end, batch=batch,
                              columns=_EXPORT_MEMO_COLUMNS):
        numbers = [m.number for m in memos]
        levels = levels_by_memo(session, numbers, _EXPORT_LEVEL_COLUMNS)
        refs = _ledger_references(session, numbers)
        people = {m.preparer_id for m in memos} | {
            who for chain in levels.values() for lv in chain
            for who in (lv.approver_id, lv.delegate_of) if who}
        names = user_names(session, people)
        records: list[tuple[str, ...]] = []
        for memo in memos:
            head, tail = _memo_cells(memo, refs.get(memo.number, ""), names)
            chain = levels.get(memo.number)
            if not chain:
                reasons = head[-1] or _auto_approved_reasons(memo)
                records.append(esc((*head[:-1], reasons, *_AUTO_APPROVED_LEVEL, *tail,
                                    "", "")))
                continue
            size = str(len(chain))
            for lv in chain:
                records.append(esc((*head, *_level_cells(lv, size), *tail,
                                    names.get(lv.approver_id or "", ""),
                                    names.get(lv.delegate_of or "", ""))))
        yield records


def iter_csv(batches: Iterable[Sequence[Sequence[str]]]) -> Iterator[str]:
    """The header, then one chunk of ``\\r\\n``-terminated CSV records per batch.

    The cells must already be escaped (``iter_records(..., escape=True)``). A chunk per batch
    keeps memory to one batch and lets a ``StreamingResponse`` send as it reads. A comment
    with embedded newlines stays one quoted record (the csv module quotes it).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue()
    for records in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(records)
        yield buffer.getvalue()


def iter_json(batches: Iterable[Sequence[Sequence[str]]]) -> Iterator[str]:
    """``{"items": [...]}`` in one chunk per batch, never holding the whole list in memory.

    No formula escaping here: JSON consumers get the values exactly as stored.
    """
    yield '{"items": ['
    first = True
    for records in batches:
        if not records:
            continue
        body = ", ".join(json.dumps(dict(zip(EXPORT_COLUMNS, record, strict=True)),
                                    ensure_ascii=False) for record in records)
        yield ("" if first else ", ") + body
        first = False
    yield "]}\n"


def export(session: Session, *, start: datetime | None, end: datetime | None,
           format: str) -> Iterator[str]:
    """The approval-chain export as text chunks, ``format`` ``"csv"`` or ``"json"``: the one
    entry point for the API's download and ``disputeflow audit export``."""
    if format == "csv":
        return iter_csv(iter_records(session, start=start, end=end, escape=True))
    if format == "json":
        return iter_json(iter_records(session, start=start, end=end))
    raise ValueError(f"format must be 'csv' or 'json', got {format!r}")
