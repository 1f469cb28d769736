"""The production shape: two API processes and two workers (separate OS processes, all
stateless) against one Temporal and one PostgreSQL. Hundreds of concurrent lifecycles
complete; no credit memo is posted twice; the audit chain is one unbroken chain."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cli.processes import free_port, stop_process, wait_for_port
from db import audit
from db.models import Dispute, LedgerPosting
from db.session import session_scope
from tests.conftest import People
from tests.support.databases import PG_URL

pytestmark = [pytest.mark.faults,
              pytest.mark.skipif(not PG_URL, reason="the scale-out shape runs on PostgreSQL "
                                 "(make test-postgres)")]
LIFECYCLES = int(os.environ.get("DISPUTEFLOW_SCALE_LIFECYCLES", "500"))


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "cli.main", *args], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


async def _lifecycle(base: str, tokens: dict[str, str], i: int,
                     limit: asyncio.Semaphore) -> str:
    def h(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[who]}"}

    async with limit, httpx.AsyncClient(base_url=base, timeout=60) as c:
        r = await c.post("/api/v1/disputes", headers={**h("cs"), "Idempotency-Key": f"k{i}"},
                         json={"account_id": "ADV-1", "invoice_number": "INV-BIG",
                               "currency": "USD", "disputed_amount": "1.00",
                               "reason_code": "other", "description": f"scale {i}",
                               "line_ids": ["B1"]})
        assert r.status_code == 201, r.text
        dispute_id = r.json()["id"]
        for _ in range(600):
            r = await c.post(f"/api/v1/disputes/{dispute_id}/investigation", headers=h("analyst"),
                             json={"root_cause": "other", "resolution": "full_credit",
                                   "credit_lines": [{"line_id": "B1", "amount": "1.00"}]})
            if r.status_code == 200:
                break
            assert r.status_code in (409, 503), r.text  # findings still running / busy
            await asyncio.sleep(0.1)
        # Approvers alternate so the aggregated window never needs a second level.
        who = "bm" if i % 2 else "bm2"
        for _ in range(100):
            r = await c.post(f"/api/v1/disputes/{dispute_id}/decision", headers=h(who),
                             json={"decision": "approve"})
            if r.status_code in (200, 202):
                break
            assert r.status_code == 503, r.text
            await asyncio.sleep(0.2)
        return dispute_id


def test_two_apis_two_workers_many_lifecycles(
    dev_server: Any, db_url: str, people: People, admin_token: str, tmp_path: Path
) -> None:
    import copy

    from approvals.default_policy import DEFAULT_POLICY_DOCUMENT
    from db import policies

    doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    doc["tiers"] = [{"min": "0", "levels": ["billing_manager"]}]  # 500 credits aggregate
    with session_scope(db_url) as s:
        policies.apply(s, document=doc, actor="test")
    queue = f"scale-{free_port()}"
    ports = [free_port(), free_port()]
    base_env = {**os.environ, "DATABASE_URL": db_url, "TEMPORAL_ADDRESS": dev_server.address,
                "TEMPORAL_TASK_QUEUE": queue, "DISPUTEFLOW_ADMIN_TOKEN": admin_token,
                "DISPUTEFLOW_UPDATE_TIMEOUT_S": "30",
                # Four processes x (5 + 10) stay under the server's max_connections (100),
                # as the README's sizing rule says replicas must (the deploy examples' pool).
                "DISPUTEFLOW_DB_POOL_SIZE": "5", "DISPUTEFLOW_DB_MAX_OVERFLOW": "10"}
    procs = [_spawn(["worker"], base_env, tmp_path / f"worker{i}.log") for i in range(2)]
    procs += [_spawn(["api"], {**base_env, "DISPUTEFLOW_API_PORT": str(p)},
                     tmp_path / f"api{p}.log") for p in ports]
    try:
        for p in ports:
            wait_for_port("127.0.0.1", p, timeout=60, what="API")

        async def run_all() -> list[str]:
            limit = asyncio.Semaphore(50)
            return await asyncio.gather(*(
                _lifecycle(f"http://127.0.0.1:{ports[i % 2]}", people.tokens, i, limit)
                for i in range(LIFECYCLES)))

        ids = asyncio.run(run_all())
        assert len(set(ids)) == LIFECYCLES

        async def settled() -> int:
            for _ in range(600):
                with session_scope(db_url) as s:
                    done = s.scalar(select(func.count()).select_from(Dispute)
                                    .where(Dispute.status == "resolved")) or 0
                if done == LIFECYCLES:
                    return done
                await asyncio.sleep(0.2)
            return done

        assert asyncio.run(settled()) == LIFECYCLES
        with session_scope(db_url) as s:
            postings = s.execute(select(LedgerPosting.memo_number, func.count())
                                 .group_by(LedgerPosting.memo_number)).all()
            verified = audit.verify(s)
        assert len(postings) == LIFECYCLES and all(n == 1 for _, n in postings)
        assert verified.ok, verified
    finally:
        for proc in procs:
            stop_process(proc)
