"""Who may do what: users, their API tokens and web sessions, single sign-on (pending sign-ins,
the group-to-role mapping), the history of their roles, four-eyes changes, delegations, and
failed sign-in attempts. ``db.models`` re-exports them, so every table is
still found in one place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.model_base import Base


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    slack_user_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # The identity provider's ``sub`` once the user has signed in with SSO (or, for a
    # service, the OAuth client id its client-credentials tokens carry).
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True)


class ApiToken(Base):
    """One bearer token of a user's, stored only as its SHA-256: a name saying what uses it,
    an expiry, when it was last used, and when and by whom it was revoked."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class WebSession(Base):
    """A signed-in browser: the cookie holds a secret whose SHA-256 is ``id``. It ends at
    ``expires_at``, at sign-out, when an admin ends it, or with the token it was opened
    with (revoked or expired) or its user (deactivated)."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # No foreign key: the bootstrap admin ("admin") is no stored user.
    user_id: Mapped[str] = mapped_column(String(40), index=True)
    # How it was opened: "token" (an API token pasted), "sso", or "admin_token".
    via: Mapped[str] = mapped_column(String(20))
    token_id: Mapped[str | None] = mapped_column(String(40))
    # For the bootstrap admin: SHA-256 of DISPUTEFLOW_ADMIN_TOKEN, so changing it ends them.
    credential_hash: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(64))
    end_reason: Mapped[str | None] = mapped_column(String(200))


class SignIn(Base):
    """An SSO sign-in under way, between the redirect to the identity provider and its
    callback: kept here, not in a process, so any API replica can finish it, and used once.
    ``id`` is the SHA-256 of the ``state`` sent to the provider; ``binding_hash`` that of a
    cookie given to the browser that started it (a callback in another browser is
    refused)."""

    __tablename__ = "sign_ins"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    binding_hash: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(100))
    code_verifier: Mapped[str] = mapped_column(String(200))
    next_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SsoGroupRole(Base):
    """One line of the admin's mapping: members of the identity provider's ``group_name``
    hold ``role``."""

    __tablename__ = "sso_group_roles"
    group_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), primary_key=True)
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime]


class RoleGrant(Base):
    """One holding of one role by one user: when and by whom it was granted and why, and
    when and by whom it was removed. ``users.roles`` is the current set (read on every
    request); this is its history, so a decision is judged by the roles held when it was
    made."""

    __tablename__ = "role_grants"
    __table_args__ = (Index("ix_role_grants_user_role", "user_id", "role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime]
    granted_by: Mapped[str] = mapped_column(String(64))
    grant_reason: Mapped[str] = mapped_column(Text)
    # The four-eyes change whose approval made the grant, when one did.
    change_id: Mapped[str | None] = mapped_column(String(40))
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(64))
    removal_reason: Mapped[str | None] = mapped_column(Text)


class Change(Base):
    """A proposed change that controls money (a policy version, a grant of an approval role)
    waiting for a second admin, with what it would change; applied only when approved."""

    __tablename__ = "changes"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    diff: Mapped[list[Any]] = mapped_column(JSON)
    # For a policy: the version it was proposed against, and the back-test attached to it.
    base_version: Mapped[int | None] = mapped_column(Integer)
    backtest: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str | None] = mapped_column(Text)


class Delegation(Base):
    __tablename__ = "delegations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    delegate_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]


class AuthFailure(Base):
    """Failed token attempts per client in the current window (brute-force limit)."""

    __tablename__ = "auth_failures"
    client: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_start: Mapped[datetime]
    failures: Mapped[int] = mapped_column(Integer)
