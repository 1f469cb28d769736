"""API tokens: list, issue, reissue and revoke, for their user or an admin (auditors read
anyone's and change none, their own included). The API routes and the web pages both call
these, so who may, and how each refusal reads, is decided once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from api.commands.users import managed_user
from api.errors import AppError
from config.settings import Settings
from db import tokens
from db.models import ApiToken, User
from db.users import Principal

__all__ = ["holder", "issue", "listing", "reissue", "revoke", "token_out"]


def token_out(row: ApiToken) -> dict[str, Any]:
    """A token's record as the API and the pages show it (never the secret)."""
    return {"id": row.id, "name": row.name, "created_at": row.created_at,
            "created_by": row.created_by, "expires_at": row.expires_at,
            "last_used_at": row.last_used_at, "revoked_at": row.revoked_at,
            "revoked_by": row.revoked_by}


def holder(session: Session, *, actor: Principal, user_id: str,
           readers: tuple[str, ...] = ("admin",)) -> User:
    """The user whose tokens are managed: the caller themselves, or anyone for ``readers``;
    an inactive user's tokens cannot change."""
    return managed_user(session, actor=actor, user_id=user_id, readers=readers,
                        action="manage a user's API tokens")


def _lifetime(days: int | None, settings: Settings) -> timedelta | None:
    return timedelta(days=days) if days else settings.token_lifetime


def listing(session: Session, *, actor: Principal, user_id: str) -> list[ApiToken]:
    """Newest first, revoked ones too (their dates are evidence)."""
    holder(session, actor=actor, user_id=user_id, readers=("admin", "auditor"))
    return tokens.listing(session, user_id)


def issue(session: Session, *, settings: Settings, actor: Principal, user_id: str, name: str,
          expires_in_days: int | None) -> tuple[ApiToken, str]:
    """A new token and its secret (shown once)."""
    user = holder(session, actor=actor, user_id=user_id)
    return tokens.issue(session, user=user, name=name, actor=actor.id, now=datetime.now(UTC),
                        lifetime=_lifetime(expires_in_days, settings))


def reissue(session: Session, *, settings: Settings, actor: Principal, user_id: str,
            token_id: str, expires_in_days: int | None) -> tuple[ApiToken, str]:
    """A new token of the same name; the old one is revoked in the same transaction."""
    user = holder(session, actor=actor, user_id=user_id)
    try:
        return tokens.reissue(session, user=user, token_id=token_id, actor=actor.id,
                              now=datetime.now(UTC),
                              lifetime=_lifetime(expires_in_days, settings))
    except tokens.TokenError as exc:
        raise AppError("not_found", str(exc)) from None


def revoke(session: Session, *, actor: Principal, user_id: str, token_id: str) -> ApiToken:
    """Refused from the next request on; a second revocation is a 409."""
    user = holder(session, actor=actor, user_id=user_id)
    try:
        return tokens.revoke(session, user=user, token_id=token_id, actor=actor.id,
                             now=datetime.now(UTC))
    except tokens.TokenRevoked as exc:
        raise AppError("wrong_state", str(exc)) from None
    except tokens.TokenError as exc:
        raise AppError("not_found", str(exc)) from None
