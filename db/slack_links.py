"""Which Slack account is a user's: the link that approval prompts and button clicks rely on.

One Slack account belongs to one user at most; linking is audited (``user.slack_linked``)
with the id before and after and how it was found (typed, or looked up by email).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import audit
from db.models import User

__all__ = ["SlackIdTaken", "holder", "link"]


class SlackIdTaken(ValueError):
    """The Slack account is linked to another user already."""

    def __init__(self, slack_user_id: str, holder: User) -> None:
        super().__init__(f"Slack user {slack_user_id} is linked to {holder.name} already.")
        self.holder = holder


def holder(session: Session, slack_user_id: str) -> User | None:
    """The user the Slack account is linked to, if any."""
    return session.scalars(select(User).where(User.slack_user_id == slack_user_id)).first()


def link(session: Session, *, user: User, slack_user_id: str, actor: str, via: str) -> bool:
    """Link ``user`` to ``slack_user_id``; False when it was linked so already (nothing
    written). ``via`` says how the id was found (``typed``, ``email``)."""
    other = holder(session, slack_user_id)
    if other is not None and other.id != user.id:
        raise SlackIdTaken(slack_user_id, other)
    before = user.slack_user_id
    if before == slack_user_id:
        return False
    user.slack_user_id = slack_user_id
    session.flush()
    audit.append(session, [audit.NewEvent(
        actor=actor, action="user.slack_linked", subject=user.id,
        message=f"{user.name} linked to Slack user {slack_user_id} ({via})"
                + (f", replacing {before}." if before else "."),
        data={"via": via, "before": {"slack_user_id": before},
              "after": {"slack_user_id": slack_user_id}})])
    return True
