"""Finding a person's Slack account by their email (``users.lookupByEmail``).

The bot may do this only with the ``users:read.email`` scope on a bot token; where it may
not, or Slack does not answer, the lookup says why instead of raising, so creating a user
never fails for Slack's sake. The client is ``activities.slack.web_client`` (the same
retries as every Slack call), with a short timeout: a person is waiting for the answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_sdk.errors import SlackApiError

from activities.slack import web_client
from config.settings import Settings

__all__ = ["SLACK_DISABLED", "SLACK_UNREACHABLE", "SlackLookup", "lookup_by_email"]

log = logging.getLogger("disputeflow.slack")

# Problems that are not Slack's own error codes.
SLACK_DISABLED = "slack_disabled"
SLACK_UNREACHABLE = "slack_unreachable"
NOT_A_PERSON = "not_a_person"


@dataclass(frozen=True)
class SlackLookup:
    """The Slack user id found for an email, or the problem (Slack's error code, or
    ``slack_disabled`` / ``slack_unreachable`` / ``not_a_person``)."""

    slack_user_id: str | None = None
    problem: str | None = None


def lookup_by_email(settings: Settings, email: str, *, timeout: int = 5) -> SlackLookup:
    """Ask Slack whose account ``email`` is (one call, retried on 429/5xx/network errors)."""
    if not settings.slack_enabled:
        return SlackLookup(problem=SLACK_DISABLED)
    client = web_client(settings, timeout=timeout, retries=1)
    try:
        answer = client.users_lookupByEmail(email=email)
    except SlackApiError as exc:
        status = getattr(exc.response, "status_code", 200)
        data: Any = getattr(exc.response, "data", None)
        code = data.get("error") if isinstance(data, dict) else None
        if status >= 500 or status == 429 or not isinstance(code, str):
            log.warning("Slack lookup failed: HTTP %s", status)
            return SlackLookup(problem=SLACK_UNREACHABLE)
        return SlackLookup(problem=code)
    except (URLError, OSError, RemoteDisconnected, TimeoutError) as exc:
        log.warning("Slack lookup failed: %s", type(exc).__name__)
        return SlackLookup(problem=SLACK_UNREACHABLE)
    user = answer.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return SlackLookup(problem=SLACK_UNREACHABLE)
    if user.get("deleted") or user.get("is_bot"):
        return SlackLookup(problem=NOT_A_PERSON)
    return SlackLookup(slack_user_id=user["id"])
