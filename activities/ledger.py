"""Post an approved credit memo through the ledger connector, exactly once."""

from __future__ import annotations

from activities.context import ActivityContext
from activities.defn import defn
from activities.faults import crash_point
from domain.models import PostCreditMemo, Posted

# The error type of a posting the ledger refused: non-retryable; the workflow sets the memo
# ``posting_failed`` with the error's message and waits for a re-post.
LEDGER_REJECTED = "ledger_rejected"
# The error type of a ledger that did not answer usably this time: retried by Temporal.
LEDGER_UNAVAILABLE = "ledger_unavailable"


class LedgerActivities:
    def __init__(self, ctx: ActivityContext) -> None:
        self.ctx = ctx

    @defn(name="post_credit_memo")
    def post_credit_memo(self, request: PostCreditMemo) -> Posted:
        # The memo number is the idempotency key: a retry after a crash between the ledger's
        # commit and this activity's completion finds the first posting.
        posted = self.ctx.ledger.post(request,
                                      idempotency_key=f"credit-memo:{request.memo_number}")
        crash_point("after_ledger_post")  # committed in the ledger, not yet reported back
        return posted
