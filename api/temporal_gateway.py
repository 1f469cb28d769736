"""The API's one Temporal client and what it does with it: start a dispute, send an
Update (or ask a query) and wait a bounded time, and tell whether Temporal and a worker are
there. Workflow, Updates and queries are named by their typed references
(``DisputeWorkflow.decide``), never by strings.

Every Temporal failure becomes an AppError the caller understands; nothing is half-done:
intake starts the workflow before writing anything, and Update ids are chosen by the
command layer (``api/commands/update_ids.py``) so a replayed request is applied once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.errors import AppError
from config.settings import Settings
from config.temporal import connect
from domain.models import DisputeOpened, UpdateResult, WorkflowInput
from workflows.dispute import DisputeWorkflow

log = logging.getLogger("disputeflow.temporal")
WORKER_SEEN_WITHIN = timedelta(seconds=90)
WORKER_CHECK_CACHE_S = 5.0
# Past the update timeout, an Update not yet accepted is still waited for while a worker
# keeps polling (a worker just restarted replays the dispute first), up to this many times
# the timeout in all.
WAIT_WHILE_POLLING = 3
A = TypeVar("A")
R = TypeVar("R")
# A DisputeWorkflow Update taking A (e.g. ``DisputeWorkflow.decide``); each answers an
# UpdateResult. A query of it taking A and answering R.
Update = UpdateMethodMultiParam[[DisputeWorkflow, A], Any]
Query = Callable[[DisputeWorkflow, A], R]

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
                DisputeWorkflow.run, WorkflowInput(opened=opened), id=opened.dispute_id,
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

    async def worker_present(self, *, polled_since: datetime | None = None) -> bool:
        """Is a worker polling? A positive answer is reused for a few seconds (one RPC per
        decision would double its latency); a negative one is always re-checked. With
        ``polled_since``: has a worker polled since then (always asked afresh)?"""
        loop = asyncio.get_running_loop()
        if polled_since is None and loop.time() - self._worker_seen_at < WORKER_CHECK_CACHE_S:
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
        since = polled_since or datetime.now(UTC) - WORKER_SEEN_WITHIN
        present = any(p.last_access_time.ToDatetime(UTC) > since for p in resp.pollers)
        if present and polled_since is None:
            self._worker_seen_at = loop.time()
        return present

    async def update(
        self, dispute_id: str, update: Update[A], arg: A, *, update_id: str
    ) -> UpdateResult | None:
        """Run an Update; validator and handler refusals come back as AppErrors.

        Two bounded waits: for a worker to *accept* the Update (until then nothing is
        applied, and resending the same request is safe) — extended while a worker keeps
        polling, since one that just started replays the dispute before it can — then for
        its result. Accepted means durable: if the result is slow (say the ledger is), None
        is returned and the caller says the request was accepted and is still being
        processed.
        """
        if not await self.worker_present():
            raise AppError("worker_unavailable",
                           "No worker is running to process this request; nothing was changed. "
                           "Try again once a worker is up.")
        client = await self.client()
        handle = client.get_workflow_handle(dispute_id)
        timeout = self.settings.disputeflow_update_timeout_s
        loop = asyncio.get_running_loop()
        started, sent_at = loop.time(), datetime.now(UTC)
        accepting = asyncio.ensure_future(handle.start_update(
            update, arg, id=update_id, wait_for_stage=WorkflowUpdateStage.ACCEPTED))
        try:
            for attempt in range(WAIT_WHILE_POLLING):
                done, _ = await asyncio.wait({accepting}, timeout=timeout)
                if done or attempt == WAIT_WHILE_POLLING - 1:
                    break
                if not await self.worker_present(polled_since=sent_at):
                    break
            if not accepting.done():
                raise TimeoutError
            accepted: WorkflowUpdateHandle[UpdateResult] = accepting.result()
        except WorkflowUpdateFailedError as exc:
            raise self._refusal(exc) from None
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise AppError(
                "worker_unavailable",
                f"No worker took this within {loop.time() - started:.0f} s. It is not applied "
                "now, but the engine may still apply it once a worker runs (never twice). "
                "Look at the dispute before sending it again; a request sent with an "
                "Idempotency-Key can be sent again with the same key to learn its "
                "outcome.") from None
        except RPCError as exc:
            raise self._rpc_error(exc) from None
        finally:
            if not accepting.done():  # given up on, or the caller went away
                accepting.cancel()
        remaining = max(1.0, timeout - (loop.time() - started))
        try:
            return await asyncio.wait_for(accepted.result(), timeout=remaining)
        except WorkflowUpdateFailedError as exc:
            raise self._refusal(exc) from None
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            return None  # accepted and durable; still working (e.g. posting to the ledger)
        except RPCError as exc:
            raise self._rpc_error(exc) from None

    async def query(self, dispute_id: str, query: Query[A, R], arg: A) -> R:
        """Ask the dispute's workflow (a worker answers from its state), in bounded time."""
        if not await self.worker_present():
            raise AppError("worker_unavailable", "No worker is running to answer; nothing was "
                           "changed. Try again once a worker is up.")
        handle = (await self.client()).get_workflow_handle(dispute_id)
        try:
            return await asyncio.wait_for(handle.query(query, arg),
                                          timeout=self.settings.disputeflow_update_timeout_s)
        except TimeoutError:
            raise AppError("worker_unavailable", "No worker answered in time; nothing was "
                           "changed. Try again shortly.") from None
        except (WorkflowQueryFailedError, WorkflowQueryRejectedError) as exc:
            # A worker of an older build without this query (a rolling deploy), or one that
            # failed answering it: the caller can still act, only without asking first.
            log.warning("query of %s failed: %s", dispute_id, type(exc).__name__)
            raise AppError("worker_unavailable", "The workflow could not answer just now; "
                           "nothing was changed. Try again shortly.") from None
        except RPCError as exc:
            raise self._rpc_error(exc) from None

    @staticmethod
    def _refusal(exc: WorkflowUpdateFailedError) -> AppError:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type:
            detail = cause.details[0] if cause.details else None
            if isinstance(detail, dict) and detail.get("field"):
                return AppError(cause.type, cause.message,
                                [{**detail, "message": cause.message}])
            if isinstance(detail, dict):  # the facts behind the refusal (a decided level)
                return AppError(cause.type, cause.message, detail)
            return AppError(cause.type, cause.message)
        return AppError("validation_error", str(cause or exc))

    @staticmethod
    def _rpc_error(exc: RPCError) -> AppError:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return AppError("wrong_state", "This dispute is closed; it takes no more changes.")
        log.warning("a call to the dispute workflow failed: %s", exc.status)
        return UNAVAILABLE
