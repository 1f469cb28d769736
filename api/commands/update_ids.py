"""The one scheme for Update ids, whatever the channel.

Temporal applies an Update id once per dispute run and answers a repeat with the first
outcome; so an id says which requests are the *same* request. Two are, and only two:

- the same ``Idempotency-Key`` (API) with the same body, from the same person;
- the same button (approve or reject) on the same level of the same credit memo, pressed
  by the same person — on a web page or in Slack (a double click, Slack's redelivery).

Anything else gets an id of its own, so the workflow's validator answers it: a second
request without a key is a new request, never a replay of an earlier one.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from domain.codes import Decision


@dataclass(frozen=True)
class IdempotencyKey:
    key: str
    body: str  # the request body, canonical: the same key with another body is another request


@dataclass(frozen=True)
class Button:
    memo_number: str
    level: int
    decision: Decision


Replay = IdempotencyKey | Button | None


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def update_id(command: str, *, dispute_id: str, actor_id: str, replay: Replay) -> str:
    """``command:dispute:actor:...`` — readable in the Temporal UI, unique where it must be."""
    head = f"{command}:{dispute_id}:{actor_id}"
    if isinstance(replay, IdempotencyKey):
        return f"{head}:key:{_digest(replay.key, replay.body)}"
    if isinstance(replay, Button):
        return f"{head}:button:{replay.memo_number}:{replay.level}:{replay.decision}"
    return f"{head}:once:{uuid.uuid4().hex}"
