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
        # Short enough that the test waits only seconds in all, long enough that the timer
        # is certainly still pending when the server stops right after the submission.
        doc["levels"]["billing_manager"]["sla"] = "PT3S"
        assert stack.http(admin_token).put("/api/v1/policy", json=doc).status_code == 200
        cs = as_user(stack, people, "cs")
        dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
        wait_for(cs, dispute_id, lambda v: v["findings_ready"], timeout=30)
        r = as_user(stack, people, "analyst").post(
            f"/api/v1/disputes/{dispute_id}/investigation", json=CREDIT)
        assert r.status_code == 200, r.text

        before = cs.get(f"/api/v1/disputes/{dispute_id}").json()
        assert before["approvals"][0]["status"] == "pending", before["approvals"]
        # The level's timer is pending in Temporal's persistence; it falls due while the
        # server is down or restarting, and must fire once the server is back.
        server.stop()
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
        # The outage is 20 s of wall time: spend it checking that the API keeps
        # answering 503, not asleep.
        while time.monotonic() - started < 20:
            assert stack.http().get("/healthz").status_code == 503
            time.sleep(0.5)
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
