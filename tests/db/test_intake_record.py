"""Intake's last write races the workflow it just started: the workflow's first snapshot may
write the dispute row first, and a twin request with the same Idempotency-Key may write the
key first. Neither may turn a created dispute into a 500."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from api import intake
from api.errors import AppError
from db import disputes
from db.models import Dispute, IdempotencyKey
from db.session import session_scope
from db.users import Principal
from domain.models import DisputeOpened, DisputeState
from tests.conftest import People

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _opened(people: People, dispute_id: str = "DSP-RACE") -> DisputeOpened:
    return DisputeOpened(dispute_id=dispute_id, account_id="ADV-1", invoice_number="INV-1001",
                         currency="USD", disputed_amount=Decimal("100.00"),
                         reason_code="rate_mismatch", description="race", line_ids=["L1"],
                         opened_by=people.ids["cs"], opened_at=NOW)


def _principal(people: People) -> Principal:
    return Principal(id=people.ids["cs"], name="cs", roles=("client_services",))


def test_snapshot_first_keeps_its_row_and_the_key_is_still_written(
        db_url: str, seeded: People) -> None:
    opened = _opened(seeded)
    with session_scope(db_url) as s:  # the workflow's first snapshot, committed first
        disputes.save_snapshot(s, state=DisputeState(opened=opened, revision=1), events=[])
    with session_scope(db_url) as s:
        intake.record(s, opened=opened, principal=_principal(seeded), key="k-1",
                      body_hash="h-1")
    with session_scope(db_url, readonly=True) as s:
        row = s.get(Dispute, opened.dispute_id)
        assert row is not None and row.revision == 1  # not overwritten by the intake row
        key = s.get(IdempotencyKey, (seeded.ids["cs"], "k-1"))
        assert key is not None and key.dispute_id == opened.dispute_id


def test_twin_request_with_the_same_body_is_fine_and_a_different_body_is_a_conflict(
        db_url: str, seeded: People) -> None:
    opened = _opened(seeded)
    with session_scope(db_url) as s:
        intake.record(s, opened=opened, principal=_principal(seeded), key="k-2",
                      body_hash="h-2")
    with session_scope(db_url) as s:  # the twin: same key, same body
        intake.record(s, opened=opened, principal=_principal(seeded), key="k-2",
                      body_hash="h-2")
    with pytest.raises(AppError) as err, session_scope(db_url) as s:
        intake.record(s, opened=opened, principal=_principal(seeded), key="k-2",
                      body_hash="other")
    assert err.value.code == "idempotency_conflict"
    with session_scope(db_url, readonly=True) as s:
        key = s.get(IdempotencyKey, (seeded.ids["cs"], "k-2"))
        assert key is not None and key.request_hash == "h-2"


def test_a_first_snapshot_that_loses_the_race_to_the_intake_row_updates_it(
        db_url: str, seeded: People, monkeypatch: pytest.MonkeyPatch) -> None:
    """The snapshot read no row, then the intake row committed before its insert: it must
    write its state over the intake row at once, not fail and wait for a retry."""
    opened = _opened(seeded)
    with session_scope(db_url) as s:
        intake.record(s, opened=opened, principal=_principal(seeded), key=None, body_hash="h")
    real_update, real_read = disputes.update_if_newer, disputes.locked_revision
    steps: list[str] = []

    def update_before_the_intake_commit(session: Session, dispute_id: str, revision: int,
                                        values: dict[str, Any]) -> bool:
        steps.append("update")  # the first one found no row yet
        return steps.count("update") > 1 and real_update(session, dispute_id, revision, values)

    def read_before_the_intake_commit(session: Session, dispute_id: str) -> int | None:
        steps.append("read")
        return None if steps.count("read") == 1 else real_read(session, dispute_id)

    monkeypatch.setattr(disputes, "update_if_newer", update_before_the_intake_commit)
    monkeypatch.setattr(disputes, "locked_revision", read_before_the_intake_commit)
    with session_scope(db_url) as s:
        assert disputes.save_snapshot(s, state=DisputeState(opened=opened, revision=1),
                                      events=[])
    with session_scope(db_url, readonly=True) as s:
        row = s.get(Dispute, opened.dispute_id)
        assert row is not None and row.revision == 1
    # no row, none to lock, the insert collides with the intake row, which is written over
    assert steps == ["update", "read", "read", "update"]
