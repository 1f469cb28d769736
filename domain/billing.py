"""Billing data as the connectors hand it over: invoices, contract terms, delivery.

Plain frozen dataclasses, so the findings engine can be tested without a database and a
connector to a real billing system only has to produce these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class InvoiceLineData:
    id: str
    product: str
    campaign_id: str | None
    units: int
    unit: str
    rate: Decimal
    rate_basis: int
    amount: Decimal
    makegood: bool = False

    @property
    def unit_rate(self) -> Decimal:
        return self.rate / self.rate_basis


@dataclass(frozen=True)
class InvoiceData:
    number: str
    account_id: str
    currency: str
    period: str
    issued_on: date
    total: Decimal
    lines: tuple[InvoiceLineData, ...] = field(default_factory=tuple)

    def line(self, line_id: str) -> InvoiceLineData | None:
        return next((ln for ln in self.lines if ln.id == line_id), None)


@dataclass(frozen=True)
class ContractTerm:
    account_id: str
    campaign_id: str
    rate: Decimal
    rate_basis: int
    valid_from: date
    valid_to: date

    @property
    def unit_rate(self) -> Decimal:
        return self.rate / self.rate_basis


@dataclass(frozen=True)
class DeliveryRecord:
    campaign_id: str
    period: str
    units: int
    makegood_units: int = 0
