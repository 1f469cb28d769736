"""Letters written with a change (SQLite, and PostgreSQL in CI): nothing in a letter may fail
the change it is written with — a template that cannot be written for this dispute's data,
or a subject longer than the column, leaves the letter showing why instead."""

from __future__ import annotations

from datetime import UTC, datetime

from db import letters
from db.session import session_scope
from domain.letters import Letter, fields_of
from tests.unit.test_letters import state

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
FIELDS = {"dispute_id": "DSP-1", "account_id": "ADV-1", "account_name": "Acme",
          "invoice_number": "INV-9", "currency": "EUR", "disputed_amount": "1.00 EUR",
          "reason": "rate mismatch", "description": "d" * 900, "opened_on": "2026-12-07",
          "issuer_name": "Billing", "credit_memo": "CM-1", "credit_total": "1.00 EUR",
          "ledger_reference": ""}


def test_a_template_failing_on_real_data_fails_the_letter_not_the_change(db_url: str) -> None:
    with session_scope(db_url) as s:
        letters.set_template(s, kind="resolution", subject="CM {{ ledger_reference[0] }}",
                             body="x", actor="admin", now=NOW)  # fine on the stand-ins
        queued = letters.queue(s, dispute_id="DSP-1", now=NOW, recipient="ap@acme.example",
                               letters=[Letter("resolution", FIELDS, "CM-1")])
    assert queued == 0
    with session_scope(db_url) as s:
        (row,) = letters.of_dispute(s, "DSP-1")
        assert row.status == "failed" and "reword it" in (row.last_error or "")


def test_a_long_subject_is_cut_to_fit(db_url: str) -> None:
    with session_scope(db_url) as s:
        letters.set_template(s, kind="acknowledgement", subject="{{ description }}",
                             body="x", actor="admin", now=NOW)
        assert letters.queue(s, dispute_id="DSP-2", now=NOW, recipient="ap@acme.example",
                             letters=[Letter("acknowledgement", FIELDS)]) == 1
    with session_scope(db_url) as s:
        (row,) = letters.of_dispute(s, "DSP-2")
        assert row.status == "pending" and len(row.subject) == letters.SUBJECT_MAX


def test_a_letter_is_written_once_however_often_the_change_is(db_url: str) -> None:
    due = [Letter("acknowledgement", fields_of(state(), account_name="Acme",
                                               issuer_name="Billing"))]
    for _ in range(2):
        with session_scope(db_url) as s:
            letters.queue(s, dispute_id="DSP-1", now=NOW, recipient=None, letters=due)
    with session_scope(db_url) as s:
        assert [r.status for r in letters.of_dispute(s, "DSP-1")] == ["unaddressed"]
