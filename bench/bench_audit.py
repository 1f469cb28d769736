"""Audit at scale: `audit verify` over 1,000,000 events and the CSV export of 100,000
approval rows — time, rows/s and peak memory (target: constant memory, >= 50,000 rows/s).

    .venv/bin/python bench/bench_audit.py [--events 1000000] [--rows 100000] [--url ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.harness import drop_database, fresh_database
from db import approval_chains, audit
from db.approval_chains_pg import iter_records_pg
from db.migrate import upgrade
from db.models import ApprovalLevel, AuditEvent, CreditMemo, Dispute, LedgerPosting
from db.session import get_engine, session_scope


def load_events(url: str, n: int) -> None:
    prev, at0 = audit.GENESIS, datetime(2026, 1, 1, tzinfo=UTC)
    batch: list[dict[str, object]] = []
    engine = get_engine(url)
    with engine.begin() as conn:
        for seq in range(1, n + 1):
            row = {"seq": seq, "at": at0 + timedelta(seconds=seq), "actor": f"U-{seq % 50}",
                   "action": "approval.approved", "subject": f"DSP-{seq // 10:012d}",
                   "message": f"Level 1 approved credit memo CM-{seq}", "data": {"level": 1},
                   "idem_key": None}
            row["prev_hash"] = prev
            row["hash"] = prev = audit.chain_hash(prev, row)
            batch.append(row)
            if len(batch) == 10_000:
                conn.execute(insert(AuditEvent), batch)
                batch.clear()
        if batch:
            conn.execute(insert(AuditEvent), batch)


def load_chains(url: str, n: int) -> None:
    at0 = datetime(2026, 10, 1, tzinfo=UTC)
    with get_engine(url).begin() as conn:
        for start in range(0, n, 5000):
            ids = range(start, min(n, start + 5000))
            conn.execute(insert(Dispute), [{
                "id": f"DSP-{i:012d}", "status": "resolved", "account_id": "ADV-1",
                "invoice_number": f"INV-{i}", "currency": "USD", "disputed_minor": 10000,
                "reason_code": "other", "opened_by": "U-1", "opened_at": at0, "closed_at": at0,
                "breached": False, "root_cause": "other", "turnaround_s": 3600,
                "rejections": 0, "revision": 5, "view": {}} for i in ids])
            conn.execute(insert(CreditMemo), [{
                "number": f"CM-{i}", "dispute_id": f"DSP-{i:012d}", "account_id": "ADV-1",
                "invoice_number": f"INV-{i}", "status": "posted", "currency": "USD",
                "total_minor": 10000, "base_currency": "USD", "base_total_minor": 10000,
                "fx_rate": "1", "fx_as_of": at0.date(), "prior_period": False,
                "preparer_id": "U-2", "policy_version": 1, "tier_min": "0",
                "chain": {"reasons": ["Credit of 100.00 USD, at or above the 0.00 USD tier."]},
                "created_at": at0 + timedelta(seconds=i), "posted_at": at0} for i in ids])
            conn.execute(insert(LedgerPosting), [{
                "idempotency_key": f"post-CM-{i}", "reference": f"LGR-{i:09d}",
                "memo_number": f"CM-{i}", "account_id": "ADV-1", "invoice_number": f"INV-{i}",
                "currency": "USD", "amount_minor": 10000, "posted_at": at0} for i in ids])
            conn.execute(insert(ApprovalLevel), [{
                "memo_number": f"CM-{i}", "level": 1, "dispute_id": f"DSP-{i:012d}",
                "role": "billing_manager", "status": "approved", "approver_id": "U-3",
                "delegate_of": None, "decided_at": at0 + timedelta(seconds=i), "channel": "api",
                "comment": "=ok", "due_at": at0, "memo_preparer_id": "U-2",
                "dispute_opener_id": "U-1",
                "sod_checks": [{"name": "not_preparer", "passed": True, "detail": ""}]}
                for i in ids])


def measure(label: str, rows: int, fn) -> None:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - t
    tracemalloc.start()  # a second pass for memory: tracing slows Python several times
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<34} {rows:>9,} rows {elapsed:7.1f}s {rows / elapsed:>9,.0f} rows/s "
          f"peak Python memory {peak / 2**20:6.1f} MiB")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = p.parse_args()
    url = fresh_database(args.url)
    upgrade(url)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {make_url(url).get_backend_name()}")
    t = time.perf_counter()
    load_events(url, args.events)
    load_chains(url, args.rows)
    if make_url(url).get_backend_name() == "postgresql":  # what autovacuum does in production
        with get_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))
    print(f"loaded {args.events:,} audit events and {args.rows:,} approval rows in "
          f"{time.perf_counter() - t:.0f}s")

    def verify() -> None:
        with session_scope(url, readonly=True) as s:
            result = audit.verify(s)
        assert result.ok and result.events == args.events, result

    def export_with(chunks: Callable[[Session], Iterable[str]]) -> Callable[[], None]:
        def run() -> None:
            with session_scope(url, readonly=True) as s, open(os.devnull, "w") as sink:
                for chunk in chunks(s):
                    sink.write(chunk)
        return run

    measure("audit verify", args.events, verify)
    measure("approval-chain CSV export", args.rows, export_with(
        lambda s: approval_chains.export(s, start=None, end=None, format="csv")))
    if make_url(url).get_backend_name() == "postgresql":  # what it is made of, side by side
        measure("  formatted by 1 connection", args.rows, export_with(
            lambda s: approval_chains.iter_csv(
                iter_records_pg(s, start=None, end=None, escape=True, workers=1))))
        measure("  formatted in Python (SQLite's)", args.rows, export_with(
            lambda s: approval_chains.iter_csv(approval_chains.iter_records_python(
                s, start=None, end=None, escape=True))))
    print(f"max resident set size: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
          " MiB (includes loading)")
    drop_database(args.url, url)


if __name__ == "__main__":
    main()
