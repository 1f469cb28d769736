"""Temporal Schedules the product needs, created or updated idempotently."""

from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from config.settings import Settings
from workflows.digest import DailyDigestWorkflow

DIGEST_SCHEDULE_ID = "disputeflow-daily-digest"


def digest_schedule(settings: Settings, timezone: str = "UTC") -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DailyDigestWorkflow.run, id="disputeflow-daily-digest-run",
            task_queue=settings.temporal_task_queue),
        spec=ScheduleSpec(cron_expressions=["0 8 * * *"], time_zone_name=timezone),
    )


async def apply_schedules(client: Client, settings: Settings, timezone: str = "UTC") -> str:
    """Create the daily digest schedule, or bring an existing one up to date."""
    schedule = digest_schedule(settings, timezone)
    try:
        await client.create_schedule(DIGEST_SCHEDULE_ID, schedule)
        return "created"
    except ScheduleAlreadyRunningError:
        async def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(DIGEST_SCHEDULE_ID).update(update)
        return "updated"
