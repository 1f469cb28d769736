"""A worker stopped while an activity runs (a deploy, a scale-down) lets it finish its I/O:
our activities are declared so temporalio never raises a cancellation inside their thread
(which once left a half-open Slack socket behind), and the worker waits for them."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.defn import defn
from tests.conftest import BIN
from worker import GRACEFUL_SHUTDOWN

pytestmark = pytest.mark.workflow

started = threading.Event()
outcome: list[str] = []


@defn(name="slow_io")
def slow_io() -> str:
    started.set()
    try:
        time.sleep(0.5)  # stands for a socket connect or a database commit
    except BaseException as exc:  # an injected cancellation would land here
        outcome.append(f"interrupted by {type(exc).__name__}")
        raise
    outcome.append("finished")
    return "done"


@workflow.defn(name="SlowIoWorkflow", sandboxed=False)
class SlowIoWorkflow:
    @workflow.run
    async def run(self) -> str:
        return str(await workflow.execute_activity(
            "slow_io", start_to_close_timeout=timedelta(seconds=30)))


@pytest.mark.parametrize("grace", [GRACEFUL_SHUTDOWN, timedelta(0)],
                         ids=["within-the-grace-period", "past-the-grace-period"])
async def test_stopping_the_worker_lets_a_running_activity_finish(grace: timedelta) -> None:
    # Its own test server: the abandoned activity must not hold the shared server's clock.
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"))
    try:
        await _stop_worker_mid_activity(env, grace)
    finally:
        await env.shutdown()
    assert outcome == ["finished"]


async def _stop_worker_mid_activity(time_env: WorkflowEnvironment, grace: timedelta) -> None:
    started.clear()
    outcome.clear()
    queue = f"q-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=2) as pool:
        worker = Worker(time_env.client, task_queue=queue, workflows=[SlowIoWorkflow],
                        activities=[slow_io], activity_executor=pool,
                        graceful_shutdown_timeout=grace)
        run = asyncio.create_task(worker.run())
        await time_env.client.start_workflow(SlowIoWorkflow.run, id=f"slow-{queue}",
                                             task_queue=queue)
        assert await asyncio.to_thread(started.wait, 10)
        await worker.shutdown()
        await run

