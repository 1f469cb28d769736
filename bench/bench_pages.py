"""Web page speed at scale: every page, rendered by the real app over real HTTP (uvicorn in
a thread, httpx with a session cookie), against N disputes loaded through the Alembic
migrations into SQLite (default) or PostgreSQL.

    .venv/bin/python bench/bench_pages.py [--n 100000] [--runs 50] [--url postgresql://...]

Prints the machine, the load time, and p50/p99 per page in milliseconds (target: every page
under 200 ms at 100,000 disputes). The data: disputes in every status over 180 days, a credit
memo with its approval level for each pending or resolved one (so "My approvals" has ~15% of
N waiting), SLA breaches, and three hash-chained audit events per dispute.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from api import web
from api.app import create_app
from bench.harness import drop_database, fresh_database
from cli.processes import free_port
from config.settings import Settings
from db import audit
from db.migrate import upgrade
from db.models import ApprovalLevel, AuditEvent, CreditMemo, CreditMemoLine, Dispute, SlaBreach
from db.session import dispose_engine, get_engine, session_scope
from db.users import create_user
from tests.support.web_session import sign_in

STATUSES = ["investigating"] * 25 + ["pending_approval"] * 15 + ["resolved"] * 45 + \
    ["denied"] * 10 + ["withdrawn"] * 5
REASONS = ["rate_mismatch", "delivery_shortfall", "duplicate_billing", "makegood_not_applied",
           "tax_error", "invalid_traffic", "contract_terms", "other"]
CAUSES = ["contract_setup", "rate_card", "delivery_data", "billing_system", "manual_error"]
TARGET_MS = 200.0
BATCH = 5000


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _view(did: str, status: str, account: str, amount: int, reason: str, opened: datetime,
          closed: datetime | None, memo: dict[str, Any] | None, level: dict[str, Any] | None,
          breached: bool) -> dict[str, Any]:
    """A dispute view of the API's shape (domain/views.py), as the workflow would store it."""
    money = f"{amount // 100}.{amount % 100:02d}"
    return {
        "id": did, "status": status, "account_id": account, "invoice_number": f"INV-{did}",
        "currency": "USD", "disputed_amount": money, "reason_code": reason,
        "description": "Billed above the contracted rate for the period.", "line_ids": ["L1"],
        "evidence": [], "opened_by": "U-BENCHCS", "opened_at": opened.isoformat(),
        "closed_at": _iso(closed), "close_reason": None, "findings_ready": True,
        "findings": [{"kind": "rate_mismatch", "line_id": "L1", "campaign_id": "C-1",
                      "status": "discrepancy", "billed": "12.50 per 1000 impressions",
                      "expected": "10.00 per 1000 impressions", "implied_credit": money,
                      "currency": "USD", "message": "Line L1 billed above the contract."}],
        "investigation": None if memo is None else {
            "root_cause": "rate_card", "resolution": "full_credit",
            "credit_lines": [{"line_id": "L1", "amount": money}], "prior_period": False,
            "note": "", "submitted_by": "U-BENCHAN", "submitted_at": opened.isoformat()},
        "credit_memo": None if memo is None else {
            "number": memo["number"], "total": money, "currency": "USD", "base_total": money,
            "base_currency": "USD", "fx_rate": "1", "fx_as_of": opened.date().isoformat(),
            "lines": [{"line_id": "L1", "amount": money}], "prior_period": False,
            "closed_periods": [], "status": memo["status"], "preparer_id": "U-BENCHAN",
            "policy_version": 1, "tier_min": "0", "window_total_base": "0",
            "chain_reasons": [], "created_at": memo["created_at"].isoformat(),
            "posted_at": _iso(memo["posted_at"]), "ledger_reference": None},
        "approvals": [] if level is None else [{
            "level": 1, "role": "billing_manager", "status": level["status"],
            "approver_id": level["approver_id"], "delegate_of": None,
            "decided_at": _iso(level["decided_at"]), "channel": level["channel"],
            "comment": level["comment"], "due_at": _iso(level["due_at"]),
            "escalate_to": "senior_billing_manager", "sod_checks": []}],
        "policy_version": 1 if memo else None,
        "sla": {"resolve": {"due_at": (opened + timedelta(days=14)).isoformat(),
                            "breached": breached, "stopped_at": _iso(closed)}},
        "rejections": 0, "turnaround_seconds": None, "revision": 5,
    }


def rows(n: int, now: datetime) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(table, batch) pairs: disputes, memos, memo lines, levels and breaches."""
    rnd = random.Random(7)
    batch: dict[str, list[dict[str, Any]]] = {t: [] for t in
                                              ("disputes", "memos", "lines", "levels", "breaches")}
    for i in range(n):
        status = rnd.choice(STATUSES)
        opened = now - timedelta(minutes=rnd.randrange(0, 180 * 24 * 60))
        closed = opened + timedelta(hours=rnd.randrange(1, 400)) if status in (
            "resolved", "denied", "withdrawn") else None
        closed = min(closed, now) if closed else None
        did, account = f"DSP-{i:012d}", f"ADV-{rnd.randrange(1000)}"
        amount, reason = rnd.randrange(1_000, 5_000_000), rnd.choice(REASONS)
        breached = rnd.random() < 0.1
        memo: dict[str, Any] | None = None
        level: dict[str, Any] | None = None
        if status in ("resolved", "pending_approval"):
            memo = {"number": f"CM-{i:012d}-1", "dispute_id": did, "account_id": account,
                    "invoice_number": f"INV-{did}",
                    "status": "posted" if status == "resolved" else "pending_approval",
                    "currency": "USD", "total_minor": amount, "base_currency": "USD",
                    "base_total_minor": amount, "fx_rate": "1", "fx_as_of": opened.date(),
                    "prior_period": False, "preparer_id": "U-BENCHAN", "policy_version": 1,
                    "tier_min": "0", "chain": {"reasons": [], "levels": ["billing_manager"]},
                    "created_at": opened + timedelta(hours=1), "posted_at": closed}
            done = status == "resolved"
            level = {"memo_number": memo["number"], "level": 1, "dispute_id": did,
                     "role": "billing_manager", "status": "approved" if done else "pending",
                     "approver_id": "U-BENCHBM" if done else None, "delegate_of": None,
                     "decided_at": closed, "channel": "web" if done else None,
                     "comment": "ok" if done else None,
                     "due_at": opened + timedelta(days=2), "sod_checks": []}
            batch["memos"].append(memo)
            batch["levels"].append(level)
            batch["lines"].append({"memo_number": memo["number"], "line_id": "L1",
                                   "invoice_number": f"INV-{did}", "amount_minor": amount})
        batch["disputes"].append({
            "id": did, "status": status, "account_id": account, "invoice_number": f"INV-{did}",
            "currency": "USD", "disputed_minor": amount, "reason_code": reason,
            "opened_by": "U-BENCHCS", "opened_at": opened, "closed_at": closed,
            "breached": breached, "root_cause": rnd.choice(CAUSES) if memo else None,
            "turnaround_s": int((closed - opened).total_seconds()) if closed else None,
            "rejections": 0, "revision": 5,
            "view": _view(did, status, account, amount, reason, opened, closed, memo, level,
                          breached)})
        if breached:
            batch["breaches"].append({
                "dispute_id": did, "clock": "resolve", "due_at": opened + timedelta(days=14),
                "breached_at": opened + timedelta(days=14), "stopped_at": closed,
                "assignee_role": "analyst", "amount_minor": amount, "currency": "USD",
                "escalated_to": None})
        if len(batch["disputes"]) >= BATCH or i == n - 1:
            for table in ("disputes", "memos", "lines", "levels", "breaches"):
                yield table, batch[table]
                batch[table] = []


def audit_rows(n: int, now: datetime, after_seq: int, prev: str
               ) -> Iterator[list[dict[str, Any]]]:
    """Three hash-chained events per dispute (opened, findings, investigation)."""
    seq, out = after_seq, []
    for i in range(n):
        did = f"DSP-{i:012d}"
        for action, message in (("dispute.opened", f"Dispute {did} opened."),
                                ("findings.recorded", "Automatic investigation: 1 discrepancy."),
                                ("investigation.submitted", "Investigation submitted.")):
            seq += 1
            event: dict[str, Any] = {"seq": seq, "at": now, "actor": "system", "action": action,
                     "subject": did, "message": message, "data": {}}
            event["prev_hash"], event["hash"] = prev, audit.chain_hash(prev, event)
            event["idem_key"] = None
            prev = event["hash"]
            out.append(event)
        if len(out) >= BATCH:
            yield out
            out = []
    if out:
        yield out


def load(url: str, n: int) -> dict[str, str]:
    """The data set and one user per role; returns each role's token."""
    now = datetime.now(UTC)
    tokens = {}
    with session_scope(url) as s:
        for role in ("client_services", "analyst", "billing_manager", "manager", "auditor"):
            _, tokens[role] = create_user(s, name=f"bench {role}", email=f"{role}@bench.test",
                                          roles=[role], slack_user_id=None, created_by="bench")
    tables = {"disputes": Dispute, "memos": CreditMemo, "lines": CreditMemoLine,
              "levels": ApprovalLevel, "breaches": SlaBreach}
    engine = get_engine(url)
    with engine.begin() as conn:
        for table, data in rows(n, now):
            if data:
                conn.execute(insert(tables[table]), data)
        last = conn.execute(text("SELECT seq, hash FROM audit_events ORDER BY seq DESC "
                                 "LIMIT 1")).first()
        for batch in audit_rows(n, now, last[0] if last else 0, last[1] if last else
                                audit.GENESIS):
            conn.execute(insert(AuditEvent), batch)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return tokens


def web_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    if not any(getattr(route, "path", None) == "/login" for route in app.routes):
        app.include_router(web.router)
        web.mount_static(app)
    return app


class Server:
    """uvicorn serving the app in a background thread (no worker: pages only read)."""

    def __init__(self, settings: Settings) -> None:
        config = uvicorn.Config(web_app(settings), host="127.0.0.1",
                                port=settings.disputeflow_api_port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()),
                                       daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def timed(client: httpx.Client, path: str, runs: int) -> tuple[float, float, int]:
    for _ in range(3):  # warm caches and connections
        client.get(path)
    samples, status = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path)
        samples.append((time.perf_counter() - t) * 1000)
        status = r.status_code
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1,
                                                   int(len(samples) * 0.99))], status


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="disputes to load")
    p.add_argument("--runs", type=int, default=50, help="requests per page")
    p.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL"),
                   help="PostgreSQL server URL (a fresh database is created); default SQLite")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(args.url) if args.url else f"sqlite:///{Path(tmp) / 'bench_pages.db'}"
        upgrade(url)
        t = time.perf_counter()
        tokens = load(url, args.n)
        backend = make_url(url).get_backend_name()
        print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python "
              f"{platform.python_version()}, {backend}")
        print(f"loaded {args.n:,} disputes in {time.perf_counter() - t:.1f}s; "
              f"{args.runs} requests per page")
        port = free_port()
        settings = Settings(database_url=url, temporal_address="127.0.0.1:1",
                            disputeflow_api_port=port)
        month = datetime.now(UTC).strftime("%Y-%m")
        with Server(settings):
            clients = {role: httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
                       for role in tokens}
            for role, token in tokens.items():
                sign_in(clients[role], token)
            try:
                cursor_page = clients["client_services"].get("/disputes")
                next_link = cursor_page.text.split('rel="next"')[0].rsplit('href="', 1)[-1]
                next_link = next_link.split('"')[0].replace("&amp;", "&")
                sample = f"DSP-{args.n // 2:012d}"
                memo = next(f"CM-{i:012d}-1" for i in range(args.n // 2, args.n)
                            if clients["client_services"].get(f"/credit-memos/CM-{i:012d}-1")
                            .status_code == 200)
                cases = [
                    ("client_services", "/disputes"),
                    ("client_services", next_link),
                    ("client_services", "/disputes?status=investigating"),
                    ("client_services", "/disputes?account_id=ADV-7"),
                    ("client_services", "/disputes?min_amount=1000&max_amount=2000"),
                    ("client_services", "/disputes?status=denied&reason_code=tax_error"
                                        "&breached=yes"),
                    ("client_services", f"/disputes/{sample}"),
                    ("analyst", f"/disputes/{sample}"),
                    ("billing_manager", "/approvals"),
                    ("manager", "/dashboard"),
                    ("auditor", f"/audit?month={month}"),
                    ("auditor", f"/audit?month={month}&status=posted&account_id=ADV-7"),
                    ("client_services", f"/credit-memos/{memo}"),
                    ("client_services", f"/credit-memos/{memo}?print=1"),
                    ("client_services", "/static/app.css"),
                ]
                print(f"{'page (role)':<76} {'p50 ms':>8} {'p99 ms':>8}")
                worst = 0.0
                for role, path in cases:
                    p50, p99, status = timed(clients[role], path, args.runs)
                    worst = max(worst, p99)
                    label = f"{path[:58]} ({role})"
                    flag = "OK" if p99 < TARGET_MS and status == 200 else f"MISS ({status})"
                    print(f"{label:<76} {p50:8.1f} {p99:8.1f}  {flag}")
                p50, p99, status = timed(clients["auditor"], f"/audit?month={month}&check=1", 3)
                print(f"{'/audit?check=1 (on request: verifies the whole audit chain)':<76} "
                      f"{p50:8.1f} {p99:8.1f}  (not a page load; {status})")
                print(f"worst page p99: {worst:.1f} ms (target < {TARGET_MS:.0f} ms)")
            finally:
                for client in clients.values():
                    client.close()
        dispose_engine(url)
        if backend == "postgresql":
            drop_database(args.url, url)


if __name__ == "__main__":
    main()
