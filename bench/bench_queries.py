"""Read-side speed at scale: the disputes list, the breach list, the metrics, each analytics
table and the dashboard's reads with 100,000 disputes (each with its invoice, and credit
memos with lines and approval levels), on PostgreSQL (default) or SQLite, through the
Alembic migrations.

    .venv/bin/python bench/bench_queries.py [--n 100000] [--url postgresql://...]

Prints the machine, the settings, p50/p99 per query (milliseconds) and EXPLAIN plans.
Target: p99 < 100 ms each with 100,000 disputes in PostgreSQL.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api.web.pages_dashboard import Period, dashboard_data
from bench.harness import drop_database, fresh_database
from db import analytics, dispute_list, disputes, metrics, report_window
from db.migrate import upgrade
from db.models import (
    Account,
    ApprovalLevel,
    CreditMemo,
    CreditMemoLine,
    CreditMemoProduct,
    Dispute,
    DisputeLine,
    Invoice,
    InvoiceLine,
    SlaBreach,
)
from db.session import get_engine, session_scope

STATUSES = ["investigating"] * 25 + ["pending_approval"] * 15 + ["resolved"] * 45 + \
    ["denied"] * 10 + ["withdrawn"] * 5
REASONS = ["rate_mismatch", "delivery_shortfall", "duplicate_billing", "makegood_not_applied",
           "tax_error", "invalid_traffic", "contract_terms", "other"]
CAUSES = ["contract_setup", "rate_card", "delivery_data", "billing_system", "manual_error"]
PRODUCTS = ["Sponsored Products", "Sponsored Brands", "Display", "Video"]
APPROVERS = ["U-3", "U-4", "U-5"]


def load(url: str, n: int) -> None:
    rnd = random.Random(7)
    now = datetime.now(UTC)
    rows, memos, breaches = [], [], []
    invoices: list[dict[str, object]] = []
    lines: list[dict[str, object]] = []
    memo_lines: list[dict[str, object]] = []
    memo_products: list[dict[str, object]] = []
    levels: list[dict[str, object]] = []
    dispute_lines: list[dict[str, object]] = []
    accounts = [{"id": f"ADV-{a}", "type": rnd.choice(["advertiser", "agency"]),
                 "name": f"Account {a}", "currency": "USD"} for a in range(1000)]
    for i in range(n):
        status = rnd.choice(STATUSES)
        opened = now - timedelta(minutes=rnd.randrange(0, 180 * 24 * 60))
        closed = min(now, opened + timedelta(hours=rnd.randrange(1, 400))) if status in (
            "resolved", "denied", "withdrawn") else None  # closed by now: never in the future
        did = f"DSP-{i:012d}"
        amount = rnd.randrange(1_000, 5_000_000)
        product = rnd.choice(PRODUCTS)
        rows.append({
            "id": did, "status": status, "account_id": f"ADV-{rnd.randrange(1000)}",
            "invoice_number": f"INV-{i}", "currency": "USD", "disputed_minor": amount,
            "reason_code": rnd.choice(REASONS), "opened_by": "U-1", "opened_at": opened,
            "closed_at": closed, "breached": rnd.random() < 0.1,
            "root_cause": rnd.choice(CAUSES) if status != "investigating" else None,
            "turnaround_s": int((closed - opened).total_seconds()) if closed else None,
            "rejections": 1 if rnd.random() < 0.15 else 0, "revision": 5, "product": product,
            "view": {"id": did, "status": status, "disputed_amount": str(amount / 100)},
        })
        invoices.append({"number": f"INV-{i}", "account_id": rows[-1]["account_id"],
                          "currency": "USD", "period": opened.strftime("%Y-%m"),
                          "issued_on": (opened - timedelta(days=rnd.randrange(1, 40))).date(),
                          "total_minor": amount * 2, "first_disputed_at": opened})
        if i % 10 == 0:  # one dispute in ten is about two lines of different products
            other = PRODUCTS[(PRODUCTS.index(product) + 1) % len(PRODUCTS)]
            rows[-1]["product"] = None
            dispute_lines.append({"dispute_id": did, "line_id": "L2",
                                  "invoice_number": f"INV-{i}", "product": other,
                                  "share_minor": amount - amount // 2})
            lines.append({"invoice_number": f"INV-{i}", "line_id": "L2", "position": 2,
                          "product": other, "campaign_id": None, "units": 1000,
                          "unit": "impressions", "rate": "1", "rate_basis": 1,
                          "amount_minor": amount, "makegood": False})
        share = amount // 2 if i % 10 == 0 else amount
        dispute_lines.append({"dispute_id": did, "line_id": "L1", "invoice_number": f"INV-{i}",
                              "product": product, "share_minor": share})
        lines.append({"invoice_number": f"INV-{i}", "line_id": "L1", "position": 1,
                      "product": product, "campaign_id": None, "units": 1000,
                      "unit": "impressions", "rate": "1", "rate_basis": 1,
                      "amount_minor": amount * 2, "makegood": False})
        if status in ("resolved", "pending_approval"):
            created = opened + timedelta(hours=1)
            memo_lines.append({"memo_number": f"CM-{i}", "line_id": "L1",
                               "invoice_number": f"INV-{i}", "amount_minor": amount})
            memo_products.append({"memo_number": f"CM-{i}", "product": product,
                                  "amount_minor": amount})
            decided = created + timedelta(hours=rnd.randrange(1, 60))
            levels.append({
                "memo_number": f"CM-{i}", "level": 1, "dispute_id": did,
                "role": "billing_manager",
                "status": "approved" if status == "resolved" else "pending",
                "approver_id": rnd.choice(APPROVERS) if status == "resolved" else None,
                "delegate_of": None, "decided_at": decided if status == "resolved" else None,
                "channel": "api" if status == "resolved" else None, "comment": None,
                "due_at": created + timedelta(days=2), "sod_checks": [],
                "pending_since": created,  # level 1: since its memo's creation
                "memo_preparer_id": "U-2", "dispute_opener_id": "U-1"})
            memos.append({
                "number": f"CM-{i}", "dispute_id": did, "account_id": rows[-1]["account_id"],
                "invoice_number": f"INV-{i}",
                "status": "posted" if status == "resolved" else "pending_approval",
                "currency": "USD", "total_minor": amount, "base_currency": "USD",
                "base_total_minor": amount, "fx_rate": "1", "fx_as_of": opened.date(),
                "prior_period": False, "preparer_id": "U-2", "policy_version": 1,
                "tier_min": rnd.choice(["0", "5000", "25000"]), "chain": {},
                "created_at": opened + timedelta(hours=1), "posted_at": closed})
        if rows[-1]["breached"]:
            breaches.append({
                "dispute_id": did, "clock": rnd.choice(["acknowledge", "investigate",
                                                        f"approval_CM-{i}_1"]),
                "due_at": opened + timedelta(hours=8), "breached_at": opened + timedelta(hours=8),
                "stopped_at": closed, "assignee_role": rnd.choice(["analyst", "billing_manager"]),
                "amount_minor": amount, "currency": "USD", "escalated_to": None})
    engine = get_engine(url)
    with engine.begin() as conn:
        for table, data in ((Account, accounts), (Invoice, invoices), (InvoiceLine, lines),
                            (Dispute, rows), (DisputeLine, dispute_lines), (CreditMemo, memos),
                            (CreditMemoLine, memo_lines), (CreditMemoProduct, memo_products),
                            (ApprovalLevel, levels), (SlaBreach, breaches)):
            for start in range(0, len(data), 5000):
                conn.execute(insert(table), data[start:start + 5000])
    if engine.dialect.name == "postgresql":  # what autovacuum does in production
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            # The load leaves most of a gigabyte of dirty pages, which the next checkpoint
            # writes out over minutes, slowing whichever reads run meanwhile; a database in
            # service has no such backlog, so it is written now, before anything is timed.
            conn.execute(text("CHECKPOINT"))


def _table(table: Callable[[Session, report_window.Window], object], start: datetime | None,
           now: datetime, session: Session) -> object:
    return table(session, report_window.window_for(session, start=start, end=None, now=now))


def timed(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    fn()  # warm: a server's connection pool is open before the first request
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    # Nearest-rank p99: the 99th of 100 samples (the slowest but one), not the slowest.
    return statistics.median(samples), samples[math.ceil(len(samples) * 0.99) - 1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = p.parse_args()
    url = fresh_database(args.url)
    upgrade(url)
    t = time.perf_counter()
    load(url, args.n)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {make_url(url).get_backend_name()}")
    print(f"loaded {args.n:,} disputes in {time.perf_counter() - t:.1f}s; {args.runs} runs each")
    now = datetime.now(UTC)
    with session_scope(url) as s:
        _, cursor = dispute_list.list_views(
            s, filters=dispute_list.ListFilter(status="investigating"), limit=50, cursor=None)
    cases: dict[str, Callable[[Session], object]] = {
        "GET /disputes?status=investigating&limit=50": lambda s: dispute_list.list_views(
            s, filters=dispute_list.ListFilter(status="investigating"), limit=50, cursor=None),
        "GET /disputes?status=..&cursor=(page 2)": lambda s: dispute_list.list_views(
            s, filters=dispute_list.ListFilter(status="investigating"), limit=50, cursor=cursor),
        "GET /disputes?account_id=ADV-7": lambda s: dispute_list.list_views(
            s, filters=dispute_list.ListFilter(account_id="ADV-7"), limit=50, cursor=None),
        "GET /sla/breaches?open=true": lambda s: disputes.list_breaches(
            s, open_only=True, clock=None, assignee_role=None, limit=500),
    }
    month = now - timedelta(days=30)
    for name, table in analytics.TABLES.items():
        cases[f"GET /analytics/{name} (30 days)"] = partial(_table, table, month, now)
        cases[f"GET /analytics/{name} (all time)"] = partial(_table, table, None, now)
    with session_scope(url) as s:
        zone = ZoneInfo(report_window.policy_timezone(s))
    # What the API and the page do: their reads side by side on several connections.
    whole = {
        "GET /metrics (last 30 days)": lambda: metrics.compute_concurrently(
            url, start=month, end=None, now=now),
        "GET /metrics (all time)": lambda: metrics.compute_concurrently(
            url, start=None, end=None, now=now),
        "dashboard reads (last 30 days)": lambda: dashboard_data(
            url, period=Period({}, first=(now - timedelta(days=29)).date(), last=now.date()),
            zone=zone, now=now),
    }
    print(f"{'query':<56} {'p50 ms':>8} {'p99 ms':>8}")
    for name, fn in cases.items():
        def run(fn=fn) -> None:  # type: ignore[no-untyped-def]
            with session_scope(url) as s:
                fn(s)
        p50, p99 = timed(run, args.runs)
        print(f"{name:<56} {p50:8.1f} {p99:8.1f}  {'OK' if p99 < 100 else 'MISS'}")
    for name, call in whole.items():
        p50, p99 = timed(call, args.runs)
        print(f"{name:<56} {p50:8.1f} {p99:8.1f}  {'OK' if p99 < 100 else 'MISS'}")
    if make_url(url).get_backend_name() == "postgresql":
        with get_engine(url).connect() as c:
            for label, sql in (
                ("disputes list", "EXPLAIN SELECT * FROM disputes WHERE status='investigating' "
                 "ORDER BY opened_at DESC, id DESC LIMIT 51"),
                ("open breaches", "EXPLAIN SELECT * FROM sla_breaches WHERE stopped_at IS NULL "
                 "ORDER BY due_at, dispute_id LIMIT 500"),
            ):
                plan = [r[0] for r in c.execute(text(sql))]
                print(f"EXPLAIN {label}: " + " | ".join(line.strip() for line in plan[:3]))
    drop_database(args.url, url)


if __name__ == "__main__":
    main()
