"""The Slack steps a dispute's state change asks for, as typed messages.

The workflow queues them (deterministically: they are data), the snapshot activity writes
them to the Slack outbox with the change, and the worker's dispatcher runs them
(``activities/slack.py``). On the wire each is ``{"name", "arg"}`` — the activity it was
once started as, and its input — so outbox rows and histories written before these types
read unchanged.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field


class SlackLevelRef(BaseModel):
    dispute_id: str
    memo_number: str
    level: int


class SlackThreadNote(BaseModel):
    dispute_id: str
    memo_number: str
    level: int
    kind: Literal["reminder", "escalation"]
    text: str


class SlackAlert(BaseModel):
    key: str  # idempotency: one alert per key
    text: str
    dispute_id: str = ""


class PromptLevel(BaseModel):
    """Prompt everyone who may decide this level (a DM with Approve / Reject)."""

    name: Literal["slack_prompt_level"] = "slack_prompt_level"
    arg: SlackLevelRef


class LevelDecided(BaseModel):
    """Update every prompt of this level: it was decided (or voided), buttons removed."""

    name: Literal["slack_level_decided"] = "slack_level_decided"
    arg: SlackLevelRef


class ThreadNote(BaseModel):
    """A reminder or an escalation, in the thread of the level's prompts."""

    name: Literal["slack_thread_note"] = "slack_thread_note"
    arg: SlackThreadNote


class AlertManagers(BaseModel):
    """A breach alert in the managers' channel."""

    name: Literal["slack_alert_managers"] = "slack_alert_managers"
    arg: SlackAlert


SlackStep = Annotated[PromptLevel | LevelDecided | ThreadNote | AlertManagers,
                      Field(discriminator="name")]


class SlackSteps(BaseModel):
    """The steps of one state change, in order."""

    steps: list[SlackStep]
