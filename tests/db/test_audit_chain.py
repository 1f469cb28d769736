"""The audit chain detects every kind of tampering and stays unbroken under concurrency."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from db import audit
from db.models import AuditEvent
from db.session import session_scope


def _fill(url: str, n: int = 5) -> None:
    with session_scope(url) as s:
        audit.append(s, [audit.NewEvent(actor="u1", action="test.event", subject="S-1",
                                        message=f"event {i}", data={"i": i}) for i in range(n)])


def test_an_untouched_chain_verifies(db_url: str) -> None:
    _fill(db_url)
    with session_scope(db_url) as s:
        result = audit.verify(s)
    assert result.ok and result.first_bad_event is None
    assert result.events >= 5


def _last_seqs(url: str) -> list[int]:
    with session_scope(url) as s:
        return list(s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))


@pytest.mark.parametrize("tamper", ["edit_message", "edit_data", "edit_actor", "delete",
                                    "insert", "reorder", "rehash_one"])
def test_tampering_is_detected_at_the_first_bad_event(db_url: str, tamper: str) -> None:
    _fill(db_url)
    seqs = _last_seqs(db_url)
    target = seqs[-3]
    with session_scope(db_url) as s:
        row = s.get(AuditEvent, target)
        assert row is not None
        if tamper == "edit_message":
            row.message = "nothing happened"
        elif tamper == "edit_data":
            row.data = {"i": 999}
        elif tamper == "edit_actor":
            row.actor = "someone-else"
        elif tamper == "delete":
            s.execute(delete(AuditEvent).where(AuditEvent.seq == target))
        elif tamper == "insert":
            at, prev_hash = row.at, row.prev_hash
            s.expunge_all()
            s.execute(update(AuditEvent).where(AuditEvent.seq >= target)
                      .values(seq=AuditEvent.seq + 1000))
            s.execute(insert(AuditEvent).values(
                seq=target, at=at, actor="x", action="forged", subject="S-1",
                message="forged", data={}, prev_hash=prev_hash, hash="0" * 64))
            s.execute(update(AuditEvent).where(AuditEvent.seq > 1000)
                      .values(seq=AuditEvent.seq - 999))
        elif tamper == "reorder":
            other = s.get(AuditEvent, target + 1)
            assert other is not None
            row.message, other.message = other.message, row.message
            row.data, other.data = other.data, row.data
        elif tamper == "rehash_one":
            row.message = "quietly changed"
            row.hash = audit.chain_hash(row.prev_hash, row)  # the next link still breaks
    with session_scope(db_url) as s:
        result = audit.verify(s)
    assert not result.ok
    expected = target + 1 if tamper == "rehash_one" else target
    assert result.first_bad_event == expected, result


def test_retried_appends_with_the_same_key_are_written_once(db_url: str) -> None:
    for _ in range(3):
        with session_scope(db_url) as s:
            audit.append(s, [audit.NewEvent(actor="w", action="x", subject="S-2", message="m",
                                            idem_key="S-2:1:0")])
    with session_scope(db_url) as s:
        rows = list(s.scalars(select(AuditEvent).where(AuditEvent.subject == "S-2")))
    assert len(rows) == 1


def test_a_caller_wrong_about_its_keys_being_new_fails_rather_than_writes_twice(
        db_url: str) -> None:
    event = audit.NewEvent(actor="w", action="x", subject="S-4", message="m",
                           idem_key="S-4:1:0")
    with session_scope(db_url) as s:
        audit.append(s, [event], keys_are_new=True)
    with pytest.raises(IntegrityError), session_scope(db_url) as s:
        audit.append(s, [event], keys_are_new=True)
    with session_scope(db_url) as s:
        assert len(list(s.scalars(select(AuditEvent).where(AuditEvent.subject == "S-4")))) == 1
        assert audit.verify(s).ok


def test_concurrent_writers_keep_one_unbroken_chain(db_url: str) -> None:
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(15):
                with session_scope(db_url) as s:
                    audit.append(s, [audit.NewEvent(actor=f"w{k}", action="c", subject="S-3",
                                                    message=f"{k}-{i}")])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with session_scope(db_url) as s:
        result = audit.verify(s)
        n = len(list(s.scalars(select(AuditEvent.seq).where(AuditEvent.subject == "S-3"))))
    assert result.ok and n == 60
