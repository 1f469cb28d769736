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
    """The command's outcome; ``before`` is the dispute as the command read it.

    - ``None`` (accepted, so durable, not finished within the wait): the dispute as the
      read model has it now, which already holds what the Update recorded so far.
    - An answer no newer than ``before``: Temporal answered a request it had applied
      already (the same Update id), with the dispute as it was then; the outcome is a
      replay, with the dispute as it is now.
    - A worker older than the view in the answer (a rolling deploy): read after.
    """
    if result is None or result.view is None or result.revision <= before.revision:
        now = await commands.in_db(reads.dispute, readonly=True, dispute_id=before.id)
        if result is None:
            return Outcome(now, STILL_PROCESSING, processing=True)
        return Outcome(now, result.message, replayed=result.revision <= before.revision)
    return Outcome(result.view, result.message)
