"""The Temporal worker: runs dispute workflows and their activities.

Stateless apart from a bounded workflow cache, so production runs as many as it needs
against one Temporal cluster and one PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prometheus_client import start_http_server
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities import all_activities
from activities.connectors import ledger_for
from activities.context import ActivityContext
from activities.mail_dispatch import MailDispatcher
from activities.outbox_loop import OutboxLoop
from activities.slack import SlackActivities
from activities.slack_dispatch import SlackDispatcher
from activities.webhook_dispatch import WebhookDispatcher
from config import event_loop, logs
from config.heap import CollectOnGrowth, freeze_startup_objects
from config.prometheus import DatabaseGauges, SdkMetrics, registry
from config.sandbox import workflow_runner
from config.settings import Settings, get_settings
from config.temporal import connect
from workflows.registry import WORKFLOWS

log = logging.getLogger("disputeflow.worker")
# On SIGTERM (a deploy, a scale-down) running activities get this long to finish before
# they are cancelled; they are short, and a finished ledger posting is better than a retried
# one. Keep the orchestrator's grace period (Kubernetes: 30 s by default) above it.
GRACEFUL_SHUTDOWN = timedelta(seconds=10)
# A dispute's next task goes first to the queue of the worker that has it cached; if that
# worker died (SIGKILL, a lost node), the server moves the task to the shared queue after
# this long. The SDK's 10 s default made the first decision after a restart wait out the
# API's whole update timeout; a live worker takes its sticky tasks in milliseconds.
STICKY_QUEUE_TIMEOUT = timedelta(seconds=1)


@dataclass
class Dispatchers:
    """The outbox dispatchers a worker process runs beside its Temporal worker: webhooks
    always, Slack's with Slack on, mail's with DISPUTEFLOW_SMTP_URL set."""

    webhooks: WebhookDispatcher
    slack: SlackDispatcher | None = None
    mail: MailDispatcher | None = None

    @classmethod
    def of(cls, settings: Settings) -> Dispatchers:
        slack = SlackDispatcher(SlackActivities(settings)) if settings.slack_enabled else None
        hooks = WebhookDispatcher(settings.database_url, retry_for=settings.webhook_retry_for,
                                  first_retry=settings.webhook_first_retry)
        mail = None
        if (mail_out := settings.mail_out) is not None:
            server, sender = mail_out
            mail = MailDispatcher(settings.database_url, server=server, sender=sender,
                                  attachment=printed_memos(settings),
                                  first_retry=settings.mail_first_retry)
        return cls(hooks, slack, mail)

    def all(self) -> list[OutboxLoop[Any]]:
        return [d for d in (self.slack, self.webhooks, self.mail) if d is not None]


def printed_memos(settings: Settings) -> Callable[[str], bytes]:
    """A credit memo's PDF for its resolution letter: the same document the pages and the
    API print, times in the policy calendar's zone."""

    def pdf(number: str) -> bytes:
        from api.memo_document import render_pdf  # WeasyPrint: only when a letter needs it

        return render_pdf(settings, number)

    return pdf


def build_worker(
    client: Client, settings: Settings, executor: ThreadPoolExecutor, *,
    task_queue: str | None = None, dispatchers: Dispatchers | None = None,
) -> Worker:
    """The Temporal worker alone; :func:`running` adds the dispatchers it needs."""
    d = dispatchers
    ctx = ActivityContext(db_url=settings.database_url,
                          delivery_tolerance=settings.disputeflow_delivery_tolerance,
                          slack_outbox=settings.slack_enabled,
                          on_slack_steps=d.slack.wake if d and d.slack else None,
                          on_webhook_events=d.webhooks.wake if d else None,
                          letters=settings.mail_enabled,
                          issuer_name=settings.disputeflow_issuer_name,
                          on_letters=d.mail.wake if d and d.mail else None,
                          ledger=ledger_for(settings))
    slack = d.slack.slack if d and d.slack else SlackActivities(settings)  # one Slack client
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(client.data_converter),
        activities=[*all_activities(ctx), slack.slack_prompt_level, slack.slack_level_decided,
                    slack.slack_thread_note, slack.slack_alert_managers, slack.slack_steps],
        activity_executor=executor,
        max_concurrent_activities=getattr(executor, "_max_workers", 16),
        max_cached_workflows=settings.disputeflow_max_cached_workflows,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        sticky_queue_schedule_to_start_timeout=STICKY_QUEUE_TIMEOUT,
    )


@asynccontextmanager
async def running(
    client: Client, settings: Settings, executor: ThreadPoolExecutor, *,
    task_queue: str | None = None,
) -> AsyncIterator[Worker]:
    """The Temporal worker with the outbox dispatchers beside it: what a worker process runs
    (tests run the same)."""
    dispatchers = Dispatchers.of(settings)
    worker = build_worker(client, settings, executor, task_queue=task_queue,
                          dispatchers=dispatchers)
    async with worker:
        stop = asyncio.Event()
        # Rows being sent at shutdown get the activities' grace period (OutboxLoop.serve).
        grace = GRACEFUL_SHUTDOWN.total_seconds()
        sending = [asyncio.create_task(d.serve(stop, grace=grace)) for d in dispatchers.all()]
        try:
            yield worker
        finally:
            stop.set()
            await asyncio.gather(*sending)
            dispatchers.webhooks.close()


def metrics_runtime(settings: Settings) -> Runtime | None:
    """With DISPUTEFLOW_WORKER_METRICS_PORT set: serve Prometheus metrics there — the outbox
    backlogs, postings failed and breaches (config/prometheus.py), and the Temporal SDK's
    own, which its runtime exports on a loopback port this process re-exposes. The runtime
    the client must be made with, or None without metrics."""
    port = settings.disputeflow_worker_metrics_port
    if port is None:
        return None
    with socket.socket() as probe:  # a free loopback port for the SDK's exporter
        probe.bind(("127.0.0.1", 0))
        sdk_port = probe.getsockname()[1]
    runtime = Runtime(telemetry=TelemetryConfig(
        metrics=PrometheusConfig(bind_address=f"127.0.0.1:{sdk_port}")))
    start_http_server(port, registry=registry(
        DatabaseGauges(settings.database_url), SdkMetrics(f"http://127.0.0.1:{sdk_port}/metrics")))
    log.info("worker metrics on port %d", port)
    return runtime


async def run_worker(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    client = await connect(settings, metrics_runtime(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    heap = CollectOnGrowth()  # full GC passes on real growth only (config/heap.py)
    heap.install()
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="activity") as executor:
        log.info("worker polling task queue %s on %s", settings.temporal_task_queue,
                 settings.temporal_address)
        async with running(client, settings, executor):
            await heap.run(stop)  # returns once stop is set
        log.info("worker stopped")


def main() -> None:
    """The worker process: runs until SIGTERM/SIGINT, then exits 0 once shut down."""
    logs.configure(get_settings().disputeflow_log_format)
    freeze_startup_objects()
    event_loop.run(run_worker())
    # Everything has stopped by now. The Temporal SDK's Rust threads can outlive the event
    # loop, and Python's own teardown then aborts now and then ("Fatal Python error:
    # PyGILState_Release", exit 134: temporalio/sdk-python#300) — which an orchestrator
    # counts as a crash on every deploy. Skip that teardown, once the logs are flushed.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
