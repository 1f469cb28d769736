"""The admin's commands on what controls money and who gets in: apply a policy, grant or
remove a role, approve or reject a four-eyes change, end a user's web sessions. The API
routes and the admin pages both call these, so whether four eyes applies, and how each
refusal reads, is decided in one place.

With ``DISPUTEFLOW_FOUR_EYES`` a policy change, a grant of an approval role, or an SSO group
mapping that hands out an approval role comes back as a proposal (:class:`~db.models.Change`);
otherwise it applies at once. Removing a role never
waits for a second admin: it only takes authority away.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from api.errors import AppError
from approvals.policy_problems import PolicyError
from config.settings import Settings
from db import changes, policies, sso, web_sessions
from db import roles as role_history
from db.models import Change, PolicyVersion, RoleGrant, User
from db.policy_backtest import run_backtest
from db.users import approval_roles

__all__ = ["change_out", "decide_change", "end_sessions", "grant_role", "remove_role",
           "set_group_roles", "set_policy"]


def _policy_refused(exc: PolicyError) -> AppError:
    return AppError("validation_error", str(exc), [p.model_dump() for p in exc.problems])


def _change_refused(exc: changes.ChangeError) -> AppError:
    return AppError(exc.code, str(exc))


def change_out(row: Change) -> dict[str, Any]:
    """A change as the API and the pages show it."""
    return {"change_id": row.id, "kind": row.kind, "status": row.status, "reason": row.reason,
            "diff": row.diff, "payload": row.payload, "base_version": row.base_version,
            "backtest": row.backtest, "proposed_by": row.proposed_by,
            "proposed_at": row.proposed_at, "decided_by": row.decided_by,
            "decided_at": row.decided_at, "decision_comment": row.decision_comment}


# Memos a proposal's attached back-test lists one by one; its summary counts them all.
ATTACHED_MEMOS = 500


def _attached(result: dict[str, Any]) -> dict[str, Any]:
    """The back-test kept with a proposal: the summary, and the memos whose chain would
    change (a quarter of unchanged memos would only bloat the row the reviewer reads)."""
    changed = [m for m in result["memos"] if m["chain_then"] != m["chain_proposed"]]
    return {**result, "memos": changed[:ATTACHED_MEMOS],
            "memos_changed": len(changed), "memos_listed": min(len(changed), ATTACHED_MEMOS)}


def set_policy(session: Session, *, settings: Settings, document: dict[str, Any], actor: str,
               reason: str | None) -> PolicyVersion | Change:
    """Apply ``document`` as the next policy version, or, with four eyes, propose it with the
    back-test of the last ``DISPUTEFLOW_BACKTEST_DAYS`` attached so the second admin sees what
    it would have done to recent memos."""
    try:
        if not settings.disputeflow_four_eyes:
            return policies.apply(session, document=document, actor=actor)
        end = datetime.now(UTC)
        start = end - timedelta(days=settings.disputeflow_backtest_days)
        backtest = run_backtest(session, document=document, start=start, end=end)
        return changes.propose_policy(session, document=document, actor=actor,
                                      reason=reason or "policy change",
                                      backtest=_attached(backtest.model_dump(mode="json")))
    except PolicyError as exc:
        raise _policy_refused(exc) from None


def _user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise AppError("not_found", f"There is no user {user_id}.")
    if not user.active:
        raise AppError("wrong_state", f"User {user.name} is inactive; their roles cannot "
                       "change.")
    return user


def grant_role(session: Session, *, settings: Settings, user_id: str, role: str, actor: str,
               reason: str) -> RoleGrant | Change:
    """Grant ``role`` now, or, with four eyes and an approval role, propose the grant."""
    user = _user(session, user_id)
    try:
        if settings.disputeflow_four_eyes and approval_roles([role]):
            return changes.propose_role_grant(session, user=user, role=role, actor=actor,
                                              reason=reason)
        return role_history.grant(session, user=user, role=role, actor=actor, reason=reason)
    except role_history.RoleChangeError as exc:
        raise AppError("wrong_state", str(exc)) from None


def remove_role(session: Session, *, user_id: str, role: str, actor: str,
                reason: str) -> RoleGrant:
    """End the user's holding of ``role`` now (a user left with no role can read nothing)."""
    user = _user(session, user_id)
    try:
        return role_history.remove(session, user=user, role=role, actor=actor, reason=reason)
    except role_history.RoleChangeError as exc:
        raise AppError("not_found", str(exc)) from None


def decide_change(session: Session, *, change_id: str, actor: str, approve: bool,
                  comment: str | None) -> Change:
    """Approve (apply) or reject a four-eyes change, each refusal as the API words it."""
    try:
        if approve:
            return changes.approve(session, change_id=change_id, actor=actor, comment=comment)
        return changes.reject(session, change_id=change_id, actor=actor, comment=comment)
    except changes.ChangeError as exc:
        raise _change_refused(exc) from None
    except PolicyError as exc:  # the rules changed under a stored proposal
        raise _policy_refused(exc) from None


def end_sessions(session: Session, *, user_id: str, actor: str, reason: str) -> int:
    """Sign ``user_id`` out of every browser now (audited); their API tokens are untouched
    (revoke those separately). Returns how many sessions were live."""
    if session.get(User, user_id) is None:
        raise AppError("not_found", f"There is no user {user_id}.")
    return web_sessions.end_all(session, user_id=user_id, actor=actor,
                                now=datetime.now(UTC), reason=reason)


def set_group_roles(session: Session, *, settings: Settings, mapping: dict[str, list[str]],
                    actor: str, reason: str | None = None) -> dict[str, list[str]] | Change:
    """Replace the SSO group-to-role mapping (audited, before and after) — or, with four
    eyes, propose it when it gives a group an approval role it did not give before: members
    get their roles from it at sign-in, so it grants authority over money as a grant does."""
    if len(mapping) > 500:
        raise AppError("validation_error", "At most 500 groups can be mapped.")
    if settings.disputeflow_four_eyes:
        before = sso.group_roles(session)
        if any(approval_roles(sorted(set(roles) - set(before.get(group, [])))) for
               group, roles in mapping.items()):
            return changes.propose_group_roles(session, mapping=mapping, actor=actor,
                                               reason=reason or "SSO group mapping change")
    return sso.set_group_roles(session, mapping=mapping, actor=actor, now=datetime.now(UTC))
