"""What the per-day tallies' trigger (migration 0026) costs each write to a dispute, on
PostgreSQL: the snapshot's update statement, each in its own transaction, with the trigger
on and off in alternating rounds on the same rows.

    .venv/bin/python bench/bench_tallies.py [--rows 2000] [--rounds 6] [--url postgresql://...]

Two kinds of write: a revision that changes no tallied column (most snapshots: a comment,
a clock, a level decided) and one that moves the dispute to another status (and so from one
tally row to another, and from the open positions when it closes).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text, update

from bench.harness import drop_database, fresh_database, machine_line
from db.migrate import upgrade
from db.models import Account, Dispute, Invoice, table
from db.session import get_engine

DISPUTES = table(Dispute)


def load(url: str, rows: int) -> None:
    at = datetime(2026, 10, 1, tzinfo=UTC)
    with get_engine(url).begin() as c:
        c.execute(insert(Account), [{"id": "ADV-1", "type": "advertiser", "name": "Acme",
                                     "currency": "USD"}])
        c.execute(insert(Invoice), [{"number": "INV-1", "account_id": "ADV-1",
                                     "currency": "USD", "period": "2026-10",
                                     "issued_on": at.date(), "total_minor": 1}])
        c.execute(insert(Dispute), [{
            "id": f"D-{i}", "status": "investigating", "account_id": "ADV-1",
            "invoice_number": "INV-1", "currency": "USD", "disputed_minor": 1000 + i,
            "reason_code": "other", "opened_by": "U-1",
            "opened_at": at + timedelta(minutes=7 * i), "closed_at": None, "breached": False,
            "root_cause": None, "rejections": 0, "revision": 0, "view": {"id": f"D-{i}"}}
            for i in range(rows)])


def round_of(url: str, rows: int, revision: int, kind: str, closing: bool) -> list[float]:
    """Every row written once, one transaction each; milliseconds per transaction. A status
    change closes every dispute (resolved, with a root cause) or reopens it, by turns."""
    engine = get_engine(url)
    samples = []
    closed_at = datetime(2026, 12, 1, tzinfo=UTC)
    for i in range(rows):
        values: dict[str, object] = {"revision": revision, "view": {"id": f"D-{i}",
                                                                    "revision": revision}}
        if kind == "status change":
            values |= {"status": "resolved" if closing else "investigating",
                       "closed_at": closed_at if closing else None,
                       "root_cause": "rate_card" if closing else None}
        t = time.perf_counter()
        with engine.begin() as c:
            c.execute(update(DISPUTES).where(DISPUTES.c.id == f"D-{i}",
                                             DISPUTES.c.revision < revision)
                      .values(**values).returning(DISPUTES.c.revision)).one()
        samples.append((time.perf_counter() - t) * 1000)
    return samples


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = p.parse_args()
    url = fresh_database(args.url)
    upgrade(url)
    load(url, args.rows)
    print(machine_line(rows=args.rows, rounds=args.rounds))
    results: dict[tuple[str, str], list[float]] = {}
    revision, changes = 0, 0
    for r in range(args.rounds):
        for trigger in (("on", "off") if r % 2 == 0 else ("off", "on")):
            with get_engine(url).begin() as c:
                c.execute(text(f"ALTER TABLE disputes {'ENABLE' if trigger == 'on' else 'DISABLE'}"
                               " TRIGGER disputes_tally"))
            for kind in ("no tallied column", "status change"):
                revision += 1
                changes += kind == "status change"
                results.setdefault((kind, trigger), []).extend(
                    round_of(url, args.rows, revision, kind, closing=changes % 2 == 1))
    print(f"{'write':<22} {'trigger':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for (kind, trigger), samples in sorted(results.items()):
        samples.sort()
        print(f"{kind:<22} {trigger:>8} {statistics.median(samples):8.3f} "
              f"{samples[math.ceil(len(samples) * 0.99) - 1]:8.3f}")
    drop_database(args.url, url)


if __name__ == "__main__":
    main()
