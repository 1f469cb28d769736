"""Slack from the dispute workflow: the steps a state change queues go with its snapshot
into the Slack outbox (written in one transaction, sent by the worker's dispatcher: no
activity, no wake-up of the workflow).

Disputes started before the outbox (slack-outbox-v1) start them as activities once the read
model is written (the steps read it), never awaited by an Update, settled before the
workflow ends or continues as new.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.slack import SlackActivities
    from domain.models import DisputeState
    from domain.slack_steps import (
        AlertManagers,
        LevelDecided,
        PromptLevel,
        SlackLevelRef,
        SlackStep,
        SlackSteps,
        ThreadNote,
    )

# Deprecated: its old path (no Slack at all) served disputes started before 2026-11-30,
# which no supported dispute is (README, "Changing the workflow").
SLACK_PATCH = "slack-v1"
# One activity per state change for all its Slack steps (SlackActivities.slack_steps).
SLACK_STEPS_PATCH = "slack-steps-v1"
# Steps into the Slack outbox with the snapshot (db/slack_outbox.py): an activity per state
# change cost the engine a task and a workflow wake-up, most of a decision's engine cost.
SLACK_OUTBOX_PATCH = "slack-outbox-v1"
# Slack is best effort in time, never in outcome: its activities run beside the dispute,
# retry for as long as Slack is down, and are awaited only at the end.
SLACK_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                          maximum_interval=timedelta(minutes=5))
SLACK_TIMEOUT = timedelta(minutes=2)
# Disputes started before slack-steps-v1: one activity per step.
_ONE_BY_ONE: dict[type[Any], Callable[..., Any]] = {
    PromptLevel: SlackActivities.slack_prompt_level,
    LevelDecided: SlackActivities.slack_level_decided,
    ThreadNote: SlackActivities.slack_thread_note,
    AlertManagers: SlackActivities.slack_alert_managers,
}


class SlackQueue:
    """The Slack steps of the state change being made, until its snapshot takes them."""

    def __init__(self, state: DisputeState) -> None:
        self.state = state
        self._queued: list[SlackStep] = []
        self._running: list[asyncio.Future[Any]] = []

    def add(self, step: SlackStep) -> None:
        self._queued.append(step)

    def level(self, step: type[PromptLevel] | type[LevelDecided], level: int,
              memo_number: str | None = None) -> None:
        """Prompt a level's approvers, or tell their prompts it was decided or voided."""
        memo = self.state.credit_memo
        self.add(step(arg=SlackLevelRef(
            dispute_id=self.state.opened.dispute_id,
            memo_number=memo_number or (memo.number if memo else ""), level=level)))

    def for_snapshot(self) -> list[SlackStep]:
        """The queued steps, taken for the snapshot about to be written (once patched)."""
        if not self._queued or not workflow.patched(SLACK_OUTBOX_PATCH):
            return []
        queued, self._queued = self._queued, []
        return queued

    def flush(self) -> None:
        """Disputes from before the outbox: start what is still queued as activities."""
        queued, self._queued = self._queued, []
        if not queued:
            return
        workflow.deprecate_patch(SLACK_PATCH)
        if workflow.patched(SLACK_STEPS_PATCH):
            # One task and one wake-up of this workflow for them all, not one per step.
            self._start(SlackActivities.slack_steps, SlackSteps(steps=queued))
            return
        for step in queued:
            self._start(_ONE_BY_ONE[type(step)], step.arg)

    def _start(self, activity: Callable[..., Any], arg: Any) -> None:
        self._running.append(workflow.start_activity_method(
            activity, arg, start_to_close_timeout=SLACK_TIMEOUT, retry_policy=SLACK_RETRY))

    async def settled(self) -> None:
        running, self._running = self._running, []
        if running:
            await asyncio.gather(*running, return_exceptions=True)
