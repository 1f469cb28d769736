"""Our cost on top of the engine: N full dispute lifecycles through HTTP against N bare
Temporal workflows with the same number of activities and updates doing nothing — same dev
server, same machine, same run, each in the production shape.

    .venv/bin/python bench/bench_overhead.py [--n 200] [--concurrency 20] [--rounds 4]
                                             [--decisions 200] [--decision-concurrency 1]
                                             [--url ...]

Each lifecycle: intake over HTTP -> findings -> investigation (HTTP) -> two approval levels
(HTTP) -> posted to the ledger, counted when the read model says "resolved". Ours runs as
``disputeflow up`` does (API and worker processes, PostgreSQL by default; ``--url
sqlite://`` for the embedded database). The bare workflow (bench/bare_workflow.py) runs 11
no-op activities and 3 updates, its worker likewise in its own process, driven from this
one. The floor (bench/floor.py) is that lifecycle as the least durable product would run it:
started and stepped over HTTP with a token lookup each time, each activity writing one row.
The stacks stay up and take turns, in rounds whose order turns, so a drift of the machine's
speed during the run falls on every side alike; each side's rounds print as they finish,
with the CPU the idle sides used meanwhile (it should be next to nothing). Prints the
throughputs (lifecycles/s), the ratio ours/bare (target >= 0.9) and the floor's, and the
decision latency of each under that load.

Then decisions alone, also in alternating rounds: ``--decisions`` disputes brought to their
first approval level (not timed), then approved over HTTP ``--decision-concurrency`` at a
time — the token, the one read, the Update, its snapshot transaction, the answer; and as
many bare workflows each taking one Update that runs one no-op local activity, at the same
concurrency; and the floor (bench/floor.py): that Update behind an HTTP request whose token
is looked up, its local activity writing one row — the least a durable decision over HTTP
costs, whatever the product. Prints the three p50/p99, the ratio ours/bare of the medians
(target <= 1.5), and where the floor and ours stand against it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, select
from temporalio.client import Client

from bench import harness
from bench.bare_workflow import FLOOR_RECORD, UPDATES, BareDecisionWorkflow, BareWorkflow
from config.settings import Settings
from config.temporal import connect
from db.models import Dispute
from db.session import session_scope


async def rate(indexes: range, concurrency: int, one: Callable[[int], Awaitable[None]],
               done: Callable[[], Awaitable[None]] | None = None) -> tuple[int, float]:
    """(lifecycles, seconds): ``one(i)`` for each index, ``concurrency`` at a time, then
    ``done()`` (whatever must still finish) inside the clock."""
    t = time.perf_counter()
    await harness.bounded(indexes, concurrency, one)
    if done is not None:
        await done()
    return len(indexes), time.perf_counter() - t


async def ours(stack: harness.BenchStack, c: httpx.AsyncClient, indexes: range,
               concurrency: int, latencies: list[float]) -> tuple[int, float]:
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
                if (resolved or 0) >= indexes.stop:
                    return
            await asyncio.sleep(0.05)

    return await rate(indexes, concurrency, one, all_resolved)


async def bare(client: Client, queue: str, indexes: range, concurrency: int,
               latencies: list[float]) -> tuple[int, float]:
    async def one(i: int) -> None:
        h = await client.start_workflow(BareWorkflow.run, id=f"{queue}-{i}", task_queue=queue)
        for _ in range(UPDATES):
            t = time.perf_counter()
            await h.execute_update(BareWorkflow.step)
            latencies.append((time.perf_counter() - t) * 1000)
        await h.result()

    return await rate(indexes, concurrency, one)


async def ours_decisions(stack: harness.BenchStack, c: httpx.AsyncClient, indexes: range,
                         concurrency: int, latencies: list[float]) -> None:
    """Level 1 of each dispute approved over HTTP, ``concurrency`` at a time, timed; the
    disputes are brought there first, untimed, and the worker left to settle."""
    ids = [view["id"] for view in await harness.bounded(
        indexes, concurrency * 4, lambda i: harness.open_pending(c, stack, i))]
    await harness.settled(stack.procs["worker"].pid)

    async def one(k: int) -> None:
        t = time.perf_counter()
        r = await c.post(f"/api/v1/disputes/{ids[k]}/decision", headers=stack.headers("bm"),
                         json={"decision": "approve"})
        latencies.append((time.perf_counter() - t) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"decision on {ids[k]}: {r.status_code} {r.text}")

    await harness.bounded(range(len(ids)), concurrency, one)


async def bare_decisions(stack: harness.BenchStack, client: Client, queue: str,
                         indexes: range, concurrency: int, latencies: list[float]) -> None:
    """The engine's share of a decision: one Update running one no-op local activity, on
    as many waiting workflows, at the same concurrency."""
    handles = await asyncio.gather(*(client.start_workflow(
        BareDecisionWorkflow.run, id=f"{queue}-d{i}", task_queue=queue) for i in indexes))
    await harness.settled(stack.procs["bare"].pid)

    async def one(k: int) -> None:
        t = time.perf_counter()
        await handles[k].execute_update(BareDecisionWorkflow.decide)
        latencies.append((time.perf_counter() - t) * 1000)

    await harness.bounded(range(len(handles)), concurrency, one)


async def floor(stack: harness.BenchStack, client: Client, queue: str, floor_url: str,
                indexes: range, concurrency: int, latencies: list[float]) -> tuple[int, float]:
    """The floor's lifecycles (bench/floor.py): the bare lifecycle started and stepped over
    HTTP with a token lookup each time, its activities each writing one row."""
    async with httpx.AsyncClient(base_url=floor_url, timeout=60, headers=stack.headers("cs"),
                                 limits=httpx.Limits(max_connections=concurrency * 2)) as c:

        async def one(i: int) -> None:
            wid = f"{queue}-fl{i}"
            (await c.post(f"/floor/lifecycles/{wid}", params={"task_queue": queue})
             ).raise_for_status()
            for _ in range(UPDATES):
                t = time.perf_counter()
                (await c.post(f"/floor/lifecycles/{wid}/step")).raise_for_status()
                latencies.append((time.perf_counter() - t) * 1000)
            await client.get_workflow_handle(wid).result()

        return await rate(indexes, concurrency, one)


async def floor_decisions(stack: harness.BenchStack, client: Client, queue: str, floor_url: str,
                          indexes: range, concurrency: int, latencies: list[float]) -> None:
    """The floor (bench/floor.py): the bare Update behind an HTTP request with a token
    lookup, its local activity writing one row; as many, at the same concurrency."""
    handles = await asyncio.gather(*(client.start_workflow(
        BareDecisionWorkflow.run, FLOOR_RECORD, id=f"{queue}-f{i}", task_queue=queue)
        for i in indexes))
    await harness.settled(stack.procs["bare"].pid)
    async with httpx.AsyncClient(base_url=floor_url, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency * 8)) as c:

        async def one(k: int) -> None:
            t = time.perf_counter()
            r = await c.post(f"/floor/{handles[k].id}/decision", headers=stack.headers("bm"))
            latencies.append((time.perf_counter() - t) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"floor decision {handles[k].id}: {r.status_code} {r.text}")

        await harness.bounded(range(len(handles)), concurrency, one)


def alternating(first: int, n: int, rounds: int, sides: tuple[str, ...] = ("ours", "bare"),
                ) -> Iterator[tuple[int, range, str]]:
    """(round, its indexes, side) for ``n`` indexes from ``first`` in ``rounds`` rounds, each
    round every side, their order turned by one each round (ours first in the first)."""
    for r in range(rounds):
        chunk = range(first + n * r // rounds, first + n * (r + 1) // rounds)
        turn = r % len(sides)
        for side in sides[turn:] + sides[:turn]:
            yield r, chunk, side


@dataclass
class Totals:
    lifecycles: int = 0
    seconds: float = 0.0
    idle_cpu: float = 0.0  # CPU seconds the other side's processes used meanwhile

    def add(self, done: tuple[int, float], idle_cpu: float) -> None:
        self.lifecycles += done[0]
        self.seconds += done[1]
        self.idle_cpu += idle_cpu

    @property
    def rate(self) -> float:
        return self.lifecycles / self.seconds


# The processes of each side: while one side runs, the others' should sit idle.
PROCESSES = {"ours": {"api", "worker"}, "bare": {"bare"}, "floor": {"bare", "floor"}}


async def measure(stack: harness.BenchStack, queue: str, floor_url: str, n: int,
                  concurrency: int, rounds: int,
                  ) -> tuple[dict[str, Totals], dict[str, list[float]]]:
    """Ours, bare and the floor in turns (ours first, then bare first, ...), every stack up
    and the idle ones waiting: the machine's speed drifts during a run (by up to a third in
    minutes, seen here), and one block each would put that drift into the ratio."""
    client = await connect(Settings(temporal_address=stack.server.address))
    totals = {side: Totals() for side in PROCESSES}
    latencies: dict[str, list[float]] = {side: [] for side in PROCESSES}

    def idle_cpu(before: dict[str, float], after: dict[str, float], side: str) -> float:
        return sum(after.get(p, 0.0) - before.get(p, 0.0)
                   for p in set().union(*PROCESSES.values()) - PROCESSES[side])

    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency * 2)) as c:
        for r, chunk, side in alternating(0, n, rounds, tuple(PROCESSES)):
            before = stack.cpu()
            if side == "ours":
                done = await ours(stack, c, chunk, concurrency, latencies[side])
            elif side == "bare":
                done = await bare(client, queue, chunk, concurrency, latencies[side])
            else:
                done = await floor(stack, client, queue, floor_url, chunk, concurrency,
                                   latencies[side])
            totals[side].add(done, idle_cpu(before, stack.cpu(), side))
            print(f"  round {r + 1} {side}: {done[0] / done[1]:6.2f} lifecycles/s",
                  flush=True)
    return totals, latencies


async def measure_decisions(stack: harness.BenchStack, queue: str, floor_url: str, first: int,
                            n: int, concurrency: int, rounds: int) -> dict[str, list[float]]:
    """Decisions alone, ours, bare and the floor in turns (see :func:`measure`)."""
    client = await connect(Settings(temporal_address=stack.server.address))
    latencies: dict[str, list[float]] = {side: [] for side in PROCESSES}
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency * 8)) as c:
        for r, chunk, side in alternating(first, n, rounds, tuple(latencies)):
            shown = latencies[side]
            if side == "ours":
                await ours_decisions(stack, c, chunk, concurrency, shown)
            elif side == "bare":
                await bare_decisions(stack, client, queue, chunk, concurrency, shown)
            else:
                await floor_decisions(stack, client, queue, floor_url, chunk, concurrency,
                                      shown)
            print(f"  decisions round {r + 1} {side}: p50 "
                  f"{harness.percentile(shown[-len(chunk):], 50):.1f} ms", flush=True)
    return latencies


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--rounds", type=int, default=4,
                   help="alternating rounds of n/rounds lifecycles each side")
    p.add_argument("--decisions", type=int, default=200)
    p.add_argument("--decision-concurrency", type=int, default=1)
    p.add_argument("--url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = p.parse_args()
    if min(args.n, args.concurrency, args.rounds, args.decisions,
           args.decision_concurrency) <= 0 or args.rounds > min(args.n, args.decisions):
        p.error("every count must be positive, --rounds at most --n and --decisions")
    db_url = harness.fresh_database(args.url)
    with tempfile.TemporaryDirectory() as tmp:
        if db_url.startswith("sqlite"):
            db_url = f"sqlite:///{tmp}/bench.db"
        stack = harness.start(Path(tmp), db_url=db_url, accounts=args.n + args.decisions)
        print(harness.machine_line(n=args.n, concurrency=args.concurrency, rounds=args.rounds,
                                   decisions=args.decisions,
                                   decision_concurrency=args.decision_concurrency,
                                   database=db_url.split(":")[0]), flush=True)
        try:
            queue = stack.start_bare_worker()
            floor_url = stack.start_floor_api()
            totals, latencies = asyncio.run(
                measure(stack, queue, floor_url, args.n, args.concurrency, args.rounds))
            alone = asyncio.run(measure_decisions(
                stack, queue, floor_url, args.n, args.decisions, args.decision_concurrency,
                args.rounds))
        finally:
            stack.stop()
            harness.drop_database(args.url, db_url)
    names = {"bare": "bare Temporal", "floor": "floor", "ours": "Disputeflow"}
    for side, total in totals.items():
        print(f"{names[side] + ':':14s} {total.rate:7.2f} lifecycles/s ({total.lifecycles} in "
              f"{total.seconds:.1f} s; the other sides' processes used {total.idle_cpu:.2f} "
              "CPU s meanwhile)")
    ratio = totals["ours"].rate / totals["bare"].rate
    print(f"lifecycle ratio ours/bare: {ratio:.2f} "
          f"(target >= 0.9: {'met' if ratio >= 0.9 else 'MISSED'}); floor/bare: "
          f"{totals['floor'].rate / totals['bare'].rate:.2f}; ours/floor: "
          f"{totals['ours'].rate / totals['floor'].rate:.2f}")
    print(f"decision latency within {args.concurrency} lifecycles at once: " + "; ".join(
        f"{names[side]} p50 {harness.percentile(v, 50):.0f} ms, p99 "
        f"{harness.percentile(v, 99):.0f} ms" for side, v in latencies.items()))
    p50 = {side: harness.percentile(v, 50) for side, v in alone.items()}
    p99 = {side: harness.percentile(v, 99) for side, v in alone.items()}
    print(f"decisions alone, {args.decision_concurrency} at a time: ours p50 {p50['ours']:.1f} ms, "
          f"p99 {p99['ours']:.1f} ms; bare engine p50 {p50['bare']:.1f} ms, "
          f"p99 {p99['bare']:.1f} ms; floor p50 {p50['floor']:.1f} ms, p99 {p99['floor']:.1f} ms")
    slower = p50["ours"] / p50["bare"]
    print(f"decision p50 ours/bare: {slower:.2f} "
          f"(target <= 1.5: {'met' if slower <= 1.5 else 'MISSED'}); floor/bare: "
          f"{p50['floor'] / p50['bare']:.2f}; ours/floor: {p50['ours'] / p50['floor']:.2f}")


if __name__ == "__main__":
    main()
