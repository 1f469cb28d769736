"""Dispute states for tests that write the read model directly (no workflow): one place,
so the Slack and snapshot tests describe the same dispute."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from domain.models import ApprovalLevel, CreditLine, CreditMemo, DisputeOpened, DisputeState

MEMO = "CM-T1-1"


def pending_approval(ids: dict[str, str], *, revision: int = 1) -> DisputeState:
    """DSP-T1 waiting at level 1 (billing manager, escalating to the senior billing manager)
    of a two-level chain; ``ids`` names its opener and preparer."""
    now = datetime.now(UTC)
    opened = DisputeOpened(
        dispute_id="DSP-T1", account_id="ADV-1", invoice_number="INV-1001", currency="USD",
        disputed_amount=Decimal("250.00"), reason_code="rate_mismatch",
        description='Billed "12.50" <CPM> & more', line_ids=["L1"], opened_by=ids["opener"],
        opened_at=now)
    memo = CreditMemo(
        number=MEMO, total=Decimal("250.00"), currency="USD", base_total=Decimal("250.00"),
        base_currency="USD", fx_rate=Decimal(1), fx_as_of=date(2026, 11, 1),
        lines=[CreditLine(line_id="L1", amount=Decimal("250.00"))], prior_period=False,
        status="pending_approval", preparer_id=ids["preparer"], policy_version=1,
        tier_min=Decimal(0), created_at=now,
        levels=[ApprovalLevel(level=1, role="billing_manager", status="pending",
                              due_at=now + timedelta(days=2),
                              escalate_to="senior_billing_manager"),
                ApprovalLevel(level=2, role="senior_billing_manager", status="waiting")])
    return DisputeState(opened=opened, status="pending_approval", revision=revision,
                        credit_memo=memo, memo_count=1)
