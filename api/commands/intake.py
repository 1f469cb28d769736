"""``open_dispute``: validate against the billing data, start the workflow, write the row.

Order matters for "nothing half-done" (``api/intake.py`` holds the rules): validate (read
only) → start the workflow (its id derives from the Idempotency-Key, so a retry finds the
same one) → write the read-model row and the key. The same key with the same body answers
with the dispute it opened; with another body it is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

from api import intake
from api.commands import reads
from api.commands.context import Commands, Outcome
from api.schemas import DisputeCreate
from db.users import Principal
from domain.codes import Channel


async def open_dispute(
    commands: Commands, *, principal: Principal, body: DisputeCreate, channel: Channel,
    key: str | None = None,
) -> Outcome:
    body_hash = intake.request_hash(body)
    if key:
        existing = await commands.in_db(intake.replayed, principal=principal, key=key,
                                        body_hash=body_hash)
        if existing:
            view = await commands.in_db(reads.dispute, readonly=True, dispute_id=existing)
            return Outcome(view, f"Dispute {existing} was opened by this request already.",
                           replayed=True)
    dispute_id = intake.dispute_id_for(user_id=principal.id, key=key)
    opened = await commands.in_db(intake.validate, body=body, principal=principal,
                                  dispute_id=dispute_id, channel=channel, now=datetime.now(UTC))
    await commands.gateway.start_dispute(opened)
    await commands.in_db(intake.record, opened=opened, principal=principal, key=key,
                         body_hash=body_hash)
    view = await commands.in_db(reads.dispute, readonly=True, dispute_id=dispute_id)
    return Outcome(view, f"Dispute {dispute_id} is open; the automatic investigation is "
                   "running.")
