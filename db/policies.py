"""Approval policy versions: each apply is a new version; a dispute keeps the one it used."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from approvals.policy import parse_policy, policy_to_document
from db import audit
from db.models import PolicyVersion


def current(session: Session) -> PolicyVersion:
    row = session.scalar(select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(1))
    if row is None:  # pragma: no cover - migration 0002 installs version 1
        raise LookupError("no approval policy is installed; run `disputeflow migrate`")
    return row


def get(session: Session, version: int) -> PolicyVersion | None:
    return session.get(PolicyVersion, version)


def history(session: Session) -> list[PolicyVersion]:
    return list(session.scalars(select(PolicyVersion).order_by(PolicyVersion.version.desc())))


def apply(session: Session, *, document: dict[str, Any], actor: str,
          approved_by: str | None = None, change_id: str | None = None) -> PolicyVersion:
    """Validate the whole document (raises PolicyError) and store it as the next version;
    ``approved_by`` names the second admin when four eyes applied it (``change_id``)."""
    policy = parse_policy(document)
    normalized = policy_to_document(policy)
    before = current(session)
    now = datetime.now(UTC)
    row = PolicyVersion(version=before.version + 1, document=normalized, created_by=actor,
                        created_at=now, effective_from=now)
    session.add(row)
    session.flush()
    approval = f", proposed by {actor}, approved by {approved_by} (change {change_id})" \
        if approved_by else ""
    audit.append(session, [audit.NewEvent(
        actor=approved_by or actor, action="policy.applied", subject=f"policy:{row.version}",
        message=f"Approval policy version {row.version} applied (replaces {before.version})"
                f"{approval}.",
        data={"before": {"version": before.version}, "after": normalized,
              **({"proposed_by": actor, "approved_by": approved_by, "change_id": change_id}
                 if approved_by else {})},
    )])
    return row
