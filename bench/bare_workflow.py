"""The bare-engine baselines: for bench_overhead, the same number of activities and updates as
a dispute lifecycle, each doing nothing; for bench_decisions, one Update. Its own module so
the workflow sandbox loads it the same way as ours.

    python -m bench.bare_workflow ADDRESS TASK_QUEUE   # a worker process for them

Run as its own process, like our worker, with the same workflow runner
(config/sandbox.py), so the two are compared in the same shape.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from config.sandbox import workflow_runner

ACTIVITIES, UPDATES = 11, 3


@activity.defn(name="bare_noop")
def bare_noop(i: int) -> int:
    return i


@workflow.defn(name="BareWorkflow")
class BareWorkflow:
    def __init__(self) -> None:
        self.updates = 0

    @workflow.run
    async def run(self) -> int:
        for i in range(ACTIVITIES - UPDATES):
            await workflow.execute_activity("bare_noop", i,
                                            start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: self.updates >= UPDATES)
        return self.updates

    @workflow.update
    async def step(self) -> int:
        await workflow.execute_activity("bare_noop", self.updates,
                                        start_to_close_timeout=timedelta(seconds=30))
        self.updates += 1
        return self.updates


@activity.defn(name="bare_record")
def bare_record(i: int) -> int:
    return i


@workflow.defn(name="BareDecisionWorkflow")
class BareDecisionWorkflow:
    """The engine's share of a decision: an Update whose handler runs one local activity
    (ours records the decision in one) and answers; the workflow then waits for the next."""

    def __init__(self) -> None:
        self.decided = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.decided >= 2)
        return self.decided

    @workflow.update
    async def decide(self) -> int:
        await workflow.execute_local_activity("bare_record", self.decided,
                                              start_to_close_timeout=timedelta(seconds=30))
        self.decided += 1
        return self.decided


async def serve(address: str, task_queue: str) -> None:
    """A worker for the bare workflows, with the thread pool our worker has, until SIGTERM."""
    client = await Client.connect(address)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(16) as pool:
        async with Worker(client, task_queue=task_queue,
                          workflows=[BareWorkflow, BareDecisionWorkflow],
                          # the sandbox as ours runs it: the baseline is the engine's best
                          workflow_runner=workflow_runner(client.data_converter),
                          activities=[bare_noop, bare_record], activity_executor=pool,
                          max_concurrent_activities=16):
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
