"""Prometheus metrics shared by the API and the worker: a registry per process part (never the
client library's global one, so several apps in one process — the tests — do not collide),
and the collector of the database-backed gauges both expose.

The worker's endpoint (DISPUTEFLOW_WORKER_METRICS_PORT) also carries the Temporal SDK's own
metrics: its runtime exports them on a loopback port only this process knows, and
:class:`SdkMetrics` re-exposes them, so one scrape target per worker has both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from db import monitoring
from db.session import session_scope

log = logging.getLogger("disputeflow.metrics")


class DatabaseGauges(Collector):
    """Outbox backlogs (Slack, webhooks, mail), postings the ledger refused and SLA breaches, read
    at scrape time."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    def describe(self) -> list[Metric]:
        return []  # nothing read at registration: the database may not be up yet

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("disputeflow_database_up",
                               "1 when the database answered this scrape's reads")
        try:
            with session_scope(self.db_url, readonly=True) as session:
                values = monitoring.gauges(session)
        except Exception as exc:  # the scrape still answers: the database is down
            log.warning("metrics: database unavailable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        backlog = GaugeMetricFamily("disputeflow_outbox_backlog",
                                    "Messages written but not yet sent, per outbox",
                                    labels=["outbox"])
        for outbox, count in values["outbox_backlog"].items():
            backlog.add_metric([outbox], count)
        yield backlog
        yield GaugeMetricFamily("disputeflow_webhook_deliveries_failed",
                                "Webhook deliveries that gave up (an admin redelivers them)",
                                value=values["webhook_deliveries_failed"])
        yield GaugeMetricFamily("disputeflow_postings_failed",
                                "Credit memos the ledger refused, waiting for a re-post",
                                value=values["postings_failed"])
        yield GaugeMetricFamily("disputeflow_sla_breaches_open",
                                "SLA clocks breached and still running",
                                value=values["breaches_open"])
        yield GaugeMetricFamily("disputeflow_sla_breaches",
                                "SLA clocks ever breached", value=values["breaches_total"])


class SdkMetrics(Collector):
    """The Temporal SDK's metrics, read from its runtime's loopback exporter at each scrape."""

    def __init__(self, url: str) -> None:
        self.url = url

    def describe(self) -> list[Metric]:
        return []  # the SDK's names are whatever its exporter shows at scrape time

    def collect(self) -> Iterator[Metric]:
        try:
            text = httpx.get(self.url, timeout=5).text
        except httpx.HTTPError as exc:
            log.warning("metrics: the Temporal SDK's exporter did not answer (%s)",
                        type(exc).__name__)
            return
        yield from text_string_to_metric_families(text)


def registry(*collectors: Collector) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=True)
    for collector in collectors:
        reg.register(collector)
    return reg
