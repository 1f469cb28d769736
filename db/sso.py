"""Single sign-on's records: sign-ins under way (used once), the admin's group-to-role mapping,
and the user a verified identity signs in as, with roles kept in step with their groups.

Roles that came from the mapping are granted and removed by ``SSO_ACTOR`` on each sign-in,
dated in the role history like any other grant, so the access review and the control test
read them alike; a role an admin granted by hand is left alone. The mapping is the admin's
(audited); the groups are the identity provider's.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db import audit
from db import roles as role_history
from db.models import RoleGrant, SignIn, SsoGroupRole, User

__all__ = ["SSO_ACTOR", "Identity", "SignInState", "begin", "group_roles", "set_group_roles",
           "sign_in_user", "take"]

SSO_ACTOR = "sso"
SIGN_IN_LIFETIME = timedelta(minutes=10)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# -- sign-ins under way -------------------------------------------------------------------

@dataclass(frozen=True)
class SignInState:
    nonce: str
    code_verifier: str
    next_url: str | None


def begin(session: Session, *, state: str, binding: str, nonce: str, code_verifier: str,
          next_url: str | None, now: datetime) -> None:
    """Keep what the callback will need; sign-ins older than a day are swept here."""
    session.execute(delete(SignIn).where(SignIn.created_at < now - timedelta(days=1)))
    session.add(SignIn(id=_hash(state), binding_hash=_hash(binding), nonce=nonce,
                       code_verifier=code_verifier, next_url=next_url, created_at=now,
                       expires_at=now + SIGN_IN_LIFETIME))
    session.flush()


class StateRefused(ValueError):
    """A callback whose state this browser did not start, or that was used or expired."""


def take(session: Session, *, state: str, binding: str, now: datetime) -> SignInState:
    """The sign-in ``state`` belongs to, used up now (a second callback with it is refused,
    by one atomic update even if two arrive together)."""
    row = session.get(SignIn, _hash(state)) if state else None
    if row is not None and row.used_at is not None:
        raise StateRefused("This sign-in link was used already. Start again from the "
                           "sign-in page.")
    if row is None or row.binding_hash != _hash(binding):
        raise StateRefused("This sign-in did not start in this browser (or the link was "
                           "tampered with). Start again from the sign-in page.")
    if row.expires_at <= now:
        raise StateRefused("This sign-in took too long and has expired. Start again from "
                           "the sign-in page.")
    claimed = session.execute(update(SignIn).where(SignIn.id == row.id,
                                                   SignIn.used_at.is_(None))
                              .values(used_at=now))
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise StateRefused("This sign-in link was used already. Start again from the "
                           "sign-in page.")
    return SignInState(row.nonce, row.code_verifier, row.next_url)


# -- the group-to-role mapping ------------------------------------------------------------

def group_roles(session: Session) -> dict[str, list[str]]:
    mapping: dict[str, list[str]] = {}
    for group, role in session.execute(select(SsoGroupRole.group_name, SsoGroupRole.role)
                                       .order_by(SsoGroupRole.group_name, SsoGroupRole.role)):
        mapping.setdefault(group, []).append(role)
    return mapping


def set_group_roles(session: Session, *, mapping: Mapping[str, Iterable[str]], actor: str,
                    now: datetime) -> dict[str, list[str]]:
    """Replace the whole mapping (audited with before and after). Users' roles follow at
    their next sign-in."""
    before = group_roles(session)
    after = {group: sorted(set(roles)) for group, roles in mapping.items() if roles}
    session.execute(delete(SsoGroupRole))
    session.add_all(SsoGroupRole(group_name=group, role=role, set_by=actor, set_at=now)
                    for group, roles in after.items() for role in roles)
    session.flush()
    audit.append(session, [audit.NewEvent(
        actor=actor, action="sso.group_roles_set", subject="sso",
        message=f"SSO group-to-role mapping set by {actor}: "
                + ("; ".join(f"{g} → {', '.join(r)}" for g, r in after.items()) or "empty"),
        data={"before": before, "after": after})])
    return after


# -- who a verified identity signs in as --------------------------------------------------

@dataclass(frozen=True)
class Identity:
    """What a verified ID token says about the person."""

    subject: str
    email: str
    email_verified: bool
    name: str
    groups: tuple[str, ...]


class IdentityRefused(ValueError):
    """A verified identity that may still not sign in (inactive, an unverified email that
    another account holds)."""


def _user_for(session: Session, identity: Identity, now: datetime) -> User:
    user = session.scalars(select(User).where(User.oidc_subject == identity.subject)).first()
    if user is not None:
        return user
    user = session.scalars(select(User).where(User.email == identity.email.lower())).first()
    if user is not None:
        if user.oidc_subject is not None:
            raise IdentityRefused(f"The Disputeflow account for {identity.email} is linked to "
                                  "another identity at the provider; ask an admin.")
        if not identity.email_verified:
            raise IdentityRefused(f"A Disputeflow account exists for {identity.email}, but "
                                  "the identity provider has not verified that email, so "
                                  "it cannot be linked; ask IT to verify it.")
        user.oidc_subject = identity.subject
        audit.append(session, [audit.NewEvent(
            actor=SSO_ACTOR, action="user.sso_linked", subject=user.id,
            message=f"{user.name} <{user.email}> linked to SSO subject {identity.subject}.",
            data={"oidc_subject": identity.subject})])
        return user
    user = User(id="U-" + uuid.uuid4().hex[:12].upper(), name=identity.name[:200],
                email=identity.email.lower(), roles=[], slack_user_id=None, active=True,
                created_at=now, oidc_subject=identity.subject)
    session.add(user)
    session.flush()
    audit.append(session, [audit.NewEvent(
        actor=SSO_ACTOR, action="user.created", subject=user.id,
        message=f"User {user.name} <{user.email}> provisioned at first SSO sign-in.",
        data={"after": {"name": user.name, "email": user.email, "roles": [],
                        "oidc_subject": identity.subject}})])
    return user


def _sync_roles(session: Session, user: User, identity: Identity) -> None:
    mapping = group_roles(session)
    wanted = {role for group in identity.groups for role in mapping.get(group, [])}
    from_sso = set(session.scalars(select(RoleGrant.role).where(
        RoleGrant.user_id == user.id, RoleGrant.removed_at.is_(None),
        RoleGrant.granted_by == SSO_ACTOR)))
    for role in sorted(wanted - set(user.roles)):
        groups = sorted(g for g in identity.groups if role in mapping.get(g, []))
        role_history.grant(session, user=user, role=role, actor=SSO_ACTOR,
                           reason=f"member of {', '.join(groups)} at the identity provider")
    for role in sorted(from_sso - wanted):
        role_history.remove(session, user=user, role=role, actor=SSO_ACTOR,
                            reason="no longer in a group mapped to this role")


def sign_in_user(session: Session, *, identity: Identity, now: datetime) -> User:
    """The user ``identity`` signs in as — found by subject, else linked by a verified
    email, else provisioned — with their SSO roles brought in step with their groups. A
    user left with no role gets no session (the caller shows whom to ask)."""
    user = _user_for(session, identity, now)
    if not user.active:
        raise IdentityRefused(f"The Disputeflow account of {user.email} is deactivated; "
                              "ask an admin.")
    _sync_roles(session, user, identity)
    return user


def admins(session: Session) -> list[User]:
    """Whom to ask for access: the active admins."""
    return [u for u in session.scalars(select(User).where(User.active.is_(True))
                                       .order_by(User.name)) if "admin" in u.roles]
