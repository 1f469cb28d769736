"""What every activity class needs: where the database is and which connectors to use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from activities.connectors import BillingConnector, LedgerConnector, TableBilling, TableLedger


@dataclass(frozen=True)
class ActivityContext:
    db_url: str
    delivery_tolerance: Decimal = Decimal("0.03")
    billing: BillingConnector = field(default=None)  # type: ignore[assignment]
    ledger: LedgerConnector = field(default=None)  # type: ignore[assignment]
    # Slack on: the snapshot activity queues each change's Slack steps in the outbox, and
    # tells this process's dispatcher (``on_slack_steps``) there is something to send.
    slack_outbox: bool = False
    on_slack_steps: Callable[[], None] | None = None
    # Tells this process's webhook dispatcher that a change queued deliveries.
    on_webhook_events: Callable[[], None] | None = None
    # Mail on (DISPUTEFLOW_SMTP_URL): the snapshot activity writes the letters a change calls
    # for, signed by ``issuer_name``, and tells the mail dispatcher (``on_letters``).
    letters: bool = False
    issuer_name: str = ""
    on_letters: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        if self.billing is None:
            object.__setattr__(self, "billing", TableBilling(self.db_url))
        if self.ledger is None:
            object.__setattr__(self, "ledger", TableLedger(self.db_url))
