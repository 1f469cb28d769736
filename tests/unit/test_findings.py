"""The automatic findings, on hand-built billing data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.billing import ContractTerm, DeliveryRecord, InvoiceData, InvoiceLineData
from domain.findings import investigate


def line(i: str, campaign: str = "C1", units: int = 100_000, rate: str = "12.50",
         amount: str = "1250.00", **kw: object) -> InvoiceLineData:
    return InvoiceLineData(id=i, product="display", campaign_id=campaign, units=units,
                           unit="impressions", rate=Decimal(rate), rate_basis=1000,
                           amount=Decimal(amount), **kw)  # type: ignore[arg-type]


def invoice(*lines: InvoiceLineData, number: str = "INV-1") -> InvoiceData:
    return InvoiceData(number=number, account_id="A", currency="USD", period="2026-10",
                       issued_on=date(2026, 11, 1), total=sum(ln.amount for ln in lines),
                       lines=lines)


CONTRACT = ContractTerm("A", "C1", Decimal("10.00"), 1000, date(2026, 1, 1), date(2026, 12, 31))


def by_kind(findings: list, kind: str) -> list:  # type: ignore[type-arg]
    return [f for f in findings if f.kind == kind]


def test_rate_above_contract_implies_the_difference() -> None:
    f = by_kind(investigate(invoice(line("L1")), line_ids=[], contracts=[CONTRACT],
                            delivery=[DeliveryRecord("C1", "2026-10", 100_000)]),
                "rate_mismatch")
    assert f[0].status == "discrepancy" and f[0].implied_credit == Decimal("250.00")


def test_rate_at_contract_is_consistent_and_missing_contract_is_no_data() -> None:
    found = investigate(invoice(line("L1", rate="10.00", amount="1000.00")), line_ids=[],
                        contracts=[CONTRACT], delivery=[])
    assert by_kind(found, "rate_mismatch")[0].status == "consistent"
    found = investigate(invoice(line("L1", campaign="C9")), line_ids=[], contracts=[CONTRACT],
                        delivery=[])
    assert by_kind(found, "rate_mismatch")[0].status == "no_data"
    assert by_kind(found, "delivery_shortfall")[0].status == "no_data"


def test_delivery_shortfall_outside_tolerance_implies_credit() -> None:
    found = investigate(invoice(line("L1")), line_ids=[], contracts=[CONTRACT],
                        delivery=[DeliveryRecord("C1", "2026-10", 80_000)])
    f = by_kind(found, "delivery_shortfall")[0]
    assert f.status == "discrepancy" and f.implied_credit == Decimal("250.00")


def test_delivery_gap_inside_tolerance_is_reported_not_credited() -> None:
    found = investigate(invoice(line("L1")), line_ids=[], contracts=[CONTRACT],
                        delivery=[DeliveryRecord("C1", "2026-10", 98_000)],
                        tolerance=Decimal("0.03"))
    f = by_kind(found, "delivery_shortfall")[0]
    assert f.status == "within_tolerance" and f.implied_credit == 0
    assert "tolerance" in f.message
    # Just past the tolerance it becomes a discrepancy.
    found = investigate(invoice(line("L1")), line_ids=[], contracts=[CONTRACT],
                        delivery=[DeliveryRecord("C1", "2026-10", 97_000)],
                        tolerance=Decimal("0.03"))
    assert by_kind(found, "delivery_shortfall")[0].status == "discrepancy"


def test_billed_makegood_units_and_charged_makegood_lines() -> None:
    found = investigate(invoice(line("L1", rate="10.00", amount="1000.00")), line_ids=[],
                        contracts=[CONTRACT],
                        delivery=[DeliveryRecord("C1", "2026-10", 100_000, makegood_units=20_000)])
    mg = by_kind(found, "makegood_not_applied")
    assert mg and mg[0].implied_credit == Decimal("200.00")
    found = investigate(invoice(line("L1", makegood=True, amount="50.00")), line_ids=[],
                        contracts=[], delivery=[])
    assert by_kind(found, "makegood_not_applied")[0].implied_credit == Decimal("50.00")


def test_duplicate_lines_on_the_invoice_and_across_invoices() -> None:
    inv = invoice(line("L1"), line("L2"))
    dup = by_kind(investigate(inv, line_ids=[], contracts=[], delivery=[]), "duplicate_line")
    assert [d.line_id for d in dup] == ["L2"]
    other = invoice(line("X1"), number="INV-2")
    found = investigate(invoice(line("L1")), line_ids=["L1"], contracts=[], delivery=[],
                        other_invoices=[other])
    assert "INV-2" in by_kind(found, "duplicate_line")[0].message


def test_only_disputed_lines_are_checked() -> None:
    inv = invoice(line("L1"), line("L2", campaign="C2", rate="10.00", amount="1000.00"))
    found = investigate(inv, line_ids=["L2"], contracts=[CONTRACT], delivery=[])
    assert {f.line_id for f in by_kind(found, "rate_mismatch")} == {"L2"}  # L1 untouched
