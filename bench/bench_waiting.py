"""Waiting at scale: many disputes open with pending approval timers — the worker's resident
memory (the workflow cache is bounded, so it must not grow with them) and how late a breach
is recorded after its deadline while they wait.

    .venv/bin/python bench/bench_waiting.py [--disputes 10000] [--probes 200] [--url ...]

The production shape (bench/harness.py) on PostgreSQL. Phase 1 brings ``--disputes`` disputes
to "pending approval" (their level timers run for business days) and samples the worker's
resident memory as they pile up. Phase 2 applies a policy whose first approval level is due
after ``--sla`` seconds (``calendar: always``) and brings ``--probes`` more disputes to that
level at a steady pace, so their deadlines fall due one by one among the waiting ones; the
benchmark polls the breach table every 0.1 s and prints, per breach, how long after its
deadline it was visible (the 0.1 s polling interval is included). Targets: worker memory
< 600 MB, breach lag p99 < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import select

from approvals.default_policy import DEFAULT_POLICY_DOCUMENT
from bench import harness
from config.settings import Settings
from db.models import SlaBreach
from db.session import session_scope


async def bring(c: httpx.AsyncClient, stack: harness.BenchStack, ids: range,
                concurrency: int) -> None:
    await harness.bounded(ids, concurrency, lambda i: harness.open_pending(c, stack, i))


def breaches_seen(db_url: str, seen: dict[tuple[str, str], float]) -> None:
    """Record the first time each approval-level breach is visible, as lag after due."""
    with session_scope(db_url, readonly=True) as s:
        rows = s.execute(select(SlaBreach.dispute_id, SlaBreach.clock, SlaBreach.due_at)
                         .where(SlaBreach.clock.like("approval_%"))).all()
    now = datetime.now(UTC)
    for dispute_id, clock, due_at in rows:
        key = (dispute_id, clock)
        if key not in seen:
            due = due_at if due_at.tzinfo else due_at.replace(tzinfo=UTC)
            seen[key] = (now - due).total_seconds()


async def run(stack: harness.BenchStack, args: argparse.Namespace) -> None:
    worker = stack.procs["worker"].pid
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as c:
        t, step = time.perf_counter(), max(1, args.disputes // 5)
        for start in range(0, args.disputes, step):
            await bring(c, stack, range(start, min(args.disputes, start + step)), 20)
            rss, peak = harness.rss_mib(worker)
            print(f"  {min(args.disputes, start + step):>6} disputes waiting: worker resident "
                  f"{rss:5.0f} MiB (peak {peak:5.0f} MiB), "
                  f"{time.perf_counter() - t:5.0f} s", flush=True)
        doc = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
        doc["calendar"] = "always"
        doc["levels"]["billing_manager"]["sla"] = f"PT{args.sla}S"
        r = await c.put("/api/v1/policy", headers=stack.headers("admin"), json=doc)
        r.raise_for_status()
        seen: dict[tuple[str, str], float] = {}
        pace = 1 / args.rate
        probes = range(args.disputes, args.disputes + args.probes)
        started = time.perf_counter()

        async def paced() -> None:
            tasks = []
            for n, i in enumerate(probes):
                await asyncio.sleep(max(0.0, started + n * pace - time.perf_counter()))
                tasks.append(asyncio.create_task(bring(c, stack, range(i, i + 1), 1)))
            await asyncio.gather(*tasks)

        feeding = asyncio.create_task(paced())
        deadline = time.perf_counter() + args.probes / args.rate + args.sla + 120
        while len(seen) < args.probes and time.perf_counter() < deadline:
            await asyncio.to_thread(breaches_seen, stack.db_url, seen)
            await asyncio.sleep(0.1)
        await feeding
    rss, peak = harness.rss_mib(worker)
    lags = list(seen.values())
    print(f"worker resident memory with {args.disputes + args.probes} disputes open: "
          f"{rss:.0f} MiB now, {peak:.0f} MiB peak (target < 600 MB: "
          f"{'met' if peak < 600 else 'MISSED'})")
    if lags:
        p99 = harness.percentile(lags, 99)
        print(f"breach visible after its deadline ({len(lags)}/{args.probes} breaches): p50 "
              f"{harness.percentile(lags, 50):.2f} s, p99 {p99:.2f} s, max {max(lags):.2f} s "
              f"(target p99 < 1 s: {'met' if p99 < 1 else 'MISSED'})")
    else:
        print("no breach was seen: MISSED")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--disputes", type=int, default=10_000)
    p.add_argument("--probes", type=int, default=200)
    p.add_argument("--rate", type=float, default=2.0, help="probe disputes per second")
    p.add_argument("--sla", type=int, default=60, help="probe level deadline, seconds")
    p.add_argument("--url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = p.parse_args()
    db_url = harness.fresh_database(args.url)
    cache = os.environ.get("DISPUTEFLOW_MAX_CACHED_WORKFLOWS", str(
        Settings.model_fields["disputeflow_max_cached_workflows"].default))
    with tempfile.TemporaryDirectory() as tmp:
        if db_url.startswith("sqlite"):
            db_url = f"sqlite:///{tmp}/bench.db"
        stack = harness.start(Path(tmp), db_url=db_url, accounts=args.disputes + args.probes,
                              env={"DISPUTEFLOW_MAX_CACHED_WORKFLOWS": cache})
        print(harness.machine_line(disputes=args.disputes, probes=args.probes,
                                   probe_rate=args.rate, probe_sla_s=args.sla,
                                   max_cached_workflows=cache,
                                   database=db_url.split(":")[0]), flush=True)
        try:
            asyncio.run(run(stack, args))
        finally:
            stack.stop()
            harness.drop_database(args.url, db_url)


if __name__ == "__main__":
    main()
