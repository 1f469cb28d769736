"""Web sessions: a signed-in browser is a row here, its cookie a secret whose SHA-256 keys it.

Why server-side: signing out, an admin ending a user's sessions and a deactivated user must
end the browser's access at once, which a self-contained cookie cannot do. A session opened
with a pasted API token also dies with that token (revoked or expired); one of the
bootstrap admin dies when DISPUTEFLOW_ADMIN_TOKEN changes. Roles are read from the user on
every request, so a role removed is gone from the next page on.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db import audit
from db.models import ApiToken, User, WebSession, table
from db.users import BOOTSTRAP_ADMIN, Principal

__all__ = ["SECRET_PREFIX", "Opened", "end", "end_all", "live_count", "resolve", "session_key",
           "start"]

SECRET_PREFIX = "dfs_"
_SESSIONS, _USERS, _TOKENS = table(WebSession), table(User), table(ApiToken)


def session_key(secret: str) -> str:
    """The row id of a session secret (its SHA-256): the secret itself is never stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Opened:
    """A live session: who it signs in (with the roles they hold now) and how it was
    opened."""

    session_id: str
    principal: Principal
    via: str


def start(session: Session, *, user_id: str, via: str, client: str, now: datetime,
          lifetime: timedelta, token_id: str | None = None,
          credential: str | None = None) -> str:
    """Open a session; returns the cookie's secret (stored only hashed)."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    session.add(WebSession(id=session_key(secret), user_id=user_id, via=via, token_id=token_id,
                           credential_hash=session_key(credential) if credential else None,
                           client=client[:100], created_at=now, expires_at=now + lifetime))
    session.flush()
    return secret


def resolve(session: Session, *, secret: str, now: datetime,
            admin_token: str | None) -> Opened | None:
    """The live session of ``secret``, or None (unknown, ended, expired, or its token, user
    or admin credential gone). One indexed read."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 100 or not secret.isascii():
        return None
    s, u, t = _SESSIONS.c, _USERS.c, _TOKENS.c
    row = session.execute(
        select(s.id, s.user_id, s.via, s.token_id, s.credential_hash, u.name, u.roles,
               u.slack_user_id, u.active, t.revoked_at,
               t.expires_at.label("token_expires_at"))
        .select_from(_SESSIONS.outerjoin(_USERS, u.id == s.user_id)
                     .outerjoin(_TOKENS, t.id == s.token_id))
        .where(s.id == session_key(secret), s.ended_at.is_(None), s.expires_at > now)).first()
    if row is None:
        return None
    if row.via == "admin_token":
        if not admin_token or row.credential_hash != session_key(admin_token):
            return None
        return Opened(row.id, BOOTSTRAP_ADMIN, row.via)
    if not row.active:
        return None
    if row.token_id is not None and (row.revoked_at is not None or (
            row.token_expires_at is not None and row.token_expires_at <= now)):
        return None
    return Opened(row.id, Principal(row.user_id, row.name, tuple(row.roles),
                                    row.slack_user_id), row.via)


def end(session: Session, *, secret: str, actor: str, now: datetime,
        reason: str = "signed out") -> bool:
    """End one session (sign-out); False if it was not live."""
    s = _SESSIONS.c
    result = session.execute(update(_SESSIONS).where(s.id == session_key(secret),
                                                     s.ended_at.is_(None))
                             .values(ended_at=now, ended_by=actor, end_reason=reason))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def live_count(session: Session, *, user_id: str, now: datetime) -> int:
    s = _SESSIONS.c
    return session.scalar(select(func.count()).select_from(_SESSIONS).where(
        s.user_id == user_id, s.ended_at.is_(None), s.expires_at > now)) or 0


def end_all(session: Session, *, user_id: str, actor: str, now: datetime,
            reason: str) -> int:
    """End every live session of ``user_id`` (audited): a lost laptop, a leaver, a
    suspicion. Returns how many were live."""
    s = _SESSIONS.c
    result = session.execute(update(_SESSIONS).where(
        s.user_id == user_id, s.ended_at.is_(None), s.expires_at > now)
        .values(ended_at=now, ended_by=actor, end_reason=reason[:200]))
    ended = int(result.rowcount)  # type: ignore[attr-defined]
    audit.append(session, [audit.NewEvent(
        actor=actor, action="sessions.ended", subject=user_id,
        message=f"{ended} web session(s) of {user_id} ended by {actor}: {reason}",
        data={"ended": ended, "reason": reason})])
    return ended
