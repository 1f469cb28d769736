"""Billing data as CSV files, one kind per file: what a billing system or a spreadsheet
exports, turned into the billing-data document (:mod:`domain.billing_doc`).

Pure: bytes in, a document or every bad row out. Each row is validated by the JSON
document's own models, so the rules live in one place; this module adds only what a
file needs — the header, cells as text (whole numbers, ISO dates, yes/no), the row each
problem is on, keys repeated within the file, and an invoice's fields repeated on each of
its lines. Amounts stay text until the currency's minor units judge them: never a float.

Line numbers are the rows as a spreadsheet numbers them: the header is line 1, and a
quoted cell holding a line break is still one row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from domain.billing_csv_columns import (
    COLUMNS,
    DOCUMENT_FIELD,
    INVOICE_FIELDS,
    KEYS,
    KINDS,
    MODELS,
    CellError,
    Column,
)
from domain.billing_doc import (
    BillingDocument,
    InvoiceDoc,
)
from domain.money import MINOR_UNITS, MoneyError, parse_amount


@dataclass(frozen=True)
class RowError:
    """One problem: the line it is on (None: the whole file), the column (None: the whole
    row) and what to change, in words."""

    line: int | None
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        where = "file" if self.line is None else f"line {self.line}"
        return f"{where}{f', {self.column}' if self.column else ''}: {self.message}"


class CsvRefused(ValueError):
    """The file cannot be imported as it is: every bad row, and how many rows were read."""

    def __init__(self, rows: int, errors: Sequence[RowError]) -> None:
        self.rows = rows
        self.errors = sorted(errors, key=lambda e: (e.line or 0, e.column or ""))
        super().__init__(self.summary)

    @property
    def failed_lines(self) -> list[int]:
        return sorted({e.line for e in self.errors if e.line is not None})

    @property
    def summary(self) -> str:
        bad = self.failed_lines
        listed = ", ".join(str(n) for n in bad[:20]) + (", ..." if len(bad) > 20 else "")
        failed = (f"{len(bad)} failed (line{'s' if len(bad) != 1 else ''} {listed})" if bad
                  else "the file itself is wrong")
        return (f"{self.rows} row{'s' if self.rows != 1 else ''} read; {failed}. Nothing was "
                "imported: correct the file and import it whole again.")

    def report(self) -> str:
        """The summary, then one problem a line: what the CLI prints."""
        return "\n".join([self.summary, *(f"  {e}" for e in self.errors)])


@dataclass(frozen=True)
class CsvFile:
    """A file that passed: its kind, the data rows read, the document to import, and the
    lines each record came from (an invoice number, an account id, ...) so a refusal
    from the database can name them."""

    kind: str
    rows: int
    document: BillingDocument
    lines: dict[str, tuple[int, ...]]


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CsvRefused(0, [RowError(line, None, "the file is not UTF-8 text; save it as "
                                      "\"CSV UTF-8\" and import it again")]) from None


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) per record, RFC 4180: commas, quoted cells, doubled quotes, line
    breaks inside quotes; a malformed record stops the file."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 0
    while True:
        line += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvRefused(0, [RowError(  # the caller counts the rows
                line, None, f"the row cannot be read as CSV ({exc}); check its quotes")]) from None
        yield line, cells


def _header(kind: str, cells: list[str]) -> list[Column]:
    by_name = {c.name: c for c in COLUMNS[kind]}
    names = [c.strip().lower() for c in cells]
    errors = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            errors.append(RowError(1, name, f"column {name} appears twice in the header"))
        seen.add(name)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        errors += [RowError(1, n or None, f"unknown column {n!r} for {kind}; the columns are "
                            f"{', '.join(by_name)}") for n in unknown]
    missing = [c.name for c in COLUMNS[kind] if c.required and c.name not in seen]
    errors += [RowError(1, n, f"column {n} is missing from the header; {kind} need "
                        f"{', '.join(c.name for c in COLUMNS[kind] if c.required)}")
               for n in missing]
    if errors:
        raise CsvRefused(0, errors)
    return [by_name[n] for n in names]


_PATTERN_WORDS = {
    "period": "must be a month written YYYY-MM, such as 2026-10",
    "currency": "must be a three-letter ISO 4217 code such as USD",
    "base": "must be a three-letter ISO 4217 code such as USD",
    "type": "must be one of advertiser, agency, seller, marketplace_seller, other",
    "source": "must be a name such as first_party, gcm or ias (letters, digits, _ . -)",
    "measurement_source": "must be a name such as gcm or ias (letters, digits, _ . -)",
}


def _say(error: Any, column: str) -> str:
    """A pydantic error in words naming the column, as a person filling a sheet reads it."""
    kind, ctx, value = error.get("type"), error.get("ctx") or {}, error.get("input")
    shown = f" (got {value!r})" if isinstance(value, str) else ""
    if kind == "string_pattern_mismatch":
        words = _PATTERN_WORDS.get(column, "may hold only letters, digits and . _ : / - "
                                   "(no spaces)")
        return f"{column} {words}{shown}"
    if kind == "string_too_short":
        return f"{column} is required"
    if kind == "string_too_long":
        return f"{column} is longer than {ctx.get('max_length')} characters"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{column} must be at least {ctx.get('ge', ctx.get('gt'))}{shown}"
    if kind in ("less_than_equal", "less_than"):
        return f"{column} must be at most {ctx.get('le', ctx.get('lt'))}{shown}"
    if kind == "missing":
        return f"{column} is required"
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ")


def _column_of(loc: Sequence[Any], by_field: dict[str, str]) -> str | None:
    names = [p for p in loc if isinstance(p, str) and p != "lines"]
    return by_field.get(names[-1], names[-1]) if names else None


def _check(model: type[BaseModel], payload: dict[str, Any], line: int,
           by_field: dict[str, str]) -> tuple[BaseModel | None, list[RowError]]:
    try:
        return model.model_validate(payload), []
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            column = _column_of(err.get("loc", ()), by_field)
            errors.append(RowError(line, column, _say(err, column or "the row")))
        return None, errors


def _invoice_row(payload: dict[str, Any], line: int,
                 by_field: dict[str, str]) -> tuple[InvoiceDoc | None, list[RowError]]:
    """One invoice line with its invoice's fields, checked as a one-line invoice. The
    amount is judged first against the row's currency, so its refusal names its column."""
    header = {k: payload[k] for k in INVOICE_FIELDS if k in payload}
    item = {k: v for k, v in payload.items() if k not in INVOICE_FIELDS}
    errors = []
    currency = header.get("currency")
    if isinstance(currency, str) and currency in MINOR_UNITS and "amount" in item:
        try:
            parse_amount(item["amount"], currency, field="amount")
        except MoneyError as exc:
            errors.append(RowError(line, "amount", str(exc)))
            item["amount"] = "0"  # judged; let the model judge the rest of the row
    invoice, more = _check(InvoiceDoc, {**header, "lines": [item]}, line, by_field)
    if errors or not isinstance(invoice, InvoiceDoc):
        return None, errors + more
    return invoice, more


def parse(kind: str, data: bytes) -> CsvFile:
    """The file as a document of one kind, or CsvRefused with every bad row."""
    if kind not in COLUMNS:
        raise CsvRefused(0, [RowError(None, None, f"unknown kind {kind!r}; the kinds are "
                                      f"{', '.join(KINDS)}")])
    records = _records(_decode(data))
    first = next(records, None)
    if first is None or not any(c.strip() for c in first[1]):
        raise CsvRefused(0, [RowError(1, None, "the first row must be the header, naming "
                                      f"the columns: {', '.join(c.name for c in COLUMNS[kind])}")])
    columns = _header(kind, first[1])
    by_field = {c.field: c.name for c in COLUMNS[kind]}
    rows = 0
    errors: list[RowError] = []
    valid: list[tuple[int, dict[str, Any], BaseModel]] = []
    try:
        for line, cells in records:
            if not any(c.strip() for c in cells):
                continue  # an empty row, as spreadsheets leave at the end
            rows += 1
            if len(cells) != len(columns):
                errors.append(RowError(line, None, f"the row has {len(cells)} cells; the "
                                       f"header has {len(columns)} columns"))
                continue
            payload: dict[str, Any] = {}
            row_errors = []
            for column, cell in zip(columns, cells, strict=True):
                value = cell.strip()
                if not value:
                    if column.required:
                        row_errors.append(RowError(line, column.name,
                                                   f"{column.name} is required"))
                    continue
                try:
                    payload[column.field] = column.read(value, column.name)
                except CellError as exc:
                    row_errors.append(RowError(line, column.name, str(exc)))
            # The model judges the cells that could be read, so one pass names every
            # problem of the row; a column already refused is not refused twice.
            model: BaseModel | None
            if kind == "invoices":
                model, found = _invoice_row(payload, line, by_field)
            else:
                model, found = _check(MODELS[kind], payload, line, by_field)
            refused = {e.column for e in row_errors}
            errors += row_errors + [e for e in found if e.column not in refused]
            if model is not None and not row_errors:
                valid.append((line, payload, model))
    except CsvRefused as unreadable:  # a malformed record: report it with what came before
        errors += unreadable.errors
        raise CsvRefused(rows + 1, errors) from None
    errors += _repeats(kind, valid)
    if errors:
        raise CsvRefused(rows, errors)
    return _document(kind, rows, valid)


def _key_of(kind: str, model: BaseModel) -> tuple[str, ...]:
    if isinstance(model, InvoiceDoc):
        return (model.number, model.lines[0].id)
    return tuple(str(getattr(model, f)) for f in KEYS[kind])


def _repeats(kind: str, valid: list[tuple[int, dict[str, Any], BaseModel]]) -> list[RowError]:
    """A key twice in one file (which row would win?), and an invoice whose rows disagree
    on the invoice's own fields."""
    errors = []
    first_line: dict[tuple[str, ...], int] = {}
    invoice_first: dict[str, tuple[int, InvoiceDoc]] = {}
    key_names = KEYS[kind]
    for line, _, model in valid:
        key = _key_of(kind, model)
        if key in first_line:
            errors.append(RowError(line, key_names[-1], (
                f"repeats line {first_line[key]}: the same {_and(key_names)} "
                f"({', '.join(key)}); each may appear once in a file")))
        first_line.setdefault(key, line)
        if isinstance(model, InvoiceDoc):
            seen = invoice_first.setdefault(model.number, (line, model))
            for name in INVOICE_FIELDS[1:]:
                theirs, ours = getattr(seen[1], name), getattr(model, name)
                if theirs != ours:
                    errors.append(RowError(line, name, (
                        f"invoice {model.number} has {name} {theirs} on line {seen[0]}; "
                        "every row of an invoice repeats the same invoice fields")))
    return errors


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _document(kind: str, rows: int,
              valid: list[tuple[int, dict[str, Any], BaseModel]]) -> CsvFile:
    lines: dict[str, list[int]] = {}
    if kind == "invoices":
        invoices: dict[str, dict[str, Any]] = {}
        for line, payload, _ in valid:
            header = {k: payload[k] for k in INVOICE_FIELDS}
            item = {k: v for k, v in payload.items() if k not in INVOICE_FIELDS}
            invoices.setdefault(payload["number"], {**header, "lines": []})["lines"].append(item)
            lines.setdefault(payload["number"], []).append(line)
        records: list[Any] = list(invoices.values())
    else:
        records = [model for _, _, model in valid]
        for line, _, model in valid:
            lines.setdefault(" ".join(_key_of(kind, model)), []).append(line)
    try:
        document = BillingDocument.model_validate({DOCUMENT_FIELD[kind]: records})
    except ValidationError as exc:  # what only a whole file can break: sizes
        raise CsvRefused(rows, [RowError(None, None, _say(e, "the file"))
                                for e in exc.errors()]) from None
    return CsvFile(kind=kind, rows=rows, document=document,
                   lines={k: tuple(v) for k, v in lines.items()})


def template(kind: str) -> str:
    """The header row of a kind's file: where an export starts."""
    return ",".join(c.name for c in COLUMNS[kind]) + "\r\n"
