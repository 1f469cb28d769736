"""Post an approved credit memo through the ledger connector, exactly once."""

from __future__ import annotations

from temporalio import activity

from activities.context import ActivityContext
from domain.models import PostCreditMemo, Posted


class LedgerActivities:
    def __init__(self, ctx: ActivityContext) -> None:
        self.ctx = ctx

    @activity.defn(name="post_credit_memo")
    def post_credit_memo(self, request: PostCreditMemo) -> Posted:
        # The memo number is the idempotency key: a retry after a crash between the ledger's
        # commit and this activity's completion finds the first posting.
        return self.ctx.ledger.post(request, idempotency_key=f"credit-memo:{request.memo_number}")
