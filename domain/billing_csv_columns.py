"""The columns of each kind of billing-data CSV file: their names (the JSON document's
fields), which every row needs, how a cell's text is read (whole numbers, ISO dates, yes/no;
amounts stay text for the currency to judge), what makes a record itself, and the document's
model that validates a row. Pure; :mod:`domain.billing_csv` reads files with them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel

from domain.billing_doc import AccountDoc, ContractDoc, DeliveryDoc, FxDoc


class CellError(ValueError):
    """A cell that is not the kind of value its column holds."""


def _text(value: str, column: str) -> str:
    return value


def _whole(value: str, column: str) -> int:
    if not re.fullmatch(r"-?\d{1,18}", value):
        raise CellError(f"{column} must be a whole number such as 100000, without separators "
                         f"(got {value!r})")
    return int(value)


def _date(value: str, column: str) -> date:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise CellError(f"{column} must be a date written YYYY-MM-DD, such as 2026-11-01 "
                     f"(got {value!r})")


_YES = {"true", "yes", "y", "1"}
_NO = {"false", "no", "n", "0"}


def _flag(value: str, column: str) -> bool:
    if value.lower() in _YES | _NO:
        return value.lower() in _YES
    raise CellError(f"{column} must be true or false (got {value!r})")


@dataclass(frozen=True)
class Column:
    """One column of a kind's file: its name (the JSON field's, but ``line_id`` for an
    invoice line's ``id``), whether every row needs it, and how its text is read."""

    name: str
    required: bool = True
    read: Callable[[str, str], Any] = _text

    @property
    def field(self) -> str:
        return "id" if self.name == "line_id" else self.name


INVOICE_FIELDS = ("number", "account_id", "currency", "period", "issued_on")

COLUMNS: dict[str, tuple[Column, ...]] = {
    "accounts": (Column("id"), Column("type"), Column("name"), Column("currency"),
                 Column("billing_email", required=False)),
    "invoices": (
        Column("number"), Column("account_id"), Column("currency"), Column("period"),
        Column("issued_on", read=_date), Column("line_id"), Column("product"),
        Column("campaign_id", required=False), Column("units", read=_whole), Column("unit"),
        Column("rate"), Column("rate_basis", required=False, read=_whole), Column("amount"),
        Column("makegood", required=False, read=_flag)),
    "contracts": (
        Column("account_id"), Column("campaign_id"), Column("rate"),
        Column("rate_basis", required=False, read=_whole), Column("valid_from", read=_date),
        Column("valid_to", read=_date), Column("measurement_source", required=False)),
    "delivery": (
        Column("campaign_id"), Column("period"), Column("units", read=_whole),
        Column("makegood_units", required=False, read=_whole),
        Column("source", required=False)),
    "fx": (Column("currency"), Column("base"), Column("rate"), Column("as_of", read=_date)),
}
KINDS = tuple(COLUMNS)
# The document's list each kind fills (API.md names FX rates ``fx_rates``).
DOCUMENT_FIELD = {"accounts": "accounts", "invoices": "invoices", "contracts": "contracts",
                  "delivery": "delivery", "fx": "fx_rates"}
# What makes a record itself: a file may hold each key once.
KEYS: dict[str, tuple[str, ...]] = {
    "accounts": ("id",), "invoices": ("number", "line_id"),
    "contracts": ("account_id", "campaign_id", "valid_from"),
    "delivery": ("campaign_id", "period", "source"), "fx": ("currency", "base", "as_of"),
}
MODELS: dict[str, type[BaseModel]] = {
    "accounts": AccountDoc, "contracts": ContractDoc, "delivery": DeliveryDoc, "fx": FxDoc}
