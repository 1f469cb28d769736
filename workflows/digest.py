"""The managers' daily digest, started every morning by a Temporal Schedule."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.digest import DigestActivities
    from activities.readmodel import ReadModelActivities
    from activities.slack import SlackActivities
    from domain.models import DigestRequest, Notify
    from domain.slack_steps import SlackAlert

RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1))
TIMEOUT = timedelta(minutes=2)


@workflow.defn(name="DailyDigestWorkflow")
class DailyDigestWorkflow:
    @workflow.run
    async def run(self) -> str:
        policy = await workflow.execute_activity_method(
            ReadModelActivities.load_policy, start_to_close_timeout=TIMEOUT, retry_policy=RETRY)
        calendar = policy.document.get("calendar")
        tz = calendar.get("timezone", "UTC") if isinstance(calendar, dict) else "UTC"
        digest = await workflow.execute_activity_method(
            DigestActivities.compose_daily_digest, DigestRequest(at=workflow.now(), timezone=tz),
            start_to_close_timeout=TIMEOUT, retry_policy=RETRY)
        await workflow.execute_activity_method(
            ReadModelActivities.notify,
            Notify(key=digest.key, dispute_id="", recipient="managers", message=digest.text),
            start_to_close_timeout=TIMEOUT, retry_policy=RETRY)
        # Slack when configured (the activity does nothing otherwise).
        await workflow.execute_activity_method(
            SlackActivities.slack_alert_managers, SlackAlert(key=digest.key, text=digest.text),
            start_to_close_timeout=TIMEOUT, retry_policy=RETRY)
        return digest.key
