"""The API's one Temporal client and the three things it does with it: start a dispute,
send an Update and wait a bounded time, and tell whether Temporal and a worker are there.

Every Temporal failure becomes an AppError the caller understands; nothing is half-done:
intake starts the workflow before writing anything, and Update ids derive from the request
so a retried request is applied once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import AppError
from config.settings import Settings
from config.temporal import connect
from domain.models import DisputeOpened, UpdateResult, WorkflowInput

log = logging.getLogger("disputeflow.temporal")
WORKER_SEEN_WITHIN = timedelta(seconds=90)
WORKER_CHECK_CACHE_S = 5.0

UNAVAILABLE = AppError("temporal_unavailable",
                       "The workflow engine (Temporal) is not reachable; nothing was changed. "
                       "Try again shortly — a retry with the same Idempotency-Key is safe.")


class TemporalGateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._lock = asyncio.Lock()
        self._worker_seen_at = -1e9  # loop time of the last positive poller check

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(connect(self.settings), timeout=5)
                except Exception as exc:
                    log.warning("cannot connect to Temporal: %s", type(exc).__name__)
                    raise UNAVAILABLE from None
        return self._client

    async def healthy(self) -> bool:
        try:
            client = await self.client()
            return await asyncio.wait_for(client.service_client.check_health(), timeout=3)
        except Exception:
            return False

    async def start_dispute(self, opened: DisputeOpened) -> None:
        client = await self.client()
        try:
            await client.start_workflow(
                "DisputeWorkflow", WorkflowInput(opened=opened), id=opened.dispute_id,
                task_queue=self.settings.temporal_task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                rpc_timeout=timedelta(seconds=10),
            )
        except WorkflowAlreadyStartedError:
            return  # a retried intake: the dispute exists already
        except RPCError as exc:
            log.warning("start_workflow failed: %s", exc.status)
            raise UNAVAILABLE from None

    async def worker_present(self) -> bool:
        """Is a worker polling? A positive answer is reused for a few seconds (one RPC per
        decision would double its latency); a negative one is always re-checked."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._worker_seen_at < WORKER_CHECK_CACHE_S:
            return True
        client = await self.client()
        try:
            resp = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.settings.temporal_namespace,
                    task_queue=TaskQueue(name=self.settings.temporal_task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
                timeout=timedelta(seconds=5))
        except RPCError:
            raise UNAVAILABLE from None
        now = datetime.now(UTC)
        present = any(now - p.last_access_time.ToDatetime(UTC) < WORKER_SEEN_WITHIN
                      for p in resp.pollers)
        if present:
            self._worker_seen_at = loop.time()
        return present

    async def update(
        self, dispute_id: str, name: str, arg: Any, *, update_id: str
    ) -> UpdateResult | None:
        """Run an Update; validator and handler refusals come back as AppErrors.

        Two bounded waits: for a worker to *accept* the Update (until then nothing is
        applied, and resending the same request is safe), then for its result. Accepted
        means durable: if the result is slow (say the ledger is), None is returned and the
        caller says the request was accepted and is still being processed.
        """
        if not await self.worker_present():
            raise AppError("worker_unavailable",
                           "No worker is running to process this request; nothing was changed. "
                           "Try again once a worker is up.")
        client = await self.client()
        handle = client.get_workflow_handle(dispute_id)
        timeout = self.settings.disputeflow_update_timeout_s
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            update = await asyncio.wait_for(
                handle.start_update(name, arg, id=update_id, result_type=UpdateResult,
                                    wait_for_stage=WorkflowUpdateStage.ACCEPTED),
                timeout=timeout)
        except WorkflowUpdateFailedError as exc:
            raise self._refusal(exc) from None
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise AppError(
                "worker_unavailable",
                f"No worker confirmed this within {timeout:g} s. It has not been applied yet; "
                "sending the same request again is safe and will not apply it twice.") from None
        except RPCError as exc:
            raise self._rpc_error(name, exc) from None
        remaining = max(1.0, timeout - (loop.time() - started))
        try:
            return await asyncio.wait_for(update.result(), timeout=remaining)
        except WorkflowUpdateFailedError as exc:
            raise self._refusal(exc) from None
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            return None  # accepted and durable; still working (e.g. posting to the ledger)
        except RPCError as exc:
            raise self._rpc_error(name, exc) from None

    @staticmethod
    def _refusal(exc: WorkflowUpdateFailedError) -> AppError:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type:
            detail = cause.details[0] if cause.details else None
            if isinstance(detail, dict) and detail.get("field"):
                return AppError(cause.type, cause.message,
                                [{**detail, "message": cause.message}])
            return AppError(cause.type, cause.message)
        return AppError("validation_error", str(cause or exc))

    @staticmethod
    def _rpc_error(name: str, exc: RPCError) -> AppError:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return AppError("wrong_state", "This dispute is closed; it takes no more changes.")
        log.warning("update %s failed: %s", name, exc.status)
        return UNAVAILABLE
