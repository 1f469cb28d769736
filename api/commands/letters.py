"""Letters to billing contacts: an admin rewording a kind of letter (checked before it is
stored), and a dispute's letters as people read them. The API routes are thin adapters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from api.errors import AppError
from db import letters
from db.models import Dispute, Letter
from domain import letters as rules


def template_out(session: Session, kind: str) -> dict[str, Any]:
    subject, body, row = letters.template(session, kind)
    return {"kind": kind, "subject": subject, "body": body, "fields": list(rules.FIELDS[kind]),
            "customized": row is not None, "updated_by": row.updated_by if row else None,
            "updated_at": row.updated_at if row else None}


def _known(kind: str) -> None:
    if kind not in rules.FIELDS:
        raise AppError("not_found", f"There is no letter '{kind}'; letters are "
                       f"{', '.join(rules.KINDS)}.")


def set_template(session: Session, *, kind: str, subject: str, body: str,
                 actor: str) -> dict[str, Any]:
    _known(kind)
    try:
        letters.set_template(session, kind=kind, subject=subject, body=body, actor=actor,
                             now=datetime.now(UTC))
    except rules.TemplateRefused as exc:
        raise AppError("validation_error", str(exc), [{"field": "body", "message": str(exc)}]
                       ) from None
    return template_out(session, kind)


def reset_template(session: Session, *, kind: str, actor: str) -> dict[str, Any]:
    _known(kind)
    letters.reset_template(session, kind=kind, actor=actor)
    session.flush()
    return template_out(session, kind)


def letter_out(row: Letter) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "status": row.status, "recipient": row.recipient,
            "subject": row.subject, "body": row.body, "credit_memo": row.memo_number or None,
            "attempts": row.attempts, "created_at": row.created_at, "sent_at": row.sent_at,
            "last_error": row.last_error, "message_id": row.message_id}


def of_dispute(session: Session, dispute_id: str) -> list[dict[str, Any]]:
    if session.get(Dispute, dispute_id) is None:
        raise AppError("not_found", f"There is no dispute {dispute_id}.")
    return [letter_out(r) for r in letters.of_dispute(session, dispute_id)]
