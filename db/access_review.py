"""The access review: every user and every role they hold, since when, granted by whom and
why, their last activity, and the segregation-of-duties conflicts in their role set, so an
auditor's quarterly recertification has its evidence in one export.

Read from the role history (``db.roles``), the audit trail (last activity: the latest event
a user caused, by the ``(actor, at)`` index) and the policy in force (which roles approve).
Four queries whatever the number of users.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from approvals.access_conflicts import conflicts
from approvals.policy import parse_policy
from db import policies
from db.csv_cells import escaped
from db.models import AuditEvent, RoleGrant, User

__all__ = ["COLUMNS", "ReviewRow", "export", "review"]

COLUMNS = ("user_id", "user_name", "email", "active", "role", "since", "granted_by",
           "granted_by_name", "grant_reason", "change_id", "last_activity", "conflicts")


@dataclass(frozen=True)
class ReviewRow:
    """One role one user holds now (``role`` empty for a user who holds none)."""

    user_id: str
    user_name: str
    email: str
    active: bool
    role: str
    since: datetime | None
    granted_by: str | None
    granted_by_name: str | None
    grant_reason: str | None
    change_id: str | None
    last_activity: datetime | None
    conflicts: list[str]


def review(session: Session) -> list[ReviewRow]:
    """Rows ordered by user name, then role."""
    policy = parse_policy(policies.current(session).document)
    users = list(session.scalars(select(User).order_by(User.name, User.id)))
    names = {u.id: u.name for u in users}
    current: dict[tuple[str, str], RoleGrant] = {}
    for held in session.scalars(select(RoleGrant).where(RoleGrant.removed_at.is_(None))
                                .order_by(RoleGrant.granted_at)):
        current[(held.user_id, held.role)] = held  # the latest holding wins
    # One correlated max per user: each is an index lookup, not a scan of the whole trail.
    latest = (select(func.max(AuditEvent.at)).where(AuditEvent.actor == User.id)
              .correlate(User).scalar_subquery())
    last = dict(session.execute(select(User.id, latest)).all())
    rows: list[ReviewRow] = []
    for user in users:
        found = conflicts(user.roles, policy)
        for role in user.roles or [""]:
            grant = current.get((user.id, role))
            rows.append(ReviewRow(
                user_id=user.id, user_name=user.name, email=user.email, active=user.active,
                role=role, since=grant.granted_at if grant else None,
                granted_by=grant.granted_by if grant else None,
                granted_by_name=names.get(grant.granted_by, grant.granted_by) if grant else None,
                grant_reason=grant.grant_reason if grant else None,
                change_id=grant.change_id if grant else None,
                last_activity=last.get(user.id),
                conflicts=[c.message for c in found if role in c.roles]))
    return rows


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(value)
    return str(value)


def export(rows: list[ReviewRow], *, format: Literal["csv", "json"]) -> Iterator[str]:
    """The review as CSV (formula-escaped cells) or a JSON document ``{"items": [..]}``."""
    if format == "json":
        yield json.dumps({"items": [asdict(r) for r in rows]}, default=_cell)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(escaped([_cell(getattr(row, c)) for c in COLUMNS]))
    yield buffer.getvalue()
