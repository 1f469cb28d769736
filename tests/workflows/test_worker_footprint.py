"""What a waiting dispute costs the worker that caches it.

A worker keeps up to a thousand disputes in its workflow cache, and CPython's full garbage
collection walks every object they hold while decisions wait: each object per cached
dispute is paid in pause time (bench/bench_decisions.py) and memory (bench_waiting). The
budget below is what one dispute waiting for its investigation holds today plus a margin;
it fails when the sandbox starts re-importing helper modules per run again, or when per-run
caches (pydantic schemas) creep back in.
"""

from __future__ import annotations

import asyncio
import gc

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.conftest import People
from tests.workflows.helpers import open_dispute, running_worker
from workflows.dispute import DisputeWorkflow

pytestmark = pytest.mark.workflow

BATCH = 30
BUDGET = 285  # tracked objects per cached dispute: about 255 now, 310+ before the fixes


async def _open_waiting(env: WorkflowEnvironment, queue: str, people: People,
                        ) -> list[WorkflowHandle]:
    handles = [await open_dispute(env.client, queue, opened_by=people.ids["cs"],
                                  amount="1.00", line_ids=["L1"]) for _ in range(BATCH)]
    for handle in handles:
        for _ in range(300):
            state = await handle.query(DisputeWorkflow.get_state)
            if state.findings is not None:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError(f"{handle.id} never recorded its findings")
    return handles


def _tracked() -> int:
    gc.collect()
    return len(gc.get_objects())


async def test_a_cached_waiting_dispute_holds_few_objects(
    time_env: WorkflowEnvironment, db_url: str, seeded: People,
) -> None:
    async with running_worker(time_env.client, db_url) as queue:
        await _open_waiting(time_env, queue, seeded)  # warm: modules, adapters, pools
        before = _tracked()
        await _open_waiting(time_env, queue, seeded)
        per_dispute = (_tracked() - before) / BATCH
    assert per_dispute < BUDGET, f"{per_dispute:.0f} tracked objects per cached dispute"
