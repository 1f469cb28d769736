"""The bare-engine baselines: for bench_overhead, the same number of activities and updates as
a dispute lifecycle, each doing nothing; for bench_decisions, one Update; and the floor
under a decision and a lifecycle (bench/floor.py): those shapes, each activity writing one
row (``FloorActivities``). Its own
module so the workflow sandbox loads it the same way as ours.

    python -m bench.bare_workflow ADDRESS TASK_QUEUE DATABASE_URL   # a worker process for them

Run as its own process, like our worker, with the same workflow runner
(config/sandbox.py) and event loop (config/event_loop.py), so they are compared in the
same shape.
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
    from sqlalchemy import Engine, text

    from config import event_loop
    from config.sandbox import workflow_runner
    from db.session import get_engine

ACTIVITIES, UPDATES = 11, 3


BARE_NOOP, BARE_RECORD, FLOOR_RECORD = "bare_noop", "bare_record", "floor_record"
TIMEOUT = timedelta(seconds=30)


@activity.defn(name=BARE_NOOP)
def bare_noop(i: int) -> int:
    return i


@activity.defn(name=BARE_RECORD)
def bare_record(i: int) -> int:
    return i


FLOOR_TABLE = "bench_floor"


class FloorActivities:
    """The floor's one write (bench/floor.py): a transaction of one statement on the
    product's database, through the product's connection pool (db/session.py), as a
    snapshot would take it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.begin() as c:
            c.execute(text(f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} "
                           "(workflow_id VARCHAR(100) PRIMARY KEY, steps INTEGER NOT NULL)"))

    @activity.defn(name=FLOOR_RECORD)
    def record(self, i: int) -> int:
        """Count one more step of the calling workflow; ``i`` as the no-op ones take it."""
        with self.engine.begin() as c:
            return int(c.execute(text(
                f"INSERT INTO {FLOOR_TABLE} (workflow_id, steps) VALUES (:id, 1) "
                f"ON CONFLICT (workflow_id) DO UPDATE SET steps = {FLOOR_TABLE}.steps + 1 "
                "RETURNING steps"), {"id": activity.info().workflow_id}).scalar_one())


@workflow.defn(name="BareWorkflow")
class BareWorkflow:
    """A lifecycle's shape: ``ACTIVITIES`` activities, ``UPDATES`` of them in Updates, each
    the activity named at the start (``bare_noop``; the floor's ``floor_record``)."""

    def __init__(self) -> None:
        self.updates = 0
        self.activity = BARE_NOOP

    @workflow.run
    async def run(self, activity_name: str = BARE_NOOP) -> int:
        self.activity = activity_name
        for i in range(ACTIVITIES - UPDATES):
            await workflow.execute_activity(self.activity, i, start_to_close_timeout=TIMEOUT)
        await workflow.wait_condition(lambda: self.updates >= UPDATES)
        return self.updates

    @workflow.update
    async def step(self) -> int:
        await workflow.execute_activity(self.activity, self.updates,
                                        start_to_close_timeout=TIMEOUT)
        self.updates += 1
        return self.updates


@workflow.defn(name="BareDecisionWorkflow")
class BareDecisionWorkflow:
    """The engine's share of a decision: an Update whose handler runs one local activity
    (ours records the decision in one) and answers; the workflow then waits for the next.
    The activity is the one named at the start: ``bare_record`` does nothing, the floor's
    ``floor_record`` writes one row."""

    def __init__(self) -> None:
        self.decided = 0
        self.activity = BARE_RECORD

    @workflow.run
    async def run(self, activity_name: str = BARE_RECORD) -> int:
        self.activity = activity_name
        await workflow.wait_condition(lambda: self.decided >= 2)
        return self.decided

    @workflow.update
    async def decide(self) -> int:
        await workflow.execute_local_activity(self.activity, self.decided,
                                              start_to_close_timeout=TIMEOUT)
        self.decided += 1
        return self.decided


async def serve(address: str, task_queue: str, db_url: str) -> None:
    """A worker for the bare workflows, with the thread pool our worker has, until SIGTERM."""
    client = await Client.connect(address)
    floor = FloorActivities(get_engine(db_url))
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(16) as pool:
        async with Worker(client, task_queue=task_queue,
                          workflows=[BareWorkflow, BareDecisionWorkflow],
                          # the sandbox as ours runs it: the baseline is the engine's best
                          workflow_runner=workflow_runner(client.data_converter),
                          activities=[bare_noop, bare_record, floor.record], activity_executor=pool,
                          max_concurrent_activities=16):
            await stop.wait()


if __name__ == "__main__":
    event_loop.run(serve(sys.argv[1], sys.argv[2], sys.argv[3]))
