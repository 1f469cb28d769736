"""Letters to billing contacts in the database: the admin's templates, and the letters each
recorded change calls for, written in its transaction (so a customer hears of a change if and
only if it was recorded) and sent by the worker's mail dispatcher under a lease, retried with
backoff for a day like webhooks. A letter is written once per dispute, kind and memo (the
unique key), whatever retries the snapshot goes through."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from db import audit
from db.models import Account, Letter, LetterTemplate, table
from domain import letters as rules
from domain.retries import Retry

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(minutes=30)
RETRY_FOR = timedelta(days=1)
PENDING, SENT, FAILED, UNADDRESSED = "pending", "sent", "failed", "unaddressed"
SUBJECT_MAX = 500  # the column's length: a longer rendered subject is cut, never refused
_LETTERS = table(Letter)


# -- templates ----------------------------------------------------------------------------

def template(session: Session, kind: str) -> tuple[str, str, LetterTemplate | None]:
    """The subject and body ``kind`` is written with: the admin's, else the built-in."""
    row = session.get(LetterTemplate, kind)
    if row is not None:
        return row.subject, row.body, row
    subject, body = rules.DEFAULTS[kind]
    return subject, body, None


def set_template(session: Session, *, kind: str, subject: str, body: str, actor: str,
                 now: datetime) -> LetterTemplate:
    """Reword a kind of letter (checked first: it must render with that letter's fields);
    audited with the wording before and after."""
    rules.check_template(kind, subject, body)
    before_subject, before_body, row = template(session, kind)
    if row is None:
        row = LetterTemplate(kind=kind, subject=subject, body=body, updated_by=actor,
                             updated_at=now)
        session.add(row)
    else:
        row.subject, row.body, row.updated_by, row.updated_at = subject, body, actor, now
    session.flush()
    audit.append(session, [audit.NewEvent(
        actor=actor, action="letter.template_set", subject=f"letter:{kind}",
        message=f"The {kind} letter was reworded by {actor}.",
        data={"before": {"subject": before_subject, "body": before_body},
              "after": {"subject": subject, "body": body}})])
    return row


def reset_template(session: Session, *, kind: str, actor: str) -> None:
    row = session.get(LetterTemplate, kind)
    if row is not None:
        session.delete(row)
        audit.append(session, [audit.NewEvent(
            actor=actor, action="letter.template_reset", subject=f"letter:{kind}",
            message=f"The {kind} letter is written with the built-in wording again.",
            data={"before": {"subject": row.subject, "body": row.body}})])


# -- letters, written with the change -----------------------------------------------------

def account_contact(session: Session, account_id: str) -> tuple[str, str | None]:
    """The account's name (what letters call it) and billing email."""
    row = session.execute(select(Account.name, Account.billing_email)
                          .where(Account.id == account_id)).first()
    return (row[0], row[1]) if row is not None else (account_id, None)


def queue(session: Session, *, dispute_id: str, letters: Sequence[rules.Letter],
          recipient: str | None, now: datetime) -> int:
    """Render and write the change's letters (pending, or unaddressed without a billing
    email); how many are to be sent. Nothing here may fail the change it is written with: a
    template that cannot be written for this dispute's data leaves the letter failed, with
    why, for the dispute to show."""
    if not letters:
        return 0
    already = {(kind, memo) for kind, memo in session.execute(
        select(Letter.kind, Letter.memo_number).where(Letter.dispute_id == dispute_id))}
    rows: list[dict[str, Any]] = []
    for letter in letters:
        memo = letter.memo_number or ""
        if (letter.kind, memo) in already:
            continue
        subject_t, body_t, _ = template(session, letter.kind)
        status, error = (PENDING, None) if recipient else (
            UNADDRESSED, "The account has no billing email.")
        try:
            subject, body = rules.render(subject_t, body_t, letter.fields)
        except Exception as exc:  # the change is recorded all the same; the letter says why
            subject, body = f"{letter.kind} letter about {dispute_id}", ""
            status, error = FAILED, (f"The {letter.kind} template could not be written for "
                                     f"this dispute ({type(exc).__name__}: {exc}); reword it "
                                     "at /admin/letters.")
        rows.append({"dispute_id": dispute_id, "kind": letter.kind, "memo_number": memo,
                     "recipient": recipient, "subject": subject[:SUBJECT_MAX], "body": body,
                     "status": status, "attempts": 0, "created_at": now, "next_at": now,
                     "last_error": error,
                     "message_id": f"<letter-{uuid.uuid4().hex}@disputeflow>"})
    if rows:
        session.execute(insert(_LETTERS), rows)
    return sum(1 for r in rows if r["status"] == PENDING)


# -- sending ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    id: int
    dispute_id: str
    kind: str
    memo_number: str
    recipient: str
    subject: str
    body: str
    message_id: str
    attempts: int


def claim(session: Session, *, now: datetime, lease: timedelta, limit: int = 4) -> list[Claimed]:
    found = session.execute(
        select(Letter.id, Letter.dispute_id, Letter.kind, Letter.memo_number, Letter.recipient,
               Letter.subject, Letter.body, Letter.message_id, Letter.attempts)
        .where(Letter.status == PENDING, Letter.next_at <= now,
               or_(Letter.lease_until.is_(None), Letter.lease_until < now))
        .order_by(Letter.id).limit(limit).with_for_update(skip_locked=True)).all()
    if found:
        session.execute(update(_LETTERS).where(_LETTERS.c.id.in_([f.id for f in found]))
                        .values(lease_until=now + lease))
    return [Claimed(f.id, f.dispute_id, f.kind, f.memo_number, f.recipient, f.subject, f.body,
                    f.message_id, f.attempts) for f in found]


def sent(session: Session, *, letter_id: int, now: datetime) -> None:
    session.execute(update(_LETTERS).where(_LETTERS.c.id == letter_id).values(
        status=SENT, sent_at=now, lease_until=None, last_error=None,
        attempts=_LETTERS.c.attempts + 1))


def attempt_failed(session: Session, *, letter_id: int, now: datetime, error: str,
                   first: timedelta = FIRST_RETRY, longest: timedelta = LONGEST_RETRY,
                   retry_for: timedelta = RETRY_FOR) -> str:
    """Record a refused or undelivered attempt and back off; a day after the letter was
    written it is marked failed. Its new status."""
    row = session.execute(select(Letter.attempts, Letter.created_at)
                          .where(Letter.id == letter_id)).first()
    if row is None:
        return PENDING
    attempts, created = row
    due = Retry(first, longest, retry_for).next_attempt(now=now, attempts=attempts,
                                                        since=created)
    session.execute(update(_LETTERS).where(_LETTERS.c.id == letter_id).values(
        attempts=attempts + 1, last_error=error[:2000], lease_until=None, next_at=due or now,
        status=PENDING if due else FAILED))
    return PENDING if due else FAILED


def of_dispute(session: Session, dispute_id: str) -> list[Letter]:
    return list(session.scalars(select(Letter).where(Letter.dispute_id == dispute_id)
                                .order_by(Letter.id)))


def backlog(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Letter)
                              .where(Letter.status == PENDING)) or 0)
