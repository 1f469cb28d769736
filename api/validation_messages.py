"""Validation errors in words a billing person reads: the field named as they know it, and
what to write instead — never a validator's own text ("String should match pattern …").

Used by :func:`api.errors.describe_validation`, so the API's 422 details and the pages' form
errors say the same sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["field_label", "plain_message"]

LABELS = {
    "account_id": "Account", "invoice_number": "Invoice number", "currency": "Currency",
    "disputed_amount": "Disputed amount", "reason_code": "Reason", "description": "Description",
    "line_ids": "Invoice lines", "evidence": "Evidence", "root_cause": "Root cause",
    "resolution": "Resolution", "credit_lines": "Credit lines", "line_id": "line",
    "amount": "amount", "comment": "Comment", "decision": "Decision", "note": "Note",
    "delegate_id": "Delegate", "starts_at": "Start", "ends_at": "End", "email": "Email",
    "name": "Name", "roles": "Roles", "sha256": "SHA-256", "url": "Address",
    "from": "From", "to": "To", "period": "Period", "policy": "Policy", "limit": "Limit",
    "cursor": "Page link", "format": "Format",
}
# What to write, for the patterns our schemas use (api/schemas.py).
PATTERNS = {
    r"^[A-Z]{3}$": "a three-letter currency code such as USD",
    r"^-?\d+(\.\d+)?$": "an amount such as 250 or 250.00",
    r"^[0-9a-fA-F]{64}$": "64 hexadecimal characters (the file's SHA-256)",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "an email address such as name@example.com",
    r"^[a-z][a-z0-9_-]*$": "lower-case letters, digits, '_' or '-', starting with a letter",
}


def field_label(loc: Sequence[Any]) -> str:
    """``("credit_lines", 0, "amount")`` -> ``Credit lines, item 1, amount``."""
    parts = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"item {part + 1}")
        else:
            parts.append(LABELS.get(str(part), str(part).replace("_", " ")))
    text = ", ".join(parts) or "The request"
    return text[:1].upper() + text[1:]


def plain_message(error: dict[str, Any], label: str) -> str:
    """One sentence for one pydantic error, naming the field by ``label``."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return f"{label} is required."
    if kind == "json_invalid":
        return "The request body is not valid JSON."
    if kind == "extra_forbidden":
        return f"{label} is not a field this request takes; remove it."
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return f"{label} must not be empty."
        return f"{label} must be at least {ctx.get('min_length')} characters."
    if kind == "string_too_long":
        return f"{label} is too long: at most {ctx.get('max_length')} characters."
    if kind == "string_pattern_mismatch":
        wanted = PATTERNS.get(str(ctx.get("pattern")))
        return f"{label}: write {wanted}." if wanted else f"{label} is not in the expected form."
    if kind == "literal_error":
        return f"{label}: choose one of {ctx.get('expected', 'the listed values')}."
    if kind in ("too_long", "too_short"):
        bound = ctx.get("max_length") if kind == "too_long" else ctx.get("min_length")
        most = "at most" if kind == "too_long" else "at least"
        return f"{label}: give {most} {bound} item{'' if bound == 1 else 's'}."
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{label} must be a whole number."
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        sign = {"greater_than_equal": "at least", "less_than_equal": "at most",
                "greater_than": "more than", "less_than": "less than"}[kind]
        bound = next(iter(ctx.values()), "")
        return f"{label} must be {sign} {bound}."
    if kind in ("datetime_parsing", "datetime_from_date_parsing", "datetime_type"):
        return f"{label}: write a date and time such as 2026-10-01T09:00:00Z."
    if kind in ("timezone_aware", "timezone_naive"):
        return f"{label}: include the time zone, e.g. 2026-10-01T09:00:00Z."
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type"):
        return f"{label}: write a date such as 2026-10-01."
    if kind in ("bool_parsing", "bool_type"):
        return f"{label} must be true or false."
    if kind in ("list_type", "dict_type", "model_type", "string_type", "decimal_type"):
        wanted = {"list_type": "a list", "dict_type": "an object", "model_type": "an object",
                  "string_type": "text", "decimal_type": "a number"}[kind]
        return f"{label} must be {wanted}."
    if kind == "value_error":  # our own validators' sentences
        text = str(error.get("msg", "")).removeprefix("Value error, ")
        return f"{label}: {text}" if text else f"{label} is not valid."
    return f"{label}: {error.get('msg', 'is not valid')}."
