"""API tokens: issued with a name and an expiry, stored only as SHA-256, reissued or revoked
by their user or an admin, and stamped with their last use.

The secret is shown once, when issued; afterwards only its id, name and dates are. Every
issue and revocation is audited (never the secret). Last use is written at most once per
``USE_RESOLUTION`` per token, so reading the API does not turn every request into a write.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db import audit
from db.models import ApiToken, User, table

__all__ = ["USE_RESOLUTION", "TokenError", "TokenRevoked", "hash_token", "issue", "listing",
           "new_token", "refusal", "reissue", "revoke", "touch"]

_TOKENS = table(ApiToken)
USE_RESOLUTION = timedelta(minutes=5)


class TokenError(ValueError):
    """A token that is not this user's."""


class TokenRevoked(TokenError):
    """A token revoked already: revoking it again changes nothing."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "dfl_" + secrets.token_urlsafe(32)


def issue(session: Session, *, user: User, name: str, actor: str, now: datetime,
          lifetime: timedelta | None) -> tuple[ApiToken, str]:
    """A new token for ``user`` expiring after ``lifetime`` (never with ``None``), with its
    secret (returned once, stored hashed)."""
    secret = new_token()
    row = ApiToken(id="TOK-" + uuid.uuid4().hex[:12].upper(), user_id=user.id, name=name,
                   token_hash=hash_token(secret), created_at=now, created_by=actor,
                   expires_at=now + lifetime if lifetime else None)
    session.add(row)
    session.flush()
    audit.append(session, [audit.NewEvent(
        actor=actor, action="token.issued", subject=user.id,
        message=f"Token {row.id} ({name}) issued to {user.name} by {actor}"
                + (f", expiring {row.expires_at.isoformat()}." if row.expires_at else "."),
        data={"token_id": row.id, "name": name,
              "expires_at": row.expires_at.isoformat() if row.expires_at else None})])
    return row, secret


def _own(session: Session, user: User, token_id: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise TokenError(f"{user.name} has no token {token_id}.")
    return row


def revoke(session: Session, *, user: User, token_id: str, actor: str,
           now: datetime) -> ApiToken:
    """End the token now: a request carrying it is refused from the next one on."""
    row = _own(session, user, token_id)
    if row.revoked_at is not None:
        raise TokenRevoked(f"Token {token_id} was revoked already, at "
                         f"{row.revoked_at.isoformat()} by {row.revoked_by}.")
    row.revoked_at, row.revoked_by = now, actor
    session.flush()
    audit.append(session, [audit.NewEvent(
        actor=actor, action="token.revoked", subject=user.id,
        message=f"Token {row.id} ({row.name}) of {user.name} revoked by {actor}.",
        data={"token_id": row.id, "name": row.name})])
    return row


def reissue(session: Session, *, user: User, token_id: str, actor: str, now: datetime,
            lifetime: timedelta | None) -> tuple[ApiToken, str]:
    """Replace a token (lost, leaked or expiring) by a new one of the same name; the old
    one is revoked in the same transaction, so there is never a moment with neither or
    both."""
    old = _own(session, user, token_id)
    if old.revoked_at is None:
        revoke(session, user=user, token_id=token_id, actor=actor, now=now)
    return issue(session, user=user, name=old.name, actor=actor, now=now, lifetime=lifetime)


def listing(session: Session, user_id: str) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                                .order_by(ApiToken.created_at.desc(), ApiToken.id)))


def touch(session: Session, *, token_id: str, now: datetime) -> None:
    """Stamp the token's last use (the caller decides it is due: ``USE_RESOLUTION``)."""
    t = _TOKENS.c
    session.execute(update(_TOKENS).where(t.id == token_id).values(last_used_at=now))


def refusal(session: Session, *, token: str, now: datetime) -> str | None:
    """Why a token that did not authenticate is refused, when it is one that existed: said
    so its holder knows to reissue it rather than to doubt what they typed."""
    row = session.scalars(select(ApiToken).where(
        ApiToken.token_hash == hash_token(token))).first()
    if row is None:
        return None
    if row.revoked_at is not None:
        return (f"That token ({row.name}) was revoked on {row.revoked_at:%Y-%m-%d}; ask an "
                "admin for a new one.")
    if row.expires_at is not None and row.expires_at <= now:
        return (f"That token ({row.name}) expired on {row.expires_at:%Y-%m-%d}; reissue it "
                f"(POST /api/v1/users/{row.user_id}/tokens/{row.id}/reissue with another "
                "token) or ask an admin.")
    return "That token's user is inactive; ask an admin."
