"""A CSV file of billing data imported whole or not at all, by the same upsert as the JSON
document (:func:`db.billing.import_counts`): the CLI and the API both call this.

A refusal names rows: the file's own problems come from :mod:`domain.billing_csv`, and a
record the database refuses (an invoice of an unknown account, the lines of an invoice
that already has credit memos) is traced back to the rows that hold it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from db import billing
from domain.billing_csv import CsvRefused, RowError, parse
from domain.billing_csv_columns import DOCUMENT_FIELD


@dataclass(frozen=True)
class CsvImported:
    """What an accepted file did: its data rows, and its records (invoices for an invoice
    file, whose rows are lines) created, updated and unchanged."""

    kind: str
    rows: int
    created: int
    updated: int
    unchanged: int


def import_csv(session: Session, *, kind: str, data: bytes, actor: str) -> CsvImported:
    """Parse, validate and upsert one file of one kind; CsvRefused with every bad row
    otherwise. The writes sit in a savepoint: a refusal leaves the caller's transaction
    as it found it, whatever was written before the database said no."""
    parsed = parse(kind, data)
    try:
        with session.begin_nested():
            counts = billing.import_counts(session, parsed.document, actor=actor)
    except billing.ImportProblem as exc:
        errors = [RowError(line, problem.field, problem.message)
                  for problem in exc.problems for line in parsed.lines.get(problem.key, ())]
        raise CsvRefused(parsed.rows, errors or [RowError(None, None, str(exc))]) from None
    mine = counts[DOCUMENT_FIELD[kind]]
    return CsvImported(kind=kind, rows=parsed.rows, created=mine["created"],
                       updated=mine["updated"], unchanged=mine["unchanged"])
