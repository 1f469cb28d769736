"""The billing-data document of API.md (``POST /api/v1/billing-data``, ``disputeflow import``).

Validated whole before anything is written, so a bad document changes nothing. The CSV
import (:mod:`domain.billing_csv`) validates each row with these same models, so a rule
written here holds for both.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.billing import FIRST_PARTY
from domain.money import MoneyError, minor_units, parse_amount

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/-]+$")]
Period = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


# A delivery measurement source: ``first_party`` (our ad server's counts) or the name of a
# third-party ad server or verification vendor (``gcm``, ``ias``, ``dv``, ...). Open, so a
# new vendor needs no release; lower-cased, so ``GCM`` and ``gcm`` are one source.
Source = Annotated[str, BeforeValidator(_lower),
                   Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


def _exact(value: Any, what: str) -> Decimal:
    if isinstance(value, float | bool):
        raise ValueError(f"{what} must be a decimal string such as \"12.50\", not a number")
    try:
        out = Decimal(str(value))
    except Exception:
        raise ValueError(f"{what} {value!r} is not a decimal number") from None
    if not out.is_finite() or out < 0:
        raise ValueError(f"{what} must be a non-negative finite number")
    return out


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _known_currency(value: str) -> str:
    try:
        minor_units(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None
    return value


class AccountDoc(_Strict):
    id: Id
    type: Annotated[str, Field(pattern=r"^(advertiser|agency|seller|marketplace_seller|other)$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    currency: Currency
    # Where letters about the account's disputes go (acknowledgement, resolution, denial).
    billing_email: Annotated[str, Field(max_length=254,
                                        pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
                             ] | None = None

    @field_validator("currency")
    @classmethod
    def _known(cls, v: str) -> str:
        return _known_currency(v)


class LineDoc(_Strict):
    id: Id
    product: Annotated[str, Field(min_length=1, max_length=100)]
    campaign_id: Id | None = None
    units: Annotated[int, Field(ge=0, le=10**15)]
    unit: Annotated[str, Field(min_length=1, max_length=40)]
    rate: Any
    rate_basis: Annotated[int, Field(ge=1, le=10**9)] = 1
    amount: Any
    makegood: bool = False

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: Any) -> Decimal:
        return _exact(v, "rate")


class InvoiceDoc(_Strict):
    number: Id
    account_id: Id
    currency: Currency
    period: Period
    issued_on: date
    lines: Annotated[list[LineDoc], Field(min_length=1, max_length=10_000)]

    @field_validator("currency")
    @classmethod
    def _known(cls, v: str) -> str:
        # Named here, not left to the lines' amounts: the currency is what is wrong.
        return _known_currency(v)

    @model_validator(mode="after")
    def _amounts(self) -> InvoiceDoc:
        ids = [ln.id for ln in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError(f"invoice {self.number} has duplicate line ids")
        for ln in self.lines:
            try:
                ln.amount = parse_amount(ln.amount, self.currency, field=f"line {ln.id} amount")
            except MoneyError as exc:
                raise ValueError(str(exc)) from None
            if ln.amount < 0:
                raise ValueError(f"line {ln.id} amount must not be negative")
        return self

    @property
    def total(self) -> Decimal:
        return sum((Decimal(ln.amount) for ln in self.lines), Decimal(0))


class ContractDoc(_Strict):
    account_id: Id
    campaign_id: Id
    rate: Any
    rate_basis: Annotated[int, Field(ge=1, le=10**9)] = 1
    valid_from: date
    valid_to: date
    # The delivery source the contract bills by; none: first-party counts are compared.
    measurement_source: Source | None = None

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: Any) -> Decimal:
        return _exact(v, "rate")

    @field_validator("valid_to")
    @classmethod
    def _window(cls, v: date, info: ValidationInfo) -> date:
        # A field check, so the refusal names valid_to (a CSV row's column) rather than
        # the whole record.
        start = info.data.get("valid_from")
        if isinstance(start, date) and v < start:
            raise ValueError("valid_to is before valid_from")
        return v


class DeliveryDoc(_Strict):
    campaign_id: Id
    period: Period
    units: Annotated[int, Field(ge=0, le=10**15)]
    makegood_units: Annotated[int, Field(ge=0, le=10**15)] = 0
    # Who counted these units; a campaign has one record per source and period.
    source: Source = FIRST_PARTY


class FxDoc(_Strict):
    currency: Currency
    base: Currency
    rate: Any
    as_of: date

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: Any) -> Decimal:
        out = _exact(v, "rate")
        if out == 0:
            raise ValueError("rate must be greater than zero")
        return out


class BillingDocument(_Strict):
    accounts: list[AccountDoc] = Field(default_factory=list, max_length=100_000)
    invoices: list[InvoiceDoc] = Field(default_factory=list, max_length=100_000)
    contracts: list[ContractDoc] = Field(default_factory=list, max_length=100_000)
    delivery: list[DeliveryDoc] = Field(default_factory=list, max_length=100_000)
    fx_rates: list[FxDoc] = Field(default_factory=list, max_length=100_000)
    closed_periods: list[Period] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _consistent(self) -> BillingDocument:
        currencies = {a.id: a.currency for a in self.accounts}
        for inv in self.invoices:
            if inv.account_id in currencies and not re.fullmatch(r"[A-Z]{3}", inv.currency):
                raise ValueError(f"invoice {inv.number} has a malformed currency")
        return self
