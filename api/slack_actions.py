"""Slack interactivity, the parts that do not need Temporal: request signatures, payload
parsing into typed actions, the words shown to the person who clicked, and delivery of
those words through the payload's ``response_url``.

Only our own action ids are acted on; anything else in a (validly signed) payload is
ignored, and a payload that does not parse is refused without side effects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import BaseModel, Field, ValidationError
from slack_sdk.signature import SignatureVerifier

from activities.slack_blocks import (
    ACTION_APPROVE,
    ACTION_REJECT,
    REASON_ACTION,
    REASON_BLOCK,
    VIEW_REJECT,
)

log = logging.getLogger("disputeflow.slack")
MAX_AGE_S = 5 * 60
Kind = Literal["approve", "reject", "reject_submit"]


def signature_problem(secret: str, body: bytes, timestamp: str | None,
                      signature: str | None) -> str | None:
    """Why the request is not from Slack (None: it is). Checks the 5-minute window too."""
    if not timestamp or not signature:
        return "the signature headers are missing"
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return "the timestamp is not a number"
    if age > MAX_AGE_S:
        return "the timestamp is older than 5 minutes (a replay?)"
    if not SignatureVerifier(secret).is_valid(body, timestamp, signature):
        return "the signature does not match"
    return None


class ButtonRef(BaseModel):
    """What our buttons carry (see slack_blocks.button_value)."""

    d: str = Field(min_length=1, max_length=40)
    m: str = Field(min_length=1, max_length=40)
    l: int = Field(ge=1, le=100)  # noqa: E741  (the compact key Slack stores)
    r: str | None = Field(default=None, max_length=2000)  # response_url, in modal metadata


@dataclass(frozen=True)
class Action:
    kind: Kind
    slack_user_id: str
    ref: ButtonRef
    response_url: str | None = None
    trigger_id: str | None = None
    reason: str = ""

    def to_record(self) -> dict[str, Any]:
        """What is kept of a decision click until it is decided (db.slack_clicks); the
        trigger id only serves the reject modal, which is never kept."""
        return {"kind": self.kind, "slack_user_id": self.slack_user_id,
                "ref": self.ref.model_dump(exclude_none=True),
                "response_url": self.response_url, "reason": self.reason}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Action:
        return cls(kind=record["kind"], slack_user_id=record["slack_user_id"],
                   ref=ButtonRef.model_validate(record["ref"]),
                   response_url=record.get("response_url"), reason=record.get("reason", ""))


def parse(body: bytes) -> Action | None:
    """The action a signed payload asks for; None when it is not one of ours.

    Raises ValueError for a payload that is not valid Slack interactivity JSON.
    """
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=True)
        payload: dict[str, Any] = json.loads(fields["payload"][0])
        user = str(payload["user"]["id"])
        kind = payload.get("type")
        if kind == "block_actions":
            action = next((a for a in payload.get("actions") or []
                           if a.get("action_id") in (ACTION_APPROVE, ACTION_REJECT)), None)
            if action is None:
                return None
            return Action(kind="approve" if action["action_id"] == ACTION_APPROVE else "reject",
                          slack_user_id=user, ref=ButtonRef.model_validate_json(action["value"]),
                          response_url=payload.get("response_url"),
                          trigger_id=payload.get("trigger_id"))
        if kind == "view_submission" and payload["view"].get("callback_id") == VIEW_REJECT:
            view = payload["view"]
            ref = ButtonRef.model_validate_json(view["private_metadata"])
            value = view["state"]["values"][REASON_BLOCK][REASON_ACTION].get("value") or ""
            return Action(kind="reject_submit", slack_user_id=user, ref=ref,
                          response_url=ref.r, reason=str(value).strip())
        return None
    except (KeyError, IndexError, TypeError, UnicodeDecodeError, ValidationError,
            json.JSONDecodeError, AttributeError) as exc:
        raise ValueError(f"not a Slack interaction payload: {type(exc).__name__}") from None


def modal_metadata(action: Action) -> str:
    """The button reference plus the response_url, carried through the reject modal."""
    return action.ref.model_copy(update={"r": action.response_url}).model_dump_json(
        exclude_none=True)


UNKNOWN_USER = ("Your Slack account is not linked to a Disputeflow user, so nothing was "
                "changed. Ask an admin to add your Slack id to your user.")


def allowed_response_url(url: str | None, slack_api_url: str) -> bool:
    """Only Slack (or the configured Slack API host, e.g. a test fake) receives replies:
    the URL comes from the payload and must not turn this server into a proxy."""
    if not url:
        return False
    parts, api = urlsplit(url), urlsplit(slack_api_url)
    if parts.scheme == "https" and (parts.hostname or "").endswith(".slack.com"):
        return True
    return parts.scheme in ("http", "https") and parts.netloc == api.netloc


async def reply(url: str | None, text: str, *, slack_api_url: str) -> bool:
    """Show ``text`` to the person who clicked (ephemeral); False when it could not."""
    if not allowed_response_url(url, slack_api_url):
        log.warning("no usable response_url for a Slack reply")
        return False
    assert url is not None
    body = {"response_type": "ephemeral", "replace_original": False, "text": text[:3000]}
    for attempt in range(3):
        if attempt:
            await asyncio.sleep(0.5 * 2 ** attempt)
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                resp = await client.post(url, json=body)
            if resp.status_code < 500 and resp.status_code != 429:
                return resp.is_success
        except httpx.HTTPError as exc:
            log.warning("Slack reply failed (%s), attempt %d", type(exc).__name__, attempt + 1)
    return False
