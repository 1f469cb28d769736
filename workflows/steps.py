"""How the dispute workflow runs its short database steps: as local activities.

Local, so a decision's snapshot needs no round trip through the server's task queue and an
Update answers in milliseconds. Ledger posting and connector reads stay regular activities
(external systems, their own retries and timeouts). Deterministic: no I/O here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.options import ACTIVITY_TIMEOUT, RETRY

R = TypeVar("R")
# Disputes started before 2026-11-30 ran these steps as regular activities. Deprecated:
# no supported dispute takes that path (README, "Changing the workflow"); the call stays,
# so histories recorded with the marker still replay, until none is left running.
LOCAL_ACTIVITIES_PATCH = "local-activities-v1"


async def local_step(activity: Callable[..., R], arg: Any = None, *,
                     retry_policy: RetryPolicy = RETRY) -> R:
    """Run ``activity`` (an activity method, e.g. ``ReadModelActivities.record_snapshot``)
    as a local activity and return its typed result."""
    workflow.deprecate_patch(LOCAL_ACTIVITIES_PATCH)
    args = [] if arg is None else [arg]
    result: R = await workflow.execute_local_activity_method(
        activity, args=args, start_to_close_timeout=ACTIVITY_TIMEOUT,  # type: ignore[arg-type]
        retry_policy=retry_policy)
    return result
