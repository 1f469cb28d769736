"""Users, who is calling (a bearer token, ``db.tokens``, or the bootstrap admin) and
delegations."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import audit, tokens
from db import roles as role_history
from db.models import ApiToken, Delegation, User, table
from domain.codes import BUILTIN_ROLES

# Core reads on every request
_USERS, _DELEGATIONS, _TOKENS = table(User), table(Delegation), table(ApiToken)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a stored user, or the bootstrap admin of DISPUTEFLOW_ADMIN_TOKEN."""

    id: str
    name: str
    roles: tuple[str, ...]
    slack_user_id: str | None = None
    # The token that authenticated the call and when it was last stamped as used.
    token_id: str | None = None
    token_used_at: datetime | None = None

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    def use_due(self, now: datetime) -> bool:
        """Whether this call should stamp its token's last use (``tokens.USE_RESOLUTION``)."""
        return self.token_id is not None and (
            self.token_used_at is None or now - self.token_used_at >= tokens.USE_RESOLUTION)


BOOTSTRAP_ADMIN = Principal(id="admin", name="Bootstrap admin", roles=("admin",))


def to_principal(user: User) -> Principal:
    return Principal(user.id, user.name, tuple(user.roles), user.slack_user_id)


def user_names(session: Session, ids: set[str] | frozenset[str]) -> dict[str, str]:
    """Display names for user ids (one query); unknown ids (system, admin) stay as they are."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.name).where(User.id.in_(sorted(ids))))
    return {user_id: name for user_id, name in rows}


def authenticate(session: Session, *, token: str, admin_token: str | None,
                 now: datetime | None = None) -> Principal | None:
    """The caller holding ``token``: the bootstrap admin, or the active user of a token that
    is neither revoked nor expired (one indexed read)."""
    if admin_token and secrets.compare_digest(token.encode(), admin_token.encode()):
        return BOOTSTRAP_ADMIN
    now = now or datetime.now(UTC)
    u, t = _USERS.c, _TOKENS.c
    row = session.execute(
        select(u.id, u.name, u.roles, u.slack_user_id, t.id.label("token_id"), t.last_used_at)
        .join_from(_TOKENS, _USERS, u.id == t.user_id)
        .where(t.token_hash == tokens.hash_token(token), t.revoked_at.is_(None),
               (t.expires_at.is_(None)) | (t.expires_at > now), u.active.is_(True))).first()
    return None if row is None else Principal(row.id, row.name, tuple(row.roles),
                                              row.slack_user_id, row.token_id,
                                              row.last_used_at)


def principal_by_subject(session: Session, *, subject: str) -> Principal | None:
    """The active user an identity provider's subject (a service's OAuth client id) names."""
    user = session.scalars(select(User).where(User.oidc_subject == subject,
                                              User.active.is_(True))).first()
    return None if user is None else to_principal(user)


def create_user(
    session: Session,
    *,
    name: str,
    email: str,
    roles: list[str],
    slack_user_id: str | None,
    created_by: str,
    token_lifetime: timedelta | None = None,
    oidc_subject: str | None = None,
) -> tuple[User, str]:
    """Create a user and return it with its first token (shown once, stored hashed),
    expiring after ``token_lifetime`` (never with ``None``)."""
    user = User(
        id="U-" + uuid.uuid4().hex[:12].upper(),
        name=name,
        email=email.lower(),
        roles=sorted(set(roles)),
        slack_user_id=slack_user_id,
        active=True,
        created_at=datetime.now(UTC),
        oidc_subject=oidc_subject,
    )
    session.add(user)
    session.flush()
    role_history.record_initial(session, user=user, actor=created_by, at=user.created_at)
    audit.append(session, [audit.NewEvent(
        actor=created_by, action="user.created", subject=user.id,
        message=f"User {name} <{user.email}> created with roles {', '.join(user.roles)}.",
        data={"after": {"name": name, "email": user.email, "roles": user.roles,
                        "slack_user_id": slack_user_id, "oidc_subject": oidc_subject}},
    )])
    _, token = tokens.issue(session, user=user, name="initial token", actor=created_by,
                            now=user.created_at, lifetime=token_lifetime)
    return user, token


def email_taken(session: Session, email: str) -> bool:
    return session.scalar(select(User.id).where(User.email == email.lower())) is not None


def subject_taken(session: Session, subject: str) -> bool:
    return session.scalar(select(User.id).where(User.oidc_subject == subject)) is not None


def slack_id_taken(session: Session, slack_user_id: str) -> bool:
    return session.scalar(select(User.id).where(User.slack_user_id == slack_user_id)) is not None


def add_delegation(
    session: Session, *, user_id: str, delegate_id: str, starts_at: datetime, ends_at: datetime,
    created_by: str,
) -> Delegation:
    row = Delegation(user_id=user_id, delegate_id=delegate_id, starts_at=starts_at,
                     ends_at=ends_at, created_by=created_by, created_at=datetime.now(UTC))
    session.add(row)
    session.flush()
    audit.append(session, [audit.NewEvent(
        actor=created_by, action="delegation.created", subject=user_id,
        message=f"{user_id} delegates approval authority to {delegate_id} "
                f"from {starts_at.isoformat()} to {ends_at.isoformat()}.",
        data={"after": {"delegate_id": delegate_id, "starts_at": starts_at.isoformat(),
                        "ends_at": ends_at.isoformat()}},
    )])
    return row


@dataclass(frozen=True)
class Lent:
    """Authority lent by ``user_id`` (``name``, holding ``roles``) for ``[starts_at,
    ends_at)``."""

    user_id: str
    name: str
    roles: list[str]
    starts_at: datetime
    ends_at: datetime


def lent_to(session: Session, *, delegate_id: str, at: datetime) -> list[Lent]:
    """Delegations to ``delegate_id`` whose window contains ``at``, from active users: one
    Core read (a decision makes it, and the approval pages)."""
    d, u = _DELEGATIONS.c, _USERS.c
    rows = session.execute(
        select(u.id, u.name, u.roles, d.starts_at, d.ends_at).join_from(
            _DELEGATIONS, _USERS, u.id == d.user_id)
        .where(d.delegate_id == delegate_id, d.starts_at <= at, d.ends_at > at,
               u.active.is_(True)))
    return [Lent(r.id, r.name, list(r.roles), r.starts_at, r.ends_at) for r in rows]


def approval_roles(roles: Sequence[str]) -> set[str]:
    """The approval roles among ``roles``: every role but the built-in ones (the policy's
    levels name them)."""
    return set(roles) - set(BUILTIN_ROLES)


def may_approve(session: Session, *, principal: Principal, at: datetime) -> bool:
    """Whether ``principal`` can decide some approval level at ``at``: they hold an approval
    role, or act for someone who does by a delegation active then. The pages show "My
    approvals" only to them."""
    if approval_roles(principal.roles):
        return True
    return any(approval_roles(lent.roles)
               for lent in lent_to(session, delegate_id=principal.id, at=at))
