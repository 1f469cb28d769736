"""Our cost on top of the engine: N full dispute lifecycles through HTTP against N bare
Temporal workflows with the same number of activities and updates doing nothing — same dev
server, same machine, same run.

    .venv/bin/python bench/bench_overhead.py [--n 200] [--concurrency 20]

Each lifecycle: intake over HTTP -> findings -> investigation (HTTP) -> two approval levels
(HTTP) -> posting. The bare workflow runs 11 no-op activities and 3 updates. Prints both
throughputs (lifecycles/s), the ratio ours/bare (target >= 0.8), and decision latency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from temporalio.worker import Worker

from bench import data, harness
from bench.bare_workflow import UPDATES, BareWorkflow, bare_noop
from cli.processes import free_port, start_dev_server
from config.temporal import connect
from db.migrate import upgrade
from tests.support.stack import Stack


async def bare(address: str, n: int, concurrency: int) -> float:
    client = await connect_plain(address)
    queue = f"bare-{uuid.uuid4().hex[:6]}"
    limit = asyncio.Semaphore(concurrency)
    with ThreadPoolExecutor(16) as pool:
        async with Worker(client, task_queue=queue, workflows=[BareWorkflow],
                          activities=[bare_noop], activity_executor=pool,
                          max_concurrent_activities=16):
            async def one(i: int) -> None:
                async with limit:
                    h = await client.start_workflow(BareWorkflow.run, id=f"bare-{queue}-{i}",
                                                    task_queue=queue)
                    for _ in range(UPDATES):
                        await h.execute_update(BareWorkflow.step)
                    await h.result()

            t = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(n)))
            return n / (time.perf_counter() - t)


async def connect_plain(address: str):  # type: ignore[no-untyped-def]
    from config.settings import Settings

    return await connect(Settings(temporal_address=address))


def ours(address: str, db_url: str, n: int, concurrency: int) -> tuple[float, list[float]]:
    # One account per dispute: on a single account the aggregation control would push the
    # later disputes into the four-level tier, and two approvals would not finish them.
    tokens = harness.seed(db_url, n)
    stack = Stack.create(temporal_address=address, db_url=db_url, admin_token="adm_" + "x" * 30)
    latencies: list[float] = []

    async def run() -> float:
        limit = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with limit, httpx.AsyncClient(base_url=stack.base_url, timeout=60) as c:
                def h(who: str) -> dict[str, str]:
                    return {"Authorization": f"Bearer {tokens[who]}"}

                r = await c.post("/api/v1/disputes", headers=h("cs"),
                                 json=data.dispute_body(i))
                did = r.json()["id"]
                while True:
                    r = await c.post(f"/api/v1/disputes/{did}/investigation", headers=h("an"),
                                     json=data.INVESTIGATION)
                    if r.status_code == 200:
                        break
                    await asyncio.sleep(0.05)
                for who in ("bm", "sbm"):
                    t = time.perf_counter()
                    r = await c.post(f"/api/v1/disputes/{did}/decision", headers=h(who),
                                     json={"decision": "approve"})
                    latencies.append((time.perf_counter() - t) * 1000)
                    assert r.status_code in (200, 202), r.text

        t = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t)

    try:
        return asyncio.run(run()), latencies
    finally:
        stack.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=20)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_dev_server(Path(tmp) / "t.db", port=free_port(), ui_port=None)
        try:
            db_url = f"sqlite:///{tmp}/bench.db"
            upgrade(db_url)
            print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python "
                  f"{platform.python_version()}; n={args.n}, concurrency={args.concurrency}, "
                  "database: SQLite (embedded default)")
            ours_rate, latencies = ours(server.address, db_url, args.n, args.concurrency)
            bare_rate = asyncio.run(bare(server.address, args.n, args.concurrency))
        finally:
            server.stop()
    latencies.sort()
    print(f"bare Temporal: {bare_rate:7.2f} lifecycles/s")
    print(f"Disputeflow:   {ours_rate:7.2f} lifecycles/s")
    print(f"ratio ours/bare: {ours_rate / bare_rate:.2f} (target >= 0.8)")
    print(f"decision latency under load: p50 {statistics.median(latencies):.0f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.0f} ms")


if __name__ == "__main__":
    main()
