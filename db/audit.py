"""The append-only, hash-chained audit log.

Each event's hash is SHA-256 over a canonical JSON serialization of the event (sequence,
time, actor, action, subject, message, data) and the previous event's hash, so an edited,
deleted, inserted or reordered row breaks the chain from that row on. Appends serialize on a
lock (PostgreSQL advisory lock; SQLite's ``BEGIN IMMEDIATE``) so concurrent writers keep one
unbroken chain. An ``idem_key`` makes an activity's retried append a no-op.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from sqlalchemy import column, func, insert, select, text
from sqlalchemy.orm import Session

from db.models import AuditEvent, table
from db.types import UTCDateTime

GENESIS = "0" * 64
_EVENTS = table(AuditEvent)
_LOCK_ID = 7_311_001  # pg_advisory_xact_lock key reserved for the audit chain


@dataclass
class NewEvent:
    actor: str
    action: str
    subject: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None
    idem_key: str | None = None


# One encoder for every event's data: json.dumps with options builds a new encoder per call,
# which was a third of `audit verify`'s time over a million events.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
_encode_data = _ENCODER.encode
# The keys in sorted order, exactly what ``_ENCODER.encode`` of the event dict would write
# (strings escaped as ensure_ascii does); formatting it directly halves the cost per event.
# tests/db/test_audit_canonical.py holds it byte-identical to the dict encoding.
_string = encode_basestring_ascii
_TEMPLATE = '{"action":%s,"actor":%s,"at":"%s","data":%s,"message":%s,"seq":%d,"subject":%s}'


def _iso(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (isoformat is several times faster than
    strftime; the bytes are the same)."""
    text = at.isoformat(timespec="microseconds")
    if text.endswith("+00:00"):
        return text[:-6] + "Z"
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _canonical(seq: int, at: datetime, actor: str, action: str, subject: str, message: str,
               data: Any) -> bytes:
    return (_TEMPLATE % (_string(action), _string(actor), _iso(at), _encode_data(data),
                         _string(message), int(seq), _string(subject))).encode()


def canonical(event: AuditEvent | dict[str, Any]) -> bytes:
    """The exact bytes that are hashed: stable key order, no whitespace, UTC times."""
    def get(key: str) -> Any:
        return event[key] if isinstance(event, dict) else getattr(event, key)

    return _canonical(get("seq"), get("at"), get("actor"), get("action"), get("subject"),
                      get("message"), get("data"))


def chain_hash(prev_hash: str, event: AuditEvent | dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(event)).hexdigest()


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})


def append(session: Session, events: Iterable[NewEvent], *, now: datetime | None = None,
           keys_are_new: bool = False) -> int:
    """Append events inside the caller's transaction; returns how many were new.

    Events whose idempotency key is stored already are skipped, which takes a read under the
    chain's lock. A caller that knows its keys cannot be stored yet says ``keys_are_new``
    and saves that read (a snapshot: its keys name a revision the dispute row had not
    reached, and row and events commit together); the keys' unique index still refuses a
    duplicate, failing the transaction rather than writing an event twice."""
    events = list(events)
    if not events:
        return 0
    _lock(session)
    keys = [e.idem_key for e in events if e.idem_key]
    seen: set[str] = set()
    if keys and not keys_are_new:
        seen = set(session.scalars(
            select(AuditEvent.idem_key).where(AuditEvent.idem_key.in_(keys))))
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    rows: list[dict[str, Any]] = []
    for ev in events:
        if ev.idem_key and ev.idem_key in seen:
            continue
        seq += 1
        row = {
            "seq": seq,
            "at": (ev.at or now or datetime.now(UTC)).astimezone(UTC),
            "actor": ev.actor,
            "action": ev.action,
            "subject": ev.subject,
            "message": ev.message,
            "data": json.loads(json.dumps(ev.data, default=str)),
            "idem_key": ev.idem_key,
            "prev_hash": prev,
        }
        # Microseconds survive every backend; hash what will be read back.
        row["hash"] = prev = chain_hash(prev, row)
        rows.append(row)
        if ev.idem_key:
            seen.add(ev.idem_key)
    if rows:  # one Core insert: no ORM objects to build and flush under the chain's lock
        session.execute(insert(_EVENTS), rows)
    return len(rows)


@dataclass
class VerifyResult:
    ok: bool
    events: int
    first_bad_event: int | None
    problem: str | None = None


# A textual query, so values arrive without SQLAlchemy's per-value processing except for the
# time, typed as everywhere else (``UTCDateTime``); ``data`` comes as text and is parsed here,
# because psycopg's own jsonb loading took half the time of fetching a row.
_PAGE = text(
    "SELECT seq, at, actor, action, subject, message, CAST(data AS TEXT) AS data, prev_hash, "
    "hash FROM audit_events WHERE seq > :after ORDER BY seq LIMIT :n"
).columns(column("seq"), column("at", UTCDateTime()), column("actor"), column("action"),
          column("subject"), column("message"), column("data"), column("prev_hash"),
          column("hash"))


def _rows(session: Session, batch: int = 20_000) -> Iterator[Any]:
    """``(seq, at, actor, action, subject, message, data, prev_hash, hash)`` with ``data``
    parsed, in keyset-paginated batches: constant memory, no ORM objects."""
    after = 0
    while True:
        rows = session.execute(_PAGE, {"after": after, "n": batch}).all()
        if not rows:
            return
        for seq, at, actor, action, subject, message, data, prev_hash, hash_ in rows:
            yield seq, at, actor, action, subject, message, json.loads(data), prev_hash, hash_
        after = rows[-1][0]


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain in constant memory; report the first sequence that does not hold."""
    prev, expected_seq, count = GENESIS, 1, 0
    sha256 = hashlib.sha256
    for seq, at, actor, action, subject, message, data, prev_hash, hash_ in _rows(session):
        count += 1
        if seq != expected_seq:
            bad = expected_seq if seq > expected_seq else seq
            return VerifyResult(False, count, bad, f"sequence {expected_seq} is missing")
        if prev_hash != prev:
            return VerifyResult(False, count, seq, "the link to the previous event is broken")
        body = _canonical(seq, at, actor, action, subject, message, data)
        if sha256(prev.encode() + b"\n" + body).hexdigest() != hash_:
            return VerifyResult(False, count, seq,
                                "the event's content does not match its hash")
        prev, expected_seq = hash_, expected_seq + 1
    return VerifyResult(True, count, None)


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
