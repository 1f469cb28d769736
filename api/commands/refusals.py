"""Refusals: the one audit format for every channel, and the words for a level that was
already decided (the validator knows who decided it; names come from the database)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from activities.slack_blocks import plain_date
from api.commands.context import Commands, Refused
from api.errors import AppError
from db import audit
from db.users import user_names
from domain.codes import Channel

# Refusals of state or policy, recorded in the audit trail (a bad input is not).
AUDITED = frozenset({"forbidden", "sod_violation", "wrong_state"})
NOUN = {"decide": "decision", "investigate": "investigation", "revise": "revision",
        "withdraw": "withdrawal", "repost": "repost"}


def record(session: Session, *, actor: str, dispute_id: str, command: str, channel: Channel,
           code: str, message: str, request: dict[str, Any]) -> None:
    """One ``<noun>.refused`` event: who, through which channel, why, and what they sent."""
    noun = NOUN[command]
    audit.append(session, [audit.NewEvent(
        actor=actor, action=f"{noun}.refused", subject=dispute_id,
        message=f"Refused {noun} by {actor} via {channel}: {message}",
        data={"code": code, "channel": channel, "request": request})])


def already_decided(session: Session, *, level: dict[str, Any]) -> str:
    """A decided level in words: its outcome, by whom (their name), when, through what.
    ``level`` has the level view's ``status``, ``approver_id``, ``decided_at``, ``channel``."""
    who = str(level.get("approver_id") or "someone")
    name = user_names(session, {who}).get(who, who)
    return (f"Already {level.get('status')} by {name} at "
            f"{plain_date(level.get('decided_at'))} via {level.get('channel')}.")


async def refuse(commands: Commands, err: AppError, *, actor: str, dispute_id: str,
                 command: str, channel: Channel, request: dict[str, Any]) -> AppError:
    """``err`` as the command's answer: a state or policy refusal becomes :class:`Refused`
    (in words, a decided level with its approver's name) and is audited; anything else
    (bad input, an unavailable engine) is returned as it is."""
    if err.code not in AUDITED:
        return err
    message = err.message
    facts = err.details if isinstance(err.details, dict) else None
    if facts and facts.get("approver_id") and facts.get("decided_at"):
        message = await commands.in_db(already_decided, readonly=True, level=facts)
    await commands.in_db(record, actor=actor, dispute_id=dispute_id, command=command,
                         channel=channel, code=err.code, message=message, request=request)
    return Refused(err.code, message, facts)
