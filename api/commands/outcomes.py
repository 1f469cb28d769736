"""From an Update's answer to a command's :class:`Outcome`."""

from __future__ import annotations

from api.commands import reads
from api.commands.context import Commands, Outcome
from domain.dispute_view import DisputeView
from domain.models import UpdateResult

STILL_PROCESSING = ("Accepted; it is still being processed (for example posted to the "
                    "ledger). Reload the dispute in a moment.")


async def from_update(commands: Commands, result: UpdateResult | None,
                      before: DisputeView) -> Outcome:
    """``None`` (accepted, not finished in time) keeps the view read ``before``; a worker
    older than the view in the answer is read after (a rolling deploy)."""
    if result is None:
        return Outcome(before, STILL_PROCESSING, processing=True)
    if result.view is not None:
        return Outcome(result.view, result.message)
    view = await commands.in_db(reads.dispute, readonly=True, dispute_id=before.id)
    return Outcome(view, result.message)
