"""The automatic investigation: what the billing data says about a disputed invoice.

Pure functions over connector data. Each check yields findings with the credit it implies
in the invoice currency, so the analyst starts from numbers rather than from a blank page.
Ad servers and billing systems commonly disagree on units by a few percent: a units gap
inside the tolerance is reported as ``within_tolerance`` and implies no credit. Which count
is compared is the contract's to say: the measurement source it bills by, first-party
otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from domain.billing import (
    FIRST_PARTY,
    ContractTerm,
    DeliveryRecord,
    InvoiceData,
    InvoiceLineData,
)
from domain.models import Finding
from domain.money import fmt, quantize


def _finding(invoice: InvoiceData, **kw: object) -> Finding:
    return Finding(currency=invoice.currency, **kw)  # type: ignore[arg-type]


def _contract_for(
    line: InvoiceLineData, invoice: InvoiceData, contracts: Iterable[ContractTerm]
) -> ContractTerm | None:
    for term in contracts:
        if (
            term.campaign_id == line.campaign_id
            and term.account_id == invoice.account_id
            and term.valid_from <= invoice.issued_on <= term.valid_to
        ):
            return term
    return None


def rate_findings(
    invoice: InvoiceData, lines: Sequence[InvoiceLineData], contracts: Sequence[ContractTerm]
) -> list[Finding]:
    out = []
    for line in lines:
        if line.campaign_id is None:
            continue
        term = _contract_for(line, invoice, contracts)
        if term is None:
            out.append(_finding(
                invoice, kind="rate_mismatch", line_id=line.id, campaign_id=line.campaign_id,
                status="no_data", billed=f"{line.rate}/{line.rate_basis}", expected="",
                implied_credit=Decimal(0),
                message=f"No contract for campaign {line.campaign_id} on {invoice.issued_on}.",
            ))
            continue
        over = line.unit_rate - term.unit_rate
        implied = quantize(max(over, Decimal(0)) * line.units, invoice.currency)
        billed = f"{line.rate} per {line.rate_basis} {line.unit}"
        expected = f"{term.rate} per {term.rate_basis} {line.unit}"
        if implied > 0:
            msg = (f"Line {line.id} billed {billed}; the contract says {expected}: "
                   f"{fmt(implied, invoice.currency)} over-billed.")
            status = "discrepancy"
        else:
            msg = f"Line {line.id} billed at or below the contracted rate ({expected})."
            status = "consistent"
        out.append(_finding(
            invoice, kind="rate_mismatch", line_id=line.id, campaign_id=line.campaign_id,
            status=status, billed=billed, expected=expected, implied_credit=implied, message=msg,
        ))
    return out


def measurement_source(
    line: InvoiceLineData, invoice: InvoiceData, contracts: Iterable[ContractTerm]
) -> str | None:
    """The delivery source the line's contract bills by, or None when it names none (or
    there is no contract): then first-party counts are the ones compared."""
    term = _contract_for(line, invoice, contracts)
    return term.measurement_source if term is not None else None


def _no_delivery(campaign: str, period: str, named: str | None, others: Sequence[str]) -> str:
    """Why there is nothing to compare, naming the source looked for and those there are."""
    if named is not None:
        msg = (f"No delivery data from {named}, the source the contract bills by, for "
               f"campaign {campaign} in {period}.")
        return msg + (f" There is data from {', '.join(others)}." if others else "")
    if others:
        return (f"No first-party delivery data for campaign {campaign} in {period}; the "
                f"contract names no measurement source, so data from {', '.join(others)} "
                "is not compared.")
    return f"No delivery data for campaign {campaign} in {period}."


def delivery_findings(
    invoice: InvoiceData,
    lines: Sequence[InvoiceLineData],
    delivery: Sequence[DeliveryRecord],
    tolerance: Decimal,
    contracts: Sequence[ContractTerm] = (),
) -> list[Finding]:
    """Units billed vs delivered per campaign, and make-good units that were billed.

    Delivery is compared as the source the campaign's contract bills by counted it
    (``measurement_source``), first-party when the contract names none; each finding says
    which source it used, and its message names a source the contract chose."""
    by_campaign: dict[str, list[InvoiceLineData]] = defaultdict(list)
    for line in lines:
        if line.campaign_id is not None and not line.makegood:
            by_campaign[line.campaign_id].append(line)
    records = {(d.campaign_id, d.period, d.source): d for d in delivery}
    out: list[Finding] = []
    for campaign, camp_lines in by_campaign.items():
        named = measurement_source(camp_lines[0], invoice, contracts)
        source = named or FIRST_PARTY
        record = records.get((campaign, invoice.period, source))
        line_id = camp_lines[0].id if len(camp_lines) == 1 else None
        billed = sum(ln.units for ln in camp_lines)
        unit = camp_lines[0].unit
        if record is None:
            others = sorted(d.source for d in delivery
                            if d.campaign_id == campaign and d.period == invoice.period)
            out.append(_finding(
                invoice, kind="delivery_shortfall", line_id=line_id, campaign_id=campaign,
                status="no_data", billed=f"{billed} {unit}", expected="",
                implied_credit=Decimal(0), source=source,
                message=_no_delivery(campaign, invoice.period, named, others),
            ))
            continue
        per = f" as measured by {source}" if named else ""
        # The billed rate per unit, weighted over the campaign's lines.
        amount = sum((ln.amount for ln in camp_lines), Decimal(0))
        unit_price = amount / billed if billed else Decimal(0)
        short = billed - record.units
        if short > 0:
            ratio = Decimal(short) / Decimal(record.units or 1)
            within = record.units > 0 and ratio <= tolerance
            implied = Decimal(0) if within else quantize(unit_price * short, invoice.currency)
            pct = (ratio * 100).quantize(Decimal("0.1"))
            msg = (f"Campaign {campaign}: {billed:,} {unit} billed, {record.units:,} delivered"
                   f"{per} ({pct}% over). ")
            msg += (f"Within the {tolerance * 100:.1f}% tolerance; no credit implied." if within
                    else f"Implies {fmt(implied, invoice.currency)}.")
            out.append(_finding(
                invoice, kind="delivery_shortfall", line_id=line_id, campaign_id=campaign,
                status="within_tolerance" if within else "discrepancy",
                billed=f"{billed} {unit}", expected=f"{record.units} {unit}",
                implied_credit=implied, source=source, message=msg,
            ))
        else:
            out.append(_finding(
                invoice, kind="delivery_shortfall", line_id=line_id, campaign_id=campaign,
                status="consistent", billed=f"{billed} {unit}", expected=f"{record.units} {unit}",
                implied_credit=Decimal(0), source=source,
                message=f"Campaign {campaign}: billed units do not exceed delivery{per}.",
            ))
        if record.makegood_units > 0:
            billable = record.units - record.makegood_units
            charged_makegood = min(billed, record.units) - billable
            if charged_makegood > 0:
                implied = quantize(unit_price * charged_makegood, invoice.currency)
                out.append(_finding(
                    invoice, kind="makegood_not_applied", line_id=line_id, campaign_id=campaign,
                    status="discrepancy", billed=f"{billed} {unit}",
                    expected=f"{billable} {unit} (excluding {record.makegood_units} make-good)",
                    implied_credit=implied, source=source,
                    message=(f"Campaign {campaign}: {charged_makegood:,} make-good {unit} were "
                             f"billed; they should be free. Implies "
                             f"{fmt(implied, invoice.currency)}."),
                ))
    for line in lines:
        if line.makegood and line.amount > 0:
            out.append(_finding(
                invoice, kind="makegood_not_applied", line_id=line.id,
                campaign_id=line.campaign_id, status="discrepancy",
                billed=f"{line.amount}", expected="0", implied_credit=line.amount,
                message=f"Line {line.id} is a make-good but was charged "
                        f"{fmt(line.amount, invoice.currency)}.",
            ))
    return out


def _line_key(line: InvoiceLineData) -> tuple[object, ...]:
    return (line.product, line.campaign_id, line.units, line.rate, line.rate_basis, line.amount)


def duplicate_findings(
    invoice: InvoiceData, lines: Sequence[InvoiceLineData], others: Sequence[InvoiceData] = ()
) -> list[Finding]:
    """Identical lines billed twice, on this invoice or on another one of the same period."""
    disputed = {ln.id for ln in lines}
    seen: dict[tuple[object, ...], str] = {}
    out = []
    for line in invoice.lines:
        key = _line_key(line)
        if key in seen and line.id in disputed | {seen[key]}:
            out.append(_finding(
                invoice, kind="duplicate_line", line_id=line.id, campaign_id=line.campaign_id,
                status="discrepancy", billed=f"{line.amount}", expected="0",
                implied_credit=line.amount,
                message=f"Line {line.id} duplicates line {seen[key]} on the same invoice.",
            ))
        seen.setdefault(key, line.id)
    for other in others:
        if other.number == invoice.number or other.period != invoice.period:
            continue
        for theirs in other.lines:
            for line in lines:
                if _line_key(line) == _line_key(theirs):
                    out.append(_finding(
                        invoice, kind="duplicate_line", line_id=line.id,
                        campaign_id=line.campaign_id, status="discrepancy",
                        billed=f"{line.amount}", expected="0", implied_credit=line.amount,
                        message=(f"Line {line.id} was also billed on invoice {other.number} "
                                 f"(line {theirs.id}) for the same period."),
                    ))
    return out


def investigate(
    invoice: InvoiceData,
    *,
    line_ids: Sequence[str],
    contracts: Sequence[ContractTerm],
    delivery: Sequence[DeliveryRecord],
    other_invoices: Sequence[InvoiceData] = (),
    tolerance: Decimal = Decimal("0.03"),
) -> list[Finding]:
    """All checks over the disputed lines (every line when the dispute names none)."""
    lines = [ln for ln in invoice.lines if not line_ids or ln.id in set(line_ids)]
    return [
        *rate_findings(invoice, lines, contracts),
        *delivery_findings(invoice, lines, delivery, tolerance, contracts),
        *duplicate_findings(invoice, lines, other_invoices),
    ]


def implied_by_line(findings: Iterable[object]) -> dict[str, Decimal]:
    """The credit the findings imply, summed per invoice line ("" for findings about no
    line), from findings as the dispute view stores them (JSON): the approver's queue shows
    the total, the analyst's form starts each line from its part."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for finding in findings:
        if isinstance(finding, dict):
            amount = Decimal(str(finding.get("implied_credit") or 0))
            if amount > 0:
                out[str(finding.get("line_id") or "")] += amount
    return dict(out)
