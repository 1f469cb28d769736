"""Our cost on top of the engine: N full dispute lifecycles through HTTP against N bare
Temporal workflows with the same number of activities and updates doing nothing — same dev
server, same machine, same run, each in the production shape.

    .venv/bin/python bench/bench_overhead.py [--n 200] [--concurrency 20] [--url ...]

Each lifecycle: intake over HTTP -> findings -> investigation (HTTP) -> two approval levels
(HTTP) -> posted to the ledger, counted when the read model says "resolved". Ours runs as
``disputeflow up`` does (API and worker processes, PostgreSQL by default; ``--url
sqlite://`` for the embedded database). The bare workflow (bench/bare_workflow.py) runs 11
no-op activities and 3 updates, its worker likewise in its own process, driven from this
one. Prints both throughputs (lifecycles/s), the ratio ours/bare (target >= 0.8), and our
decision latency under that load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, select

from bench import harness
from bench.bare_workflow import UPDATES, BareWorkflow
from config.settings import Settings
from config.temporal import connect
from db.models import Dispute
from db.session import session_scope


async def rate(n: int, concurrency: int, one: Callable[[int], Awaitable[None]],
               done: Callable[[], Awaitable[None]] | None = None) -> float:
    """Lifecycles per second: ``one(i)`` for n of them, ``concurrency`` at a time, then
    ``done()`` (whatever must still finish) inside the clock."""
    t = time.perf_counter()
    await harness.bounded(range(n), concurrency, one)
    if done is not None:
        await done()
    return n / (time.perf_counter() - t)


async def ours(stack: harness.BenchStack, n: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency * 2)) as c:
        async def one(i: int) -> None:
            did = (await harness.open_pending(c, stack, i))["id"]
            for who in ("bm", "sbm"):
                t = time.perf_counter()
                r = await c.post(f"/api/v1/disputes/{did}/decision", headers=stack.headers(who),
                                 json={"decision": "approve"})
                latencies.append((time.perf_counter() - t) * 1000)
                if r.status_code not in (200, 202):
                    raise RuntimeError(f"decision on {did}: {r.status_code} {r.text}")

        async def all_resolved() -> None:  # a 202 means still posting: wait for the ledger
            while True:
                with session_scope(stack.db_url, readonly=True) as s:
                    resolved = s.scalar(select(func.count()).where(Dispute.status == "resolved"))
                    if (resolved or 0) >= n:
                        return
                await asyncio.sleep(0.05)

        return await rate(n, concurrency, one, all_resolved), latencies


async def bare(address: str, queue: str, n: int, concurrency: int) -> float:
    client = await connect(Settings(temporal_address=address))

    async def one(i: int) -> None:
        h = await client.start_workflow(BareWorkflow.run, id=f"{queue}-{i}", task_queue=queue)
        for _ in range(UPDATES):
            await h.execute_update(BareWorkflow.step)
        await h.result()

    return await rate(n, concurrency, one)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = p.parse_args()
    db_url = harness.fresh_database(args.url)
    with tempfile.TemporaryDirectory() as tmp:
        if db_url.startswith("sqlite"):
            db_url = f"sqlite:///{tmp}/bench.db"
        stack = harness.start(Path(tmp), db_url=db_url, accounts=args.n)
        print(harness.machine_line(n=args.n, concurrency=args.concurrency,
                                   database=db_url.split(":")[0]), flush=True)
        try:
            ours_rate, latencies = asyncio.run(ours(stack, args.n, args.concurrency))
            stack.stop_processes()  # nothing of ours runs beside the baseline
            queue = stack.start_bare_worker()
            bare_rate = asyncio.run(bare(stack.server.address, queue, args.n, args.concurrency))
        finally:
            stack.stop()
            harness.drop_database(args.url, db_url)
    print(f"bare Temporal: {bare_rate:7.2f} lifecycles/s")
    print(f"Disputeflow:   {ours_rate:7.2f} lifecycles/s")
    print(f"ratio ours/bare: {ours_rate / bare_rate:.2f} (target >= 0.8: "
          f"{'met' if ours_rate / bare_rate >= 0.8 else 'MISSED'})")
    print(f"decision latency under that load: p50 {harness.percentile(latencies, 50):.0f} ms, "
          f"p99 {harness.percentile(latencies, 99):.0f} ms")


if __name__ == "__main__":
    main()
