"""Prometheus metrics, scraped over HTTP as Prometheus does: the API's requests by route and
status, decisions by channel and outcome, the outboxes' backlogs, postings the ledger refused
and open SLA breaches; the worker's endpoint with the Temporal SDK's own metrics beside ours."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from cli.processes import DevServer, free_port
from config.settings import Settings
from config.temporal import connect
from db.models import CreditMemo, SlaBreach
from db.session import session_scope
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, wait_for
from tests.support.stack import Stack
from worker import metrics_runtime, running

pytestmark = pytest.mark.e2e


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by name and sorted labels."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scrape: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def stack(dev_server: DevServer, db_url: str, admin_token: str,
          people: People) -> Iterator[Stack]:
    s = Stack.create(temporal_address=dev_server.address, db_url=db_url,
                     admin_token=admin_token, disputeflow_metrics_token="scrape-0123456789ab")
    yield s
    s.stop()


def scrape(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = stack.http("scrape-0123456789ab").get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


def test_the_api_counts_requests_decisions_backlogs_and_breaches(
        stack: Stack, people: People, admin_token: str) -> None:
    assert stack.http().get("/metrics").status_code == 401  # the token is asked for
    before = scrape(stack)
    cs, bm = as_user(stack, people, "cs"), as_user(stack, people, "bm")
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    r = as_user(stack, people, "analyst").post(
        f"/api/v1/disputes/{dispute_id}/investigation", json={
            "root_cause": "rate_card", "resolution": "full_credit",
            "credit_lines": [{"line_id": "L1", "amount": "250.00"}]})
    assert r.status_code == 200, r.text
    assert cs.post(f"/api/v1/disputes/{dispute_id}/decision",
                   json={"decision": "approve"}).status_code == 403  # the opener: refused
    assert bm.post(f"/api/v1/disputes/{dispute_id}/decision",
                   json={"decision": "approve"}).status_code == 200
    stack.http(admin_token).post("/api/v1/webhooks", json={  # a receiver nobody runs
        "url": f"http://127.0.0.1:{free_port()}/hooks", "events": ["dispute.opened"]})
    cs.post("/api/v1/disputes", json=dispute_body(invoice_number="INV-BIG", line_ids=["B1"]))
    with session_scope(stack.settings.database_url) as s:  # what managers must notice
        s.execute(update(CreditMemo).values(status="posting_failed"))
        s.add(SlaBreach(dispute_id=dispute_id, clock="investigate",
                        due_at=datetime(2026, 12, 1, tzinfo=UTC),
                        breached_at=datetime(2026, 12, 1, tzinfo=UTC), stopped_at=None,
                        assignee_role="analyst", amount_minor=25000, currency="USD"))

    after = scrape(stack)
    route = "/api/v1/disputes/{dispute_id}"
    assert value(after, "disputeflow_http_requests_total", method="GET", route=route,
                 status="200") > value(before, "disputeflow_http_requests_total",
                                       method="GET", route=route, status="200")
    decided = {"channel": "api", "outcome": "decided"}
    assert value(after, "disputeflow_decision_duration_seconds_count", **decided) == 1
    assert value(after, "disputeflow_decision_duration_seconds_count",
                 channel="api", outcome="refused") == 1
    assert value(after, "disputeflow_decision_duration_seconds_sum", **decided) > 0
    assert value(after, "disputeflow_outbox_backlog", outbox="webhooks") >= 1
    assert value(after, "disputeflow_postings_failed") == 1
    assert value(after, "disputeflow_sla_breaches_open") == 1
    assert value(after, "disputeflow_database_up") == 1
    # Ids never become labels: one series per route template.
    assert not any(dispute_id in str(key) for key in after)


def test_the_worker_serves_the_sdks_metrics_beside_ours(dev_server: DevServer,
                                                        db_url: str) -> None:
    port = free_port()
    settings = Settings(database_url=db_url, temporal_address=dev_server.address,
                        temporal_task_queue="metrics-test", disputeflow_worker_metrics_port=port)

    async def run() -> str:
        client = await connect(settings, metrics_runtime(settings))
        with ThreadPoolExecutor(4) as pool:
            async with running(client, settings, pool):
                await asyncio.sleep(1.5)  # the worker polls its queues meanwhile
                async with httpx.AsyncClient() as http:
                    return (await http.get(f"http://127.0.0.1:{port}/metrics")).text

    scraped = samples(asyncio.run(run()))
    names = {name for name, _ in scraped}
    assert any(n.startswith("temporal_") for n in names), sorted(names)[:20]
    assert value(scraped, "disputeflow_outbox_backlog", outbox="slack") == 0
    assert ("disputeflow_outbox_backlog", (("outbox", "mail"),)) in scraped
    assert value(scraped, "disputeflow_database_up") == 1
