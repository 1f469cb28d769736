"""Temporal restarted with disputes waiting on timers; the database unreachable for 20 s."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from approvals.default_policy import DEFAULT_POLICY_DOCUMENT
from cli.processes import free_port, start_dev_server
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, wait_for
from tests.faults.conftest import WorkerProcess
from tests.support.databases import PG_URL
from tests.support.stack import Stack
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.faults
CREDIT = {"root_cause": "rate_card", "resolution": "partial_credit",
          "credit_lines": [{"line_id": "L1", "amount": "250.00"}]}


def test_timers_fire_after_the_temporal_server_restarts(
    db_url: str, people: People, admin_token: str, tmp_path: Path
) -> None:
    port = free_port()
    server = start_dev_server(tmp_path / "temporal.db", port=port, ui_port=None,
                              log_file=tmp_path / "temporal.log")
    stack = Stack.create(temporal_address=server.address, db_url=db_url,
                         admin_token=admin_token, with_worker=False)
    worker = WorkerProcess(stack, tmp_path).start()
    try:
        doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
        doc["calendar"] = "always"
        doc["levels"]["billing_manager"]["sla"] = "PT6S"
        assert stack.http(admin_token).put("/api/v1/policy", json=doc).status_code == 200
        cs = as_user(stack, people, "cs")
        dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
        wait_for(cs, dispute_id, lambda v: v["findings_ready"], timeout=30)
        r = as_user(stack, people, "analyst").post(
            f"/api/v1/disputes/{dispute_id}/investigation", json=CREDIT)
        assert r.status_code == 200, r.text

        server.stop()  # the level's 6 s timer is pending in Temporal's persistence
        time.sleep(8)
        server = start_dev_server(tmp_path / "temporal.db", port=port, ui_port=None,
                                  log_file=tmp_path / "temporal.log")
        view = wait_for(cs, dispute_id, lambda v: v["approvals"][0]["status"] == "escalated",
                        timeout=60)
        assert view["sla"][next(k for k in view["sla"] if k.startswith("approval_"))]["breached"]
        # Just after a restart the server may not list the worker's pollers yet: the API
        # says 503 worker_unavailable (nothing applied) and a client retries.
        for _ in range(40):
            r = as_user(stack, people, "bm").post(f"/api/v1/disputes/{dispute_id}/decision",
                                                  json={"decision": "approve"})
            if r.status_code != 503:
                break
            time.sleep(0.5)
        assert r.status_code in (200, 202), r.text
        wait_for(cs, dispute_id, lambda v: v["status"] == "resolved", timeout=30)
    finally:
        worker.stop()
        stack.stop()
        server.stop()


@pytest.mark.skipif(not PG_URL, reason="a network database outage needs PostgreSQL "
                    "(make test-postgres runs it)")
def test_database_unreachable_for_20_seconds(
    dev_server: Any, db_url: str, people: People, admin_token: str, tmp_path: Path
) -> None:
    parsed = make_url(db_url)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    proxied = parsed.set(port=proxy.port).render_as_string(hide_password=False)
    stack = Stack.create(temporal_address=dev_server.address, db_url=proxied,
                         admin_token=admin_token)
    try:
        cs = as_user(stack, people, "cs")
        first = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
        wait_for(cs, first, lambda v: v["findings_ready"], timeout=30)
        r = as_user(stack, people, "analyst").post(f"/api/v1/disputes/{first}/investigation",
                                                   json=CREDIT)
        assert r.status_code == 200
        proxy.down()
        started = time.monotonic()
        health = stack.http().get("/healthz")
        assert health.status_code == 503 and health.json()["database"] == "unavailable"
        r = cs.post("/api/v1/disputes", json=dispute_body(disputed_amount="5.00"),
                    headers={"Idempotency-Key": "during-outage"})
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "database_unavailable"
        time.sleep(max(0.0, 20 - (time.monotonic() - started)))
        proxy.up()

        assert stack.http().get("/healthz").status_code == 200
        retry = cs.post("/api/v1/disputes", json=dispute_body(disputed_amount="5.00"),
                        headers={"Idempotency-Key": "during-outage"})
        assert retry.status_code == 201, retry.text
        r = as_user(stack, people, "bm").post(f"/api/v1/disputes/{first}/decision",
                                              json={"decision": "approve"})
        assert r.status_code in (200, 202), r.text
        wait_for(cs, first, lambda v: v["status"] == "resolved", timeout=60)
        wait_for(cs, retry.json()["id"], lambda v: v["findings_ready"], timeout=60)
    finally:
        stack.stop()
        proxy.close()
