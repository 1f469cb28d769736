"""Delivery findings judged against the measurement source the contract bills by, and
first-party counts when it names none — with the finding saying which it used."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from domain.billing import ContractTerm, DeliveryRecord
from domain.findings import investigate
from domain.parts import Finding
from tests.unit.test_findings import CONTRACT, by_kind, invoice, line

GCM_CONTRACT = replace(CONTRACT, measurement_source="gcm")
# Our ad server counted 99,000 (inside 3 %); the third party 80,000 (a 25 % shortfall).
COUNTS = [DeliveryRecord("C1", "2026-10", 99_000),
          DeliveryRecord("C1", "2026-10", 80_000, source="gcm"),
          DeliveryRecord("C1", "2026-09", 1, source="gcm")]


def shortfall(contract: ContractTerm, delivery: list[DeliveryRecord]) -> Finding:
    found = investigate(invoice(line("L1", rate="10.00", amount="1000.00")), line_ids=[],
                        contracts=[contract], delivery=delivery)
    finding: Finding = by_kind(found, "delivery_shortfall")[0]
    return finding


def test_a_contract_naming_a_third_party_is_judged_by_its_count() -> None:
    f = shortfall(GCM_CONTRACT, COUNTS)
    assert f.status == "discrepancy" and f.implied_credit == Decimal("200.00")
    assert f.source == "gcm" and f.expected == "80000 impressions"
    assert "80,000 delivered as measured by gcm (25.0% over)" in f.message


def test_a_contract_naming_no_source_compares_first_party_counts_as_before() -> None:
    f = shortfall(CONTRACT, COUNTS)
    assert f.status == "within_tolerance" and f.implied_credit == 0
    assert f.source == "first_party"
    # Word for word the finding of data with no sources at all.
    before = shortfall(CONTRACT, [DeliveryRecord("C1", "2026-10", 99_000)])
    assert f.message == before.message == (
        "Campaign C1: 100,000 impressions billed, 99,000 delivered (1.0% over). Within the "
        "3.0% tolerance; no credit implied.")


def test_the_named_source_missing_is_no_data_naming_it_never_another_count() -> None:
    f = shortfall(replace(CONTRACT, measurement_source="ias"), COUNTS)
    assert f.status == "no_data" and f.source == "ias"
    assert f.message == ("No delivery data from ias, the source the contract bills by, "
                         "for campaign C1 in 2026-10. There is data from first_party, gcm.")


def test_only_third_party_counts_and_no_source_named_is_no_data_saying_so() -> None:
    f = shortfall(CONTRACT, [DeliveryRecord("C1", "2026-10", 80_000, source="gcm")])
    assert f.status == "no_data" and f.source == "first_party"
    assert "contract names no measurement source" in f.message
    assert shortfall(CONTRACT, []).message == "No delivery data for campaign C1 in 2026-10."


def test_make_goods_come_from_the_same_source_as_the_units() -> None:
    counts = [DeliveryRecord("C1", "2026-10", 100_000, makegood_units=0),
              DeliveryRecord("C1", "2026-10", 100_000, makegood_units=20_000, source="gcm")]
    found = investigate(invoice(line("L1", rate="10.00", amount="1000.00")), line_ids=[],
                        contracts=[GCM_CONTRACT], delivery=counts)
    mg = by_kind(found, "makegood_not_applied")
    assert len(mg) == 1 and mg[0].implied_credit == Decimal("200.00") and mg[0].source == "gcm"
    found = investigate(invoice(line("L1", rate="10.00", amount="1000.00")), line_ids=[],
                        contracts=[CONTRACT], delivery=counts)
    assert by_kind(found, "makegood_not_applied") == []
