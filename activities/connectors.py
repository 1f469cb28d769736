"""Connector protocols to the systems we do not own (billing, ledger), and the embedded
defaults that read the tables filled by ``disputeflow import`` / ``load-demo``.

A production deployment swaps in connectors to the real billing system and ERP by
implementing these protocols; activities only ever talk to the protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from config.settings import Settings
from db import billing, ledger
from db.session import session_scope
from domain.billing import ContractTerm, DeliveryRecord, InvoiceData
from domain.models import PostCreditMemo, Posted
from domain.money import to_minor


class BillingConnector(Protocol):
    def invoice(self, number: str) -> InvoiceData | None: ...
    def contracts(self, account_id: str, campaign_ids: Sequence[str]) -> list[ContractTerm]: ...
    def delivery(self, campaign_ids: Sequence[str], period: str) -> list[DeliveryRecord]: ...
    def invoices_for_period(self, account_id: str, period: str) -> list[InvoiceData]: ...


class LedgerConnector(Protocol):
    def post(self, request: PostCreditMemo, *, idempotency_key: str) -> Posted: ...


@dataclass(frozen=True)
class TableBilling:
    """Reads the imported billing tables."""

    db_url: str

    def invoice(self, number: str) -> InvoiceData | None:
        with session_scope(self.db_url) as s:
            return billing.load_invoice(s, number)

    def contracts(self, account_id: str, campaign_ids: Sequence[str]) -> list[ContractTerm]:
        with session_scope(self.db_url) as s:
            return billing.contracts_for(s, account_id, campaign_ids)

    def delivery(self, campaign_ids: Sequence[str], period: str) -> list[DeliveryRecord]:
        with session_scope(self.db_url) as s:
            return billing.delivery_for(s, campaign_ids, period)

    def invoices_for_period(self, account_id: str, period: str) -> list[InvoiceData]:
        with session_scope(self.db_url) as s:
            return billing.invoices_for_period(s, account_id, period)


@dataclass(frozen=True)
class TableLedger:
    """Posts into the ``ledger_postings`` table, once per idempotency key."""

    db_url: str

    def post(self, request: PostCreditMemo, *, idempotency_key: str) -> Posted:
        with session_scope(self.db_url) as s:
            row = ledger.post(
                s, idempotency_key=idempotency_key, memo_number=request.memo_number,
                account_id=request.account_id, invoice_number=request.invoice_number,
                currency=request.currency, amount_minor=to_minor(request.total, request.currency),
            )
            return Posted(reference=row.reference, posted_at=row.posted_at)


def ledger_for(settings: Settings) -> LedgerConnector:
    """The ERP over HTTP when ``DISPUTEFLOW_LEDGER_URL`` is set, the embedded table if not."""
    if not settings.disputeflow_ledger_url:
        return TableLedger(settings.database_url)
    # Imported here: the ERP connector names the ledger activity's error types, and that
    # module (through the activity context) imports this one.
    from activities.ledger_http import HttpLedger

    return HttpLedger(settings.database_url, settings.disputeflow_ledger_url,
                      timeout_s=settings.disputeflow_ledger_timeout_s,
                      token=settings.disputeflow_ledger_token)
