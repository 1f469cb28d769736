"""The data converter: the payloads of temporalio's pydantic converter, with one compiled
schema per type for the whole process."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from temporalio.contrib.pydantic import pydantic_data_converter

from config.converter import DATA_CONVERTER, SHARED_JSON, PayloadConverter
from domain.models import Actor, CreditLine, DecideLevel, DisputeOpened


def _opened() -> DisputeOpened:
    return DisputeOpened(
        dispute_id="DSP-1", account_id="ADV-1", invoice_number="INV-1", currency="JPY",
        disputed_amount=Decimal("1234567890123.10"), reason_code="rate_mismatch",
        description="ü", line_ids=["L1"], opened_by="u1",
        opened_at=datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC))


def test_payloads_are_those_of_temporalios_pydantic_converter() -> None:
    """Saved histories and running disputes were written by the stock converter."""
    ours = DATA_CONVERTER.payload_converter.to_payloads([_opened(), None, b"raw", 3])
    stock = pydantic_data_converter.payload_converter.to_payloads([_opened(), None, b"raw", 3])
    assert ours == stock
    back = DATA_CONVERTER.payload_converter.from_payloads(stock, [DisputeOpened, None, bytes,
                                                                 int])
    assert back == [_opened(), None, b"raw", 3]
    assert back[0].disputed_amount == Decimal("1234567890123.10")  # exact, not a float


def test_every_converter_uses_the_one_compiled_schema_per_type() -> None:
    """The SDK makes a converter per workflow; each used to compile its own schemas."""
    payload = DATA_CONVERTER.payload_converter.to_payloads(
        [DecideLevel(actor=Actor(id="u", roles=["bm"]), decision="approve")])
    adapters = SHARED_JSON._type_adapter  # temporalio's cache of compiled schemas
    PayloadConverter().from_payloads(payload, [DecideLevel])
    compiled = adapters.cache_info()
    decided = PayloadConverter().from_payloads(payload, [DecideLevel])[0]
    assert decided.decision == "approve"
    assert adapters.cache_info().misses == compiled.misses  # nothing compiled again
    assert adapters.cache_info().hits == compiled.hits + 1
    PayloadConverter().from_payloads(DATA_CONVERTER.payload_converter.to_payloads(
        [[CreditLine(line_id="L1", amount=Decimal("1.10"))]]), [list[CreditLine]])
    lines = adapters.cache_info()
    PayloadConverter().from_payloads(DATA_CONVERTER.payload_converter.to_payloads(
        [[CreditLine(line_id="L1", amount=Decimal("1.10"))]]), [list[CreditLine]])
    assert adapters.cache_info().misses == lines.misses  # a generic hint is shared too
