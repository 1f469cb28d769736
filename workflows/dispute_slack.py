"""Slack from the dispute workflow: steps queued by a state change go with its snapshot into
the Slack outbox (written in one transaction, sent by the worker's dispatcher: no activity,
no wake-up of the workflow). Runs from before that patch started them as activities once
the read model was written (the steps read it), never awaited by an Update, settled before
the workflow ends or continues as new. A mixin of DisputeWorkflow."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.models import DisputeState

SLACK_PATCH = "slack-v1"
# One activity per state change for all its Slack steps (activities/slack.slack_steps).
SLACK_STEPS_PATCH = "slack-steps-v1"
# Steps into the Slack outbox with the snapshot (db/slack_outbox.py): an activity per state
# change cost the engine a task and a workflow wake-up, most of a decision's engine cost.
SLACK_OUTBOX_PATCH = "slack-outbox-v1"
# Slack is best effort in time, never in outcome: its activities run beside the dispute,
# retry for as long as Slack is down, and are awaited only at the end.
SLACK_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                          maximum_interval=timedelta(minutes=5))
SLACK_TIMEOUT = timedelta(minutes=2)


class SlackOutbox:
    state: DisputeState
    _slack_queue: list[tuple[str, dict[str, object]]]
    _slack_running: list[asyncio.Future[object]]

    def _slack(self, activity_name: str, **arg: object) -> None:
        """Queue a Slack step; it starts once the read model it reads has been written."""
        self._slack_queue.append((activity_name, arg))

    def _slack_level(self, activity_name: str, level: int, memo_number: str | None = None
                     ) -> None:
        memo = self.state.credit_memo
        self._slack(activity_name, dispute_id=self.state.opened.dispute_id,
                    memo_number=memo_number or (memo.number if memo else ""), level=level)

    def _outbox_steps(self) -> list[dict[str, object]]:
        """The queued steps, taken for the snapshot about to be written (once patched)."""
        if not self._slack_queue or not workflow.patched(SLACK_OUTBOX_PATCH):
            return []
        queued, self._slack_queue = self._slack_queue, []
        return [{"name": n, "arg": a} for n, a in queued]

    def _flush_slack(self) -> None:
        queued, self._slack_queue = self._slack_queue, []
        if not queued or not workflow.patched(SLACK_PATCH):
            return
        if workflow.patched(SLACK_STEPS_PATCH):
            # One task and one wake-up of this workflow for them all, not one per step (an
            # approval queues two: its level's messages updated, the next level prompted).
            queued = [("slack_steps", {"steps": [{"name": n, "arg": a} for n, a in queued]})]
        for name, arg in queued:
            self._slack_running.append(workflow.start_activity(
                name, arg, start_to_close_timeout=SLACK_TIMEOUT, retry_policy=SLACK_RETRY))

    async def _slack_settled(self) -> None:
        running, self._slack_running = self._slack_running, []
        if running:
            await asyncio.gather(*running, return_exceptions=True)

