"""The bytes each audit event's hash covers must never change: every chain already written
would stop verifying. The canonical form is formatted directly for speed; these tests hold it
byte-identical to its definition (sorted-key, whitespace-free JSON of the event dict)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from db import audit


def _definition(event: dict[str, Any]) -> bytes:
    """The canonical form as first specified: ``json.dumps`` of the whole event."""
    body = dict(event, at=event["at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


TEXTS = ["plain", "", "é ü 中文 🙂", 'quote " and back\\slash', "new\nline\ttab\r\x00\x1f",
         "</script>", "U+2028 \u2028 U+2029 \u2029"]
DATA: list[dict[str, Any]] = [
    {}, {"level": 1}, {"b": 2, "a": [1, "x", None, True, 1.5]},
    {"amount": Decimal("412.50"), "nested": {"z": "é", "a": {"deep": ["\n"]}}},
    {"when": datetime(2026, 1, 2, tzinfo=UTC), "ratio": 0.1},
]
TIMES = [datetime(2026, 11, 30, 14, 5, 6, 789012, tzinfo=UTC),
         datetime(2026, 11, 30, 14, 5, 6, tzinfo=UTC),  # no microseconds
         datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=-5)))]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("data", DATA)
def test_direct_formatting_is_byte_identical_to_the_json_definition(
        text: str, data: dict[str, Any]) -> None:
    for at in TIMES:
        event = {"seq": 123456789, "at": at, "actor": "U-" + text, "action": "a." + text,
                 "subject": text + "DSP-1", "message": text * 2, "data": data}
        assert audit.canonical(event) == _definition(event)


def test_a_known_event_keeps_its_known_hash() -> None:
    """Pinned: a change to the canonical bytes fails here even if both sides change."""
    event = {"seq": 1, "at": datetime(2026, 1, 1, tzinfo=UTC), "actor": "U-1",
             "action": "dispute.opened", "subject": "DSP-1", "message": "Opened é",
             "data": {"amount": "412.50", "currency": "USD"}}
    assert audit.canonical(event) == (
        b'{"action":"dispute.opened","actor":"U-1","at":"2026-01-01T00:00:00.000000Z",'
        b'"data":{"amount":"412.50","currency":"USD"},"message":"Opened \\u00e9","seq":1,'
        b'"subject":"DSP-1"}')
    assert audit.chain_hash(audit.GENESIS, event) == (
        "c15a0f88912698366c6c930709ac8ff372f8a917d0b70e965bbe0692a1f1dbaf")
