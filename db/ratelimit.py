"""Failed-authentication counting per client, in the database so that every API process
shares one limit (a per-process counter would multiply it by the number of replicas)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AuthFailure, table

_FAILURES = table(AuthFailure)  # a Core read: every authenticated request makes it

WINDOW = timedelta(minutes=1)
MAX_FAILURES = 20


def retry_after(session: Session, *, client: str, now: datetime) -> int | None:
    """Seconds until ``client`` may try again, or None when it is not locked out."""
    row = session.execute(select(_FAILURES.c.window_start, _FAILURES.c.failures)
                          .where(_FAILURES.c.client == client[:100])).first()
    if row is None or row.failures < MAX_FAILURES or now - row.window_start >= WINDOW:
        return None
    return max(1, int((row.window_start + WINDOW - now).total_seconds()) + 1)


def record_failure(session: Session, *, client: str, now: datetime) -> int:
    """Count one more failure of ``client``; how many it has in the current window."""
    key = client[:100]
    row = session.get(AuthFailure, key)
    if row is None:
        session.add(AuthFailure(client=key, window_start=now, failures=1))
        return 1
    if now - row.window_start >= WINDOW:
        row.window_start, row.failures = now, 1
    else:
        row.failures += 1
    return row.failures
