"""The small values a dispute's state and its view share: evidence, findings, credit lines.

One definition each, so the workflow's state (``domain/models.py``) and the view every
reader sees (``domain/dispute_view.py``) cannot drift apart.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field


class Evidence(BaseModel):
    name: str
    sha256: str
    url: str | None = None


class Finding(BaseModel):
    """One automatic check of the disputed invoice, with the credit it would imply."""

    kind: str  # rate_mismatch | delivery_shortfall | duplicate_line | makegood_not_applied
    line_id: str | None
    campaign_id: str | None
    status: str  # discrepancy | within_tolerance | consistent | no_data
    billed: str
    expected: str
    implied_credit: Decimal
    currency: str
    message: str
    # The delivery measurement source the units were compared against (delivery and
    # make-good findings from delivery data; None for the others and for findings stored
    # before sources existed). Left out of the JSON when None, so the views and workflow
    # payloads of those findings stay byte for byte what they were.
    source: str | None = Field(default=None, exclude_if=lambda v: v is None)


class CreditLine(BaseModel):
    line_id: str
    amount: Decimal
