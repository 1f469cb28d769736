"""Decision latency with 1,000 disputes in flight: from ``POST …/decision`` sent to its 200
with the new state, and from a signed Slack click sent to Slack's 200 (the acknowledgement
that tells the approver it was taken).

    .venv/bin/python bench/bench_decisions.py [--disputes 1000] [--rate 5] [--concurrency 10]

The production shape (bench/harness.py): dev server, worker and API processes, PostgreSQL
(default) or SQLite, Slack turned on against the fake Slack Web API over real HTTP. All
disputes are first brought to "pending approval"; then every level 1 is approved through
the API and every level 2 through a Slack click, in three phases: one at a time (latency
unloaded), arriving at ``--rate`` a second (latency under a steady load), and
``--concurrency`` back to back (a flood: the throughput, and the latency once saturated).
Each phase also prints its decisions a second and the CPU each process spent per decision,
and (unless ``--no-split``) where each API decision's time went, read from its workflow
history (bench/latency_split.py). Targets: API p99 < 150 ms, Slack acknowledgement p99 < 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, select

from activities.slack_blocks import button_value
from bench import harness, latency_split
from bench.bare_workflow import BareDecisionWorkflow
from config.settings import Settings
from config.temporal import connect
from db.models import Dispute, LedgerPosting
from db.session import session_scope
from tests.support.fake_slack import FakeSlack

SLACK_IDS = {"bm": "U0BENCHBM", "sbm": "U0BENCHSBM"}


def signed(secret: str, payload: dict[str, Any]) -> tuple[str, dict[str, str]]:
    body = urlencode({"payload": json.dumps(payload)})
    stamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(),
                      hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/x-www-form-urlencoded",
                  "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def click(fake: FakeSlack, secret: str, view: dict[str, Any], n: int) -> tuple[str, dict[str,
                                                                                         str]]:
    value = button_value(view["id"], view["credit_memo"]["number"], 2)
    return signed(secret, {
        "type": "block_actions", "user": {"id": SLACK_IDS["sbm"], "username": "sbm"},
        "team": {"id": "T0"}, "trigger_id": f"trig-{n}",
        "response_url": fake.response_url(f"bench-{n}"),
        "container": {"type": "message", "message_ts": "1700000000.000001"},
        "actions": [{"type": "button", "action_id": "dfl_approve", "block_id": "dfl_decision",
                     "value": value, "action_ts": str(time.time())}]})


@dataclass(frozen=True)
class Phase:
    """A run of decisions: one at a time, ``concurrency`` at a time back to back (a closed
    loop: it measures throughput, since each answer sends the next), or arriving at
    ``rate`` a second whatever the answers do (an open loop: latency at a given load)."""

    label: str
    indexes: range
    concurrency: int = 1
    rate: float = 0.0


async def timed(phase: Phase, call: Callable[[int], Awaitable[Any]],
                ) -> tuple[list[float], dict[int, int]]:
    """Run ``call(i)`` for every i of the phase; latencies (ms) and answer counts (``call``
    returns a response, or a status code)."""
    latencies: list[float] = []
    codes: dict[int, int] = {}

    async def one(i: int) -> None:
        t = time.perf_counter()
        r = await call(i)
        latencies.append((time.perf_counter() - t) * 1000)
        code = r if isinstance(r, int) else r.status_code
        codes[code] = codes.get(code, 0) + 1

    with harness.client_gc_paused():
        if phase.rate:
            await harness.paced(phase.indexes, phase.rate, one)
        else:
            await harness.bounded(phase.indexes, phase.concurrency, one)
    return latencies, codes


async def measured(stack: harness.BenchStack, pid: int, what: str, phase: Phase,
                   call: Callable[[int], Awaitable[Any]], target: float) -> None:
    """One phase's latencies, then its throughput and CPU once the worker is quiet again."""
    before, t = stack.cpu(), time.perf_counter()
    report(f"{what} {phase.label}", *await timed(phase, call), target)
    wall = time.perf_counter() - t
    await harness.settled(pid)
    cpu_report(f"  {what} {phase.label}", before, stack.cpu(), len(phase.indexes), wall)


def cpu_report(label: str, before: dict[str, float], after: dict[str, float], count: int,
               wall: float) -> None:
    """Throughput and where its CPU went: milliseconds of CPU per decision in each process,
    counted until the worker is quiet again (work a decision leaves behind included)."""
    parts = "  ".join(f"{name} {(after[name] - before[name]) * 1000 / count:.1f}"
                      for name in after if name in before)
    total = sum(after[n] - before[n] for n in after if n in before) * 1000 / count
    print(f"{label:<40} {count / wall:6.1f} decisions/s; CPU ms per decision: {parts}  "
          f"(total {total:.1f})")


def report(label: str, latencies: list[float], codes: dict[int, int], target: float) -> None:
    p99 = harness.percentile(latencies, 99)
    print(f"{label:<40} p50 {harness.percentile(latencies, 50):6.0f} ms  p99 {p99:6.0f} ms  "
          f"max {max(latencies):6.0f} ms  answers {dict(sorted(codes.items()))}  "
          f"(target p99 < {target:.0f} ms: {'met' if p99 < target else 'MISSED'})")


async def bare(stack: harness.BenchStack, worker: tuple[str, int], n: int,
               phases: list[Phase]) -> None:
    """The same measurement on the bare engine (its worker a process of its own, as ours):
    ``n`` waiting workflows, one Update each running one no-op local activity — what no code
    of ours can make faster."""
    queue, pid = worker
    client = await connect(Settings(temporal_address=stack.server.address))
    handles = await asyncio.gather(*(client.start_workflow(
        BareDecisionWorkflow.run, id=f"{queue}-{i}", task_queue=queue) for i in range(n)))
    await harness.settled(pid)  # every workflow's first task done, as ours were

    async def update(i: int) -> int:
        await handles[i].execute_update(BareDecisionWorkflow.decide)
        return 200

    for phase in phases:
        await measured(stack, pid, "bare engine Update", phase, update, 150)


def split(n: int, sequential: int, steady: int, rate: float, concurrency: int) -> list[Phase]:
    """The first ``sequential`` one at a time (latency unloaded), the next ``steady``
    arriving at ``rate`` a second (latency under a steady load), the rest ``concurrency``
    at a time (a flood: throughput, and latency when saturated). A phase left without
    disputes is not run (``--disputes 400`` with the defaults has no flood)."""
    a = min(sequential, n)
    b = min(a + steady, n)
    phases = [Phase("(one at a time)", range(0, a)),
              Phase(f"(arriving {rate:g}/s)", range(a, b), rate=rate),
              Phase(f"({concurrency} at a time)", range(b, n), concurrency=concurrency)]
    return [phase for phase in phases if phase.indexes]


async def split_phases(stack: harness.BenchStack, phases: list[Phase],
                       sent: dict[int, latency_split.Sent]) -> None:
    """Each API phase's decisions split into their parts (bench/latency_split.py), and where
    an open-loop phase's arrivals bunched up most."""
    client = await connect(Settings(temporal_address=stack.server.address))
    for phase in phases:
        requests = [sent[i] for i in phase.indexes if i in sent]
        if phase.rate:
            window = latency_split.BURST_WINDOW
            most, when = latency_split.densest([r.sent for r in requests], window)
            print(f"  API decision {phase.label}: at most {most} arrivals within "
                  f"{window * 1000:.0f} ms ({most / window:.0f} a second for that moment; "
                  f"{when:.1f} s into the phase)")
        await latency_split.report(client, requests, label=f"  API decision {phase.label}")


async def run(stack: harness.BenchStack, fake: FakeSlack, secret: str, n: int,
              phases: list[Phase], *, split_latency: bool = True) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60,
                                 limits=httpx.Limits(max_connections=100)) as c:
        t = time.perf_counter()
        views = await harness.bounded(range(n), 20, lambda i: harness.open_pending(c, stack, i))
        print(f"{n} disputes brought to pending approval in {time.perf_counter() - t:.0f} s")
        await harness.settled(stack.procs["worker"].pid)  # their Slack prompts sent
        after_level_1: list[dict[str, Any]] = [{} for _ in range(n)]
        sent: dict[int, latency_split.Sent] = {}

        async def api_decision(i: int) -> httpx.Response:
            at = time.time()
            r = await c.post(f"/api/v1/disputes/{views[i]['id']}/decision",
                             headers=stack.headers("bm"), json={"decision": "approve"})
            sent[i] = latency_split.Sent(views[i]["id"], at, time.time())
            after_level_1[i] = r.json() if r.status_code == 200 else {"id": views[i]["id"]}
            return r

        worker = stack.procs["worker"].pid
        for phase in phases:
            await measured(stack, worker, "API decision", phase, api_decision, 150)
        if split_latency:
            await split_phases(stack, phases, sent)
        for i, view in enumerate(after_level_1):  # a 202 answer carries no view: read it
            if "credit_memo" not in view:
                after_level_1[i] = (await c.get(f"/api/v1/disputes/{view['id']}",
                                                headers=stack.headers("bm"))).json()

        clicked_at: dict[int, float] = {}

        async def slack_click(i: int) -> httpx.Response:
            body, headers = click(fake, secret, after_level_1[i], i)
            clicked_at[i] = time.monotonic()
            return await c.post("/slack/interactions", content=body, headers=headers)

        for phase in phases:
            report(f"Slack click ack {phase.label}", *await timed(phase, slack_click), 500)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with session_scope(stack.db_url, readonly=True) as s:
            resolved = s.scalar(select(func.count()).where(Dispute.status == "resolved"))
            posted = s.scalar(select(func.count()).select_from(LedgerPosting))
        replies = {int(c.method.rsplit("-", 1)[1]): c.at for c in list(fake.calls)
                   if c.method.startswith("response/bench-")}
        if resolved == n and len(replies) == n:  # a reply follows its decision's write
            break
        await asyncio.sleep(0.5)
    reply_ms = [(at - clicked_at[i]) * 1000 for i, at in replies.items()]
    if reply_ms:
        print(f"{'Slack click to its reply (all)':<40} p50 {harness.percentile(reply_ms, 50):6.0f}"
              f" ms  p99 {harness.percentile(reply_ms, 99):6.0f} ms  (the approver reads the "
              "outcome; includes ledger posting on the final level)")
    print(f"afterwards: {resolved}/{n} resolved, {posted} ledger postings, {len(replies)} Slack "
          "replies to the clickers")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--disputes", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--sequential", type=int, default=100,
                   help="how many decisions are first sent one at a time")
    p.add_argument("--steady", type=int, default=300,
                   help="how many decisions then arrive at --rate a second")
    p.add_argument("--rate", type=float, default=5.0)
    p.add_argument("--no-split", action="store_true",
                   help="skip splitting each API decision's time by its workflow history")
    p.add_argument("--url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = p.parse_args()
    if min(args.disputes, args.concurrency, args.rate) <= 0 or min(args.sequential,
                                                                   args.steady) < 0:
        p.error("--disputes, --concurrency and --rate must be positive; --sequential and "
                "--steady at least 0")
    db_url = harness.fresh_database(args.url)
    fake, secret = FakeSlack.start(), secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as tmp:
        if db_url.startswith("sqlite"):
            db_url = f"sqlite:///{tmp}/bench.db"
        stack = harness.start(Path(tmp), db_url=db_url, accounts=args.disputes, env={
            "SLACK_BOT_TOKEN": "xoxb-bench-" + secrets.token_hex(4),
            "SLACK_SIGNING_SECRET": secret, "SLACK_API_URL": fake.url},
            slack_ids=SLACK_IDS)
        print(harness.machine_line(disputes=args.disputes, concurrency=args.concurrency,
                                   database=db_url.split(":")[0], slack="fake Slack over HTTP"))
        try:
            phases = split(args.disputes, args.sequential, args.steady, args.rate,
                           args.concurrency)
            asyncio.run(run(stack, fake, secret, args.disputes, phases,
                            split_latency=not args.no_split))
            stack.stop_processes()  # nothing of ours runs beside the baseline
            bare_worker = (stack.start_bare_worker(), stack.procs["bare"].pid)
            asyncio.run(bare(stack, bare_worker, args.disputes, phases))
        finally:
            stack.stop()
            fake.close()
            harness.drop_database(args.url, db_url)


if __name__ == "__main__":
    main()
