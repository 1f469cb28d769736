"""Four eyes on changes that control money: a policy version or a grant of an approval role
is stored as a proposal, with what it would change, and takes effect only when a second
admin approves it. The proposer cannot approve their own change. Each step is audited in
the hash chain, in the transaction that makes it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from approvals.policy import parse_policy, policy_to_document
from approvals.policy_diff import diff
from db import audit, policies, sso
from db import roles as role_history
from db.models import Change, User

__all__ = ["ChangeError", "approve", "get", "listing", "propose_policy", "propose_role_grant",
           "reject"]

KINDS = ("policy", "role_grant")


class ChangeError(Exception):
    """Why a change cannot be approved or rejected: ``code`` is the API's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _new(session: Session, *, kind: str, payload: dict[str, Any], changes: list[Any],
         actor: str, reason: str, base_version: int | None = None,
         backtest: dict[str, Any] | None = None) -> Change:
    row = Change(id="CHG-" + uuid.uuid4().hex[:12].upper(), kind=kind, status="proposed",
                 payload=payload, diff=changes, base_version=base_version, backtest=backtest,
                 reason=reason, proposed_by=actor, proposed_at=datetime.now(UTC))
    session.add(row)
    session.flush()
    audit.append(session, [audit.NewEvent(
        actor=actor, action="change.proposed", subject=f"change:{row.id}",
        message=f"{actor} proposed a {kind.replace('_', ' ')} change ({row.id}): {reason}",
        data={"kind": kind, "payload": payload, "diff": changes})])
    return row


def propose_policy(session: Session, *, document: dict[str, Any], actor: str, reason: str,
                   backtest: dict[str, Any] | None) -> Change:
    """Validate the policy (raises PolicyError, as applying it would) and propose it, with
    its diff against the version in force and the back-test the caller ran."""
    normalized = policy_to_document(parse_policy(document))
    current = policies.current(session)
    return _new(session, kind="policy", payload={"document": normalized},
                changes=diff(current.document, normalized), actor=actor, reason=reason,
                base_version=current.version, backtest=backtest)


def propose_role_grant(session: Session, *, user: User, role: str, actor: str,
                       reason: str) -> Change:
    """Propose granting ``role`` to ``user`` (refused at once if they hold it)."""
    if role in user.roles:
        raise role_history.RoleChangeError(f"{user.name} holds the role {role} already.")
    return _new(session, kind="role_grant",
                payload={"user_id": user.id, "role": role, "reason": reason},
                changes=[{"path": f"users.{user.id}.roles", "before": user.roles,
                          "after": sorted({*user.roles, role})}],
                actor=actor, reason=reason)


def propose_group_roles(session: Session, *, mapping: dict[str, list[str]], actor: str,
                        reason: str) -> Change:
    """Propose replacing the SSO group-to-role mapping: its members' roles follow it at
    sign-in, so a mapping that hands out approval roles controls money like a grant does."""
    before = sso.group_roles(session)
    after = {group: sorted(set(roles)) for group, roles in mapping.items() if roles}
    changed = [{"path": f"sso.group_roles.{group}", "before": before.get(group),
                "after": after.get(group)}
               for group in sorted(set(before) | set(after))
               if before.get(group) != after.get(group)]
    return _new(session, kind="group_roles", payload={"mapping": after}, changes=changed,
                actor=actor, reason=reason)


def get(session: Session, change_id: str, *, for_update: bool = False) -> Change | None:
    query = select(Change).where(Change.id == change_id)
    return session.scalars(query.with_for_update() if for_update else query).first()


def listing(session: Session, *, status: str | None) -> list[Change]:
    query = select(Change).order_by(Change.proposed_at.desc(), Change.id)
    if status:
        query = query.where(Change.status == status)
    return list(session.scalars(query.limit(500)))


def _open(session: Session, change_id: str) -> Change:
    row = get(session, change_id, for_update=True)
    if row is None:
        raise ChangeError("not_found", f"There is no change {change_id}.")
    if row.status != "proposed":
        raise ChangeError("wrong_state", f"Change {change_id} was {row.status} already by "
                          f"{row.decided_by}; it cannot be decided again.")
    return row


def approve(session: Session, *, change_id: str, actor: str, comment: str | None) -> Change:
    """Apply the change as its proposer asked, recording the approver. Refuses the proposer
    (``sod_violation``), a decided change, and a policy proposed against a version that is no
    longer in force (its diff and back-test would describe another change)."""
    row = _open(session, change_id)
    if actor == row.proposed_by:
        raise ChangeError("sod_violation", f"You proposed change {change_id}; a second admin "
                          "must approve it.")
    if row.kind == "policy":
        current = policies.current(session)
        if current.version != row.base_version:
            raise ChangeError("wrong_state", f"Change {change_id} was proposed against policy "
                              f"version {row.base_version}, but version {current.version} is "
                              "in force now; propose it again so its diff is current.")
        policies.apply(session, document=row.payload["document"], actor=row.proposed_by,
                       approved_by=actor, change_id=row.id)
    elif row.kind == "group_roles":
        sso.set_group_roles(session, mapping=row.payload["mapping"], actor=row.proposed_by,
                            now=datetime.now(UTC))
    else:
        user = session.get(User, row.payload["user_id"])
        if user is None or not user.active:
            raise ChangeError("wrong_state", f"User {row.payload['user_id']} is no longer "
                              "active; the grant cannot be made.")
        try:
            role_history.grant(session, user=user, role=row.payload["role"],
                               actor=row.proposed_by, reason=row.payload["reason"],
                               change_id=row.id, approved_by=actor)
        except role_history.RoleChangeError as err:
            raise ChangeError("wrong_state", str(err)) from None
    return _decide(session, row, "approved", actor, comment)


def reject(session: Session, *, change_id: str, actor: str, comment: str | None) -> Change:
    """Turn the change down (its proposer may withdraw it this way too); nothing applies."""
    return _decide(session, _open(session, change_id), "rejected", actor, comment)


def _decide(session: Session, row: Change, status: str, actor: str,
            comment: str | None) -> Change:
    row.status, row.decided_by, row.decided_at = status, actor, datetime.now(UTC)
    row.decision_comment = comment
    session.flush()
    audit.append(session, [audit.NewEvent(
        actor=actor, action=f"change.{status}", subject=f"change:{row.id}",
        message=f"{actor} {status} change {row.id} proposed by {row.proposed_by}"
                + (f": {comment}" if comment else "."),
        data={"kind": row.kind, "comment": comment})])
    return row
