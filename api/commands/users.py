"""Creating users and linking their Slack accounts.

A user created without a typed Slack id is looked up in Slack by email (where Slack is
configured and the bot may: ``activities.slack_lookup``) and linked to the account found.
The user is created first, in its own transaction, and linked in a second one: Slack's
answer never holds the database, and whatever Slack says, the user exists afterwards —
the answer's ``slack_link`` says in words why nothing was linked. ``link_slack`` is the same
lookup on demand (a user created before, or whose Slack account appeared later), refused
with an error when it cannot link.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from activities.slack_lookup import (
    SLACK_DISABLED,
    SLACK_UNREACHABLE,
    SlackLookup,
    lookup_by_email,
)
from api.commands.context import in_db
from api.errors import AppError
from api.schemas import UserCreate
from config.settings import Settings
from db import slack_links, users
from db.models import User
from db.users import Principal

__all__ = ["SlackLink", "create_user", "link_slack", "slack_problem_words", "user_out"]

TAKEN = "slack_id_taken"


@dataclass(frozen=True)
class SlackLink:
    """Whether the user is linked to a Slack account now, how (``typed`` or ``email``), and
    if not, why: ``problem`` (a code) and ``reason`` (the same in words)."""

    linked: bool
    slack_user_id: str | None = None
    via: str | None = None
    problem: str | None = None
    reason: str | None = None

    def out(self) -> dict[str, Any]:
        return asdict(self)


def slack_problem_words(problem: str, email: str, *, holder: str | None = None) -> str:
    """Why a Slack account was not linked, for the person who asked."""
    words = {
        SLACK_DISABLED: "Slack is not configured (SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET), "
                        "so there is no Slack account to link.",
        SLACK_UNREACHABLE: "Slack did not answer; link the Slack account again later.",
        "users_not_found": f"Slack has no account with the email {email}; link again once "
                           "the person has joined Slack, or type their Slack id.",
        "not_a_person": f"The Slack account with the email {email} is deactivated or a bot.",
        "missing_scope": "The Slack bot may not look people up by email: the Slack app needs "
                         "the users:read.email scope. Type the Slack id instead, or add the "
                         "scope and link again.",
        "not_allowed_token_type": "Looking people up by email needs a bot token (xoxb-), "
                                  "which SLACK_BOT_TOKEN is not. Type the Slack id instead.",
        TAKEN: f"The Slack account of {email} is linked to {holder or 'another user'} "
               "already; unlink it there first.",
    }
    return words.get(problem, f"Slack refused to look up {email} ({problem}); type the Slack "
                              "id instead.")


def user_out(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "roles": user.roles,
            "slack_user_id": user.slack_user_id}


def _create(session: Session, *, body: UserCreate, actor: str,
            settings: Settings) -> tuple[dict[str, Any], str]:
    if users.email_taken(session, body.email):
        raise AppError("validation_error", f"A user with email {body.email} exists already.",
                       [{"field": "email", "message": "already in use"}])
    if body.slack_user_id and users.slack_id_taken(session, body.slack_user_id):
        raise AppError("validation_error", f"Slack user {body.slack_user_id} is already linked "
                       "to another user.", [{"field": "slack_user_id", "message": "in use"}])
    if body.oidc_subject and users.subject_taken(session, body.oidc_subject):
        raise AppError("validation_error", f"The identity {body.oidc_subject} is already "
                       "linked to another user.",
                       [{"field": "oidc_subject", "message": "in use"}])
    user, token = users.create_user(session, name=body.name, email=body.email,
                                    roles=body.roles, slack_user_id=body.slack_user_id,
                                    created_by=actor, token_lifetime=settings.token_lifetime,
                                    oidc_subject=body.oidc_subject)
    return user_out(user), token


def _link(session: Session, *, user_id: str, found: SlackLookup, email: str,
          actor: str) -> SlackLink:
    if found.slack_user_id is None:
        problem = found.problem or SLACK_UNREACHABLE
        return SlackLink(False, problem=problem, reason=slack_problem_words(problem, email))
    user = session.get_one(User, user_id)
    try:
        slack_links.link(session, user=user, slack_user_id=found.slack_user_id, actor=actor,
                         via="email")
    except slack_links.SlackIdTaken as exc:
        return SlackLink(False, problem=TAKEN,
                         reason=slack_problem_words(TAKEN, email, holder=exc.holder.name))
    return SlackLink(True, found.slack_user_id, via="email")


async def create_user(settings: Settings, *, body: UserCreate,
                      actor: str) -> tuple[dict[str, Any], str, SlackLink]:
    """The new user, their first token (shown once) and their Slack link."""
    out, token = await in_db(settings, _create, body=body, actor=actor, settings=settings)
    if body.slack_user_id:
        return out, token, SlackLink(True, body.slack_user_id, via="typed")
    found = await run_in_threadpool(lookup_by_email, settings, out["email"])
    link = await in_db(settings, _link, user_id=out["id"], found=found, email=out["email"],
                       actor=actor)
    return {**out, "slack_user_id": link.slack_user_id}, token, link


def managed_user(session: Session, *, actor: Principal, user_id: str, action: str,
                 readers: tuple[str, ...] = ("admin",)) -> User:
    """The user ``actor`` would ``action``: themselves, or anyone for ``readers``; an
    inactive user cannot change. One rule for tokens, Slack links and the like."""
    if actor.id != user_id and not actor.has(*readers):
        raise AppError("forbidden", f"Only an admin or the user themselves can {action}.")
    user = session.get(User, user_id)
    if user is None:
        raise AppError("not_found", f"There is no user {user_id}.")
    if not user.active:
        raise AppError("wrong_state", f"User {user.name} is inactive.")
    return user


def _linkable(session: Session, *, actor: Principal, user_id: str) -> str:
    return managed_user(session, actor=actor, user_id=user_id,
                        action="link a user's Slack account").email


# How link_slack refuses each problem: Slack off or the account taken is a conflict, an
# email Slack does not know is the request's, the bot's permissions and outages are Slack's.
_REFUSALS = {SLACK_DISABLED: "wrong_state", TAKEN: "wrong_state",
             "users_not_found": "validation_error", "not_a_person": "validation_error"}


async def link_slack(settings: Settings, *, actor: Principal, user_id: str) -> SlackLink:
    """Look the user's email up in Slack now and link the account found (audited), or say
    why not: 409 (Slack off, the account linked to another user), 422 (no such Slack
    account), 502 ``slack_unavailable`` (the bot may not look up emails, or Slack did not
    answer)."""
    email = await in_db(settings, _linkable, actor=actor, user_id=user_id)
    found = await run_in_threadpool(lookup_by_email, settings, email)
    link = await in_db(settings, _link, user_id=user_id, found=found, email=email,
                       actor=actor.id)
    if link.linked:
        return link
    problem = link.problem or SLACK_UNREACHABLE
    code = _REFUSALS.get(problem, "slack_unavailable")
    details: Any = {"reason": problem}
    if code == "validation_error":
        details = [{"field": "email", "message": "no Slack account", "reason": problem}]
    raise AppError(code, link.reason or problem, details)
