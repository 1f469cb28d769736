"""The worker's workflow runner (config/sandbox.py) skips the SDK's per-payload trips into
the sandbox only where they cannot matter, and keeps the sandbox itself: a workflow that
reads the wall clock is still stopped."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowHandle
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from config.converter import DATA_CONVERTER
from config.sandbox import ContextFreeSandbox, workflow_runner

with workflow.unsafe.imports_passed_through():  # this module is a workflow's: sandboxed
    from tests.conftest import BIN

pytestmark = pytest.mark.workflow


class _Identity(PayloadCodec):
    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


def test_only_a_converter_without_codec_or_external_storage_skips_the_contexts() -> None:
    assert isinstance(workflow_runner(DATA_CONVERTER), ContextFreeSandbox)
    # A codec may depend on the workflow or activity a payload belongs to (encryption keys
    # per tenant, say): then every payload must get its context, through the SDK's runner.
    with_codec = DataConverter(payload_converter_class=DATA_CONVERTER.payload_converter_class,
                               payload_codec=_Identity())
    assert type(workflow_runner(with_codec)) is SandboxedWorkflowRunner


@workflow.defn(name="ReadsTheWallClock")
class ReadsTheWallClock:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()  # forbidden: not deterministic on replay


async def test_the_sandbox_still_stops_a_workflow_reading_the_wall_clock() -> None:
    # Its own test server: a workflow whose tasks keep failing must not hold the shared
    # server's clock (the SLA tests' time skipping stalled behind it).
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=DATA_CONVERTER)
    try:
        failure = await _run_until_its_task_fails(env)
    finally:
        await env.shutdown()
    assert failure.application_failure_info.type == "RestrictedWorkflowAccessError"
    assert "datetime.datetime.now" in failure.message


async def _run_until_its_task_fails(env: WorkflowEnvironment) -> Failure:
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(2) as pool:
        async with Worker(env.client, task_queue=queue, workflows=[ReadsTheWallClock],
                          activity_executor=pool,
                          workflow_runner=workflow_runner(env.client.data_converter)):
            handle = await env.client.start_workflow(
                ReadsTheWallClock.run, id=queue, task_queue=queue)
            failure = await _first_task_failure(handle)
            await handle.terminate()
    return failure


async def _first_task_failure(handle: WorkflowHandle[Any, Any]) -> Failure:
    for _ in range(100):
        history = await handle.fetch_history()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                return event.workflow_task_failed_event_attributes.failure
        await asyncio.sleep(0.05)
    raise AssertionError("the workflow task did not fail")
