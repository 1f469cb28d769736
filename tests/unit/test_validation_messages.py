"""Refusals of bad input read as sentences naming the field as a person knows it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from api.errors import describe_validation
from api.schemas import DisputeCreate, InvestigationIn, PolicyBacktestIn

GOOD: dict[str, Any] = {"account_id": "ADV-1", "invoice_number": "INV-1", "currency": "USD",
                        "disputed_amount": "250.00", "reason_code": "rate_mismatch",
                        "description": "billed twice"}


def messages(model: Any, body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as err:
        model.model_validate(body)
    _, details = describe_validation([dict(e) for e in err.value.errors()])
    return {d["field"]: d["message"] for d in details}


def test_intake_errors_name_the_field_and_what_to_write() -> None:
    found = messages(DisputeCreate, {**GOOD, "currency": "usd", "disputed_amount": "12,50",
                                     "reason_code": "because", "description": ""})
    assert found == {
        "currency": "Currency: write a three-letter currency code such as USD.",
        "disputed_amount": "Disputed amount: write an amount such as 250 or 250.00.",
        "reason_code": found["reason_code"],
        "description": "Description must not be empty."}
    assert found["reason_code"].startswith("Reason: choose one of 'rate_mismatch'")
    assert not any("should" in m or "pattern" in m for m in found.values())


def test_missing_and_unknown_fields() -> None:
    body = {k: v for k, v in GOOD.items() if k != "account_id"}
    found = messages(DisputeCreate, {**body, "colour": "red"})
    assert found == {"account_id": "Account is required.",
                     "colour": "colour is not a field this request takes; remove it."
                     .capitalize()}


def test_nested_fields_say_which_item() -> None:
    found = messages(InvestigationIn, {"root_cause": "rate_card", "resolution": "partial_credit",
                                       "credit_lines": [{"line_id": "L1", "amount": "x"}]})
    assert found == {"credit_lines.0.amount":
                     "Credit lines, item 1, amount: write an amount such as 250 or 250.00."}


def test_dates_say_how_to_write_them() -> None:
    found = messages(PolicyBacktestIn, {"policy": {}, "from": "last week", "to": "2026-11-01"})
    assert found == {"from": "From: write a date and time such as 2026-10-01T09:00:00Z."}


def test_the_summary_is_the_first_sentence_and_a_count() -> None:
    message, _ = describe_validation([
        {"type": "missing", "loc": ("body", "currency")},
        {"type": "missing", "loc": ("body", "reason_code")}])
    assert message == "Currency is required. (And 1 more problem.)"


def test_a_bare_number_is_not_a_date() -> None:
    """pydantic would read it as seconds since 1970."""
    found = messages(PolicyBacktestIn, {"policy": {}, "from": "1700000000",
                                        "to": -4.1e-105})
    assert found == {
        "from": "From: write a date and time such as 2026-10-01T09:00:00Z.",
        "to": "To: write a date and time such as 2026-10-01T09:00:00Z."}
