"""The production shape for benchmarks: the real Temporal dev server, the worker and the API
as their own processes (exactly what ``disputeflow up`` starts), one database, seeded
billing data and one user per role — driven from the benchmark's process over HTTP.

Running the API and the worker as separate processes matters on a 2-core machine: in one
process they would share one interpreter lock with the load generator and measure that.
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import data
from cli.processes import DevServer, free_port, start_dev_server, stop_process, wait_for_port
from db import billing
from db.migrate import upgrade
from db.session import dispose_engine, session_scope
from db.users import create_user
from domain.billing_doc import BillingDocument

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
ROLES = {"cs": "client_services", "an": "analyst", "bm": "billing_manager",
         "sbm": "senior_billing_manager", "mgr": "manager", "admin": "admin"}


def machine_line(**settings: object) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in settings.items())
    return (f"machine: {platform.machine()} {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {platform.system()} {platform.release()}; {shown}")


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]


async def bounded(indexes: Iterable[int], concurrency: int,
                  call: Callable[[int], Awaitable[T]]) -> list[T]:
    """``call(i)`` for every index, at most ``concurrency`` at once; results in index order."""
    limit = asyncio.Semaphore(concurrency)

    async def one(i: int) -> T:
        async with limit:
            return await call(i)

    return list(await asyncio.gather(*(one(i) for i in indexes)))


async def paced(indexes: Iterable[int], rate: float, call: Callable[[int], Awaitable[T]],
                *, seed: int = 7) -> list[T]:
    """``call(i)`` for every index, arriving as a Poisson stream of ``rate`` a second,
    whatever the ones before are doing (an open loop: people do not wait for each other,
    so a slow answer does not slow the arrivals down, as it would with ``bounded``)."""
    gaps = random.Random(seed)
    loop = asyncio.get_running_loop()
    at = loop.time()
    tasks = []
    for i in indexes:
        at += gaps.expovariate(rate)
        await asyncio.sleep(max(0.0, at - loop.time()))
        tasks.append(asyncio.ensure_future(call(i)))
    return list(await asyncio.gather(*tasks))


@contextmanager
def client_gc_paused() -> Iterator[None]:
    """No garbage collection in this process (the load generator, and the fake Slack beside
    it) while a phase is timed: a full pass here stopped every request in flight for 190 ms
    (measured with gc.callbacks during a flood), a pause of the measuring client that no
    real client of the API would add. The servers' collections stay in the figures."""
    gc.collect()
    gc.freeze()  # what the setup left behind is not walked again when collection resumes
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def fresh_database(url: str) -> str:
    """A new, empty PostgreSQL database beside ``url`` (SQLite URLs are returned as given)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return url
    name = f"dfl_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(parsed.set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    if make_url(url).get_backend_name() != "postgresql":
        return
    dispose_engine(url)
    admin = create_engine(make_url(admin_url).set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def seed(db_url: str, accounts: int, *, slack_ids: Mapping[str, str] | None = None,
         ) -> dict[str, str]:
    """Billing data for ``accounts`` disputes and one user per role; returns their tokens."""
    tokens: dict[str, str] = {}
    with session_scope(db_url) as s:
        for start in range(0, accounts, 2000):
            doc = data.billing_document(start, min(2000, accounts - start))
            billing.import_document(s, BillingDocument.model_validate(doc), actor="bench")
        for who, role in ROLES.items():
            _, tokens[who] = create_user(
                s, name=who, email=f"{who}@bench.example", roles=[role],
                slack_user_id=(slack_ids or {}).get(who), created_by="bench")
    return tokens


def rss_mib(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process, in MiB, from /proc."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, from /proc (clock ticks to seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def settled(pid: int, *, below: float = 0.05, window: float = 1.0,
                  timeout: float = 300) -> None:
    """Wait until a worker is quiet (under ``below`` of a core for ``window`` seconds), so a
    latency measured next is not queued behind work left from setting up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(window)
        if cpu_seconds(pid) - before < below * window:
            return
    raise TimeoutError(f"process {pid} still busy after {timeout:.0f} s")


def postgres_cpu_seconds() -> float:
    """CPU time of the machine's PostgreSQL (the benches' server): the postmaster with
    every connection process, those ended included (they count as its waited children)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, list[str]]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        if text.split(" (", 1)[1].startswith("postgres)"):
            fields = text.rsplit(")", 1)[1].split()
            stats[int(stat.parent.name)] = (int(fields[1]), fields)
    total = 0.0
    for ppid, fields in stats.values():
        own = int(fields[11]) + int(fields[12])
        ended_children = int(fields[13]) + int(fields[14]) if ppid not in stats else 0
        total += (own + ended_children) / tick
    return total


@dataclass
class BenchStack:
    server: DevServer
    db_url: str
    base_url: str
    tokens: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each part of the stack: our processes, the dev
        server, PostgreSQL, and this process (the load generator and the fake Slack)."""
        used = {name: cpu_seconds(p.pid) for name, p in self.procs.items()
                if p.poll() is None}
        used["temporal"] = cpu_seconds(self.server.proc.pid)
        used["postgres"] = postgres_cpu_seconds()
        used["load"] = cpu_seconds(os.getpid())
        return used

    def stop(self) -> None:
        self.stop_processes()
        self.server.stop()
        self.show_errors()

    def stop_processes(self) -> None:
        """The API and the worker (and any process added), leaving the dev server up."""
        for proc in reversed(list(self.procs.values())):
            stop_process(proc)

    def _spawn(self, part: str, module: str, *args: str) -> subprocess.Popen[bytes]:
        """``python -m module args`` as the process ``part``, logging to ``part``.log."""
        log = open(self.logs / f"{part}.log", "ab")  # noqa: SIM115  (the child keeps it)
        self.procs[part] = subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        return self.procs[part]

    def start_bare_worker(self) -> str:
        """A worker process for bench/bare_workflow.py's workflows, shaped like ours (its own
        process, the same thread pool); returns its task queue."""
        queue = f"bare-{uuid.uuid4().hex[:6]}"
        self._spawn("bare", "bench.bare_workflow", self.server.address, queue, self.db_url)
        return queue

    def start_floor_api(self) -> str:
        """The floor's API process (bench/floor.py), beside ours; returns its base URL. Its
        Updates run on the bare worker (:meth:`start_bare_worker`)."""
        port = free_port()
        proc = self._spawn("floor", "bench.floor", str(port), self.server.address, self.db_url)
        wait_for_port("127.0.0.1", port, timeout=60, proc=proc, what="floor API")
        return f"http://127.0.0.1:{port}"

    def show_errors(self, *, lines: int = 40) -> None:
        """A figure measured through errors is no figure: print the end of any traceback
        the API or the worker logged (their logs go away with the temporary directory)."""
        for part in self.procs:
            text = (self.logs / f"{part}.log").read_text(errors="replace")
            at = text.find("Traceback")
            if at >= 0:
                shown = "\n".join(text[at:].splitlines()[:lines])
                print(f"--- {part} logged errors (first shown) ---\n{shown}", file=sys.stderr)


def start(tmp: Path, *, db_url: str, accounts: int, env: Mapping[str, str] | None = None,
          slack_ids: Mapping[str, str] | None = None) -> BenchStack:
    """Dev server, migrations, seed, then the worker and API processes; ready to take load."""
    server = start_dev_server(tmp / "temporal.db", port=free_port(), ui_port=None,
                              log_file=tmp / "temporal.log")
    try:
        upgrade(db_url)
        tokens = seed(db_url, accounts, slack_ids=slack_ids)
        port = free_port()
        child_env = {**os.environ, "DATABASE_URL": db_url, "TEMPORAL_ADDRESS": server.address,
                     "TEMPORAL_TASK_QUEUE": f"bench-{uuid.uuid4().hex[:6]}",
                     "DISPUTEFLOW_API_PORT": str(port),
                     "DISPUTEFLOW_ADMIN_TOKEN": "adm_" + uuid.uuid4().hex * 2,
                     "PYTHONPATH": str(ROOT), **(env or {})}
        stack = BenchStack(server, db_url, f"http://127.0.0.1:{port}", tokens, tmp)
        for part in ("worker", "api"):
            log = open(tmp / f"{part}.log", "ab")  # noqa: SIM115  (the child keeps it)
            stack.procs[part] = subprocess.Popen(
                [sys.executable, "-m", "cli.main", part], env=child_env, cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port("127.0.0.1", port, timeout=60, proc=stack.procs["api"], what="API")
        _wait_ready(stack.base_url)
        return stack
    except BaseException:
        server.stop()
        raise


def _wait_ready(base_url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("the API did not become healthy within 60 s")


async def open_pending(c: httpx.AsyncClient, stack: BenchStack, i: int) -> dict[str, Any]:
    """Intake over HTTP, wait for the findings, submit the investigation: the dispute then
    waits at approval level 1. Returns the investigation's answer (the dispute view)."""
    r = await c.post("/api/v1/disputes", headers={**stack.headers("cs"),
                                                  "Idempotency-Key": f"bench-{i}"},
                     json=data.dispute_body(i))
    r.raise_for_status()
    did = r.json()["id"]
    for _ in range(1200):
        r = await c.post(f"/api/v1/disputes/{did}/investigation", headers=stack.headers("an"),
                         json=data.INVESTIGATION)
        if r.status_code in (200, 202):
            return dict(r.json()) if r.status_code == 200 else {"id": did}
        if r.status_code not in (409, 503):  # not in yet / worker busy: both safe to resend
            raise RuntimeError(f"investigation of {did}: {r.status_code} {r.text}")
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{did} never reached investigating")
