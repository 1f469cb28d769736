"""Driving a dispute workflow in tests: start it the way the API does, run a worker with
the real activities against the test database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal

from temporalio.client import Client, WorkflowHandle

from config.settings import Settings
from domain.models import DisputeOpened, WorkflowInput
from worker import running
from workflows.dispute import DisputeWorkflow


@asynccontextmanager
async def running_worker(client: Client, db_url: str, **overrides: object
                         ) -> AsyncIterator[str]:
    """A worker on a queue of its own; ``overrides`` are settings (e.g. the ledger's URL)."""
    queue = f"q-{uuid.uuid4().hex[:8]}"
    settings = Settings(database_url=db_url, **overrides)  # type: ignore[arg-type]
    with ThreadPoolExecutor(max_workers=8) as pool:
        async with running(client, settings, pool, task_queue=queue):
            yield queue


async def open_dispute(
    client: Client, queue: str, *, opened_by: str, amount: str = "250.00",
    invoice: str = "INV-1001", account: str = "ADV-1", currency: str = "USD",
    line_ids: list[str] | None = None,
) -> WorkflowHandle:
    dispute_id = "DSP-" + uuid.uuid4().hex[:12].upper()
    opened = DisputeOpened(
        dispute_id=dispute_id, account_id=account, invoice_number=invoice, currency=currency,
        disputed_amount=Decimal(amount), reason_code="rate_mismatch",
        description="rate above contract", line_ids=line_ids or [], opened_by=opened_by,
        opened_at=datetime.now(UTC))
    return await client.start_workflow(
        DisputeWorkflow.run, WorkflowInput(opened=opened), id=dispute_id, task_queue=queue)
