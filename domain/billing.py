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


# The delivery measurement source a record carries when its importer names none: the
# units our own ad server counted. Every record imported before sources existed is one.
FIRST_PARTY = "first_party"


@dataclass(frozen=True)
class ContractTerm:
    account_id: str
    campaign_id: str
    rate: Decimal
    rate_basis: int
    valid_from: date
    valid_to: date
    # The measurement source the contract bills by (a third-party ad server such as
    # ``gcm``); None when it names none, and first-party counts are compared.
    measurement_source: str | None = None

    @property
    def unit_rate(self) -> Decimal:
        return self.rate / self.rate_basis


@dataclass(frozen=True)
class DeliveryRecord:
    """Units delivered to a campaign in a period, as one measurement source counted them:
    ad servers disagree, so a campaign may have a record per source."""

    campaign_id: str
    period: str
    units: int
    makegood_units: int = 0
    source: str = FIRST_PARTY
