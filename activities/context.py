"""What every activity class needs: where the database is and which connectors to use."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from activities.connectors import BillingConnector, LedgerConnector, TableBilling, TableLedger


@dataclass(frozen=True)
class ActivityContext:
    db_url: str
    delivery_tolerance: Decimal = Decimal("0.03")
    billing: BillingConnector = field(default=None)  # type: ignore[assignment]
    ledger: LedgerConnector = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.billing is None:
            object.__setattr__(self, "billing", TableBilling(self.db_url))
        if self.ledger is None:
            object.__setattr__(self, "ledger", TableLedger(self.db_url))
