"""The log of Slack messages the engine sent: what makes posting idempotent and updates
possible.

A message is *reserved* (a row with an empty ``ts``) in a short transaction before Slack
is called (a level's prompts together), and *marked sent* with Slack's channel and ``ts``
afterwards. So a retried
activity skips what was sent, re-sends only what was reserved but never confirmed, and two
racing attempts cannot both reserve the same (memo, level, kind, Slack user): the unique
constraint decides. Callers never hold a transaction open across an HTTP call to Slack —
on SQLite that would block every other writer.

Also here: who is messaged for a level (role holders and their active delegates, minus
whoever segregation of duties bars) and an earlier memo's view, so old messages can say
what became of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import ApprovalLevel, CreditMemo, Delegation, SlackMessage, User
from domain.money import from_minor

PROMPT = "prompt"


@dataclass(frozen=True)
class MessageKey:
    """What makes a message unique: one of each kind per level and Slack user."""

    memo_number: str
    level: int
    kind: str
    slack_user_id: str | None


def reserve(
    session: Session, key: MessageKey, *, dispute_id: str, user_id: str | None, channel: str,
    thread_ts: str | None = None,
) -> SlackMessage | None:
    """The row to send now, or None when this message was sent already (or is being sent)."""
    existing = find(session, key)
    if existing is not None:
        return existing if not existing.ts else None
    now = datetime.now(UTC)
    row = SlackMessage(
        dispute_id=dispute_id, memo_number=key.memo_number, level=key.level, kind=key.kind,
        user_id=user_id, slack_user_id=key.slack_user_id, channel=channel, ts="",
        thread_ts=thread_ts, decided=False, created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None  # another attempt reserved it a moment ago; it sends it
    return row


def find(session: Session, key: MessageKey) -> SlackMessage | None:
    query = select(SlackMessage).where(
        SlackMessage.memo_number == key.memo_number, SlackMessage.level == key.level,
        SlackMessage.kind == key.kind)
    query = query.where(SlackMessage.slack_user_id.is_(None) if key.slack_user_id is None
                        else SlackMessage.slack_user_id == key.slack_user_id)
    return session.scalar(query)


@dataclass(frozen=True)
class Outgoing:
    """A message to reserve and post: its key and where it goes."""

    key: MessageKey
    dispute_id: str
    user_id: str | None
    channel: str
    thread_ts: str | None = None


def reserve_all(session: Session, messages: list[Outgoing]) -> list[SlackMessage | None]:
    """:func:`reserve` for several messages of one (memo, level, kind), in one query and one
    insert; the row to send for each, or None. A racing attempt that reserved one of them
    meanwhile sends that one (the unique constraint decides, as in :func:`reserve`)."""
    def one_by_one() -> list[SlackMessage | None]:
        return [reserve(session, m.key, dispute_id=m.dispute_id, user_id=m.user_id,
                        channel=m.channel, thread_ts=m.thread_ts) for m in messages]

    if not messages:
        return []
    first = messages[0].key
    users = [m.key.slack_user_id for m in messages]
    if None in users or len(set(users)) < len(users) or any(
            (m.key.memo_number, m.key.level, m.key.kind)
            != (first.memo_number, first.level, first.kind) for m in messages):
        return one_by_one()  # not one batch of distinct recipients
    existing = {r.slack_user_id: r for r in session.scalars(select(SlackMessage).where(
        SlackMessage.memo_number == first.memo_number, SlackMessage.level == first.level,
        SlackMessage.kind == first.kind, SlackMessage.slack_user_id.in_(users)))}
    now = datetime.now(UTC)
    fresh = {m.key.slack_user_id: SlackMessage(
        dispute_id=m.dispute_id, memo_number=first.memo_number, level=first.level,
        kind=first.kind, user_id=m.user_id, slack_user_id=m.key.slack_user_id,
        channel=m.channel, ts="", thread_ts=m.thread_ts, decided=False, created_at=now,
        updated_at=now) for m in messages if m.key.slack_user_id not in existing}
    try:
        if fresh:  # (a retry that only re-sends what it reserved writes nothing here)
            with session.begin_nested():
                session.add_all(fresh.values())
    except IntegrityError:  # raced: each under its own savepoint
        return one_by_one()
    return [fresh[u] if u not in existing else (existing[u] if not existing[u].ts else None)
            for u in users]


def mark_all_sent(session: Session, sent: list[tuple[int, str, str]]) -> None:
    """Record Slack's (channel, ts) for each posted row id, in one statement."""
    if sent:
        now = datetime.now(UTC)
        session.execute(update(SlackMessage), [
            {"id": row_id, "channel": channel, "ts": ts, "updated_at": now}
            for row_id, channel, ts in sent])


def level_messages(
    session: Session, memo_number: str, level: int, *, kind: str = PROMPT,
) -> list[SlackMessage]:
    """The sent messages of one kind for a level, oldest first."""
    return list(session.scalars(
        select(SlackMessage)
        .where(SlackMessage.memo_number == memo_number, SlackMessage.level == level,
               SlackMessage.kind == kind, SlackMessage.ts != "")
        .order_by(SlackMessage.id)))


def mark_decided(session: Session, row_ids: list[int]) -> None:
    """These prompts now show their level's outcome (in one statement: one transaction for
    all of a level's prompts)."""
    if row_ids:
        session.execute(update(SlackMessage).where(SlackMessage.id.in_(row_ids))
                        .values(decided=True, updated_at=datetime.now(UTC)))


# --- who is messaged ------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    user_id: str
    name: str
    slack_user_id: str


def excluded_ids(view: Mapping[str, Any], level: int) -> set[str]:
    """Who segregation of duties bars from this level: no point offering them buttons."""
    memo = view.get("credit_memo") or {}
    earlier = {a["approver_id"] for a in view.get("approvals") or []
               if a["level"] < level and a.get("approver_id")}
    return {view.get("opened_by", ""), memo.get("preparer_id", ""), *earlier} - {""}


def recipients(session: Session, view: Mapping[str, Any], level: int,
               roles: list[str]) -> list[Recipient]:
    """Holders of ``roles`` and their active delegates, with a Slack id, not barred by SoD."""
    barred = excluded_ids(view, level)
    people = list(session.scalars(select(User).where(User.active.is_(True))))
    holders = [u for u in people if set(roles) & set(u.roles) and u.id not in barred]
    now = datetime.now(UTC)
    delegates: Iterable[User] = session.scalars(
        select(User).join(Delegation, Delegation.delegate_id == User.id)
        .where(Delegation.user_id.in_([u.id for u in holders]), Delegation.starts_at <= now,
               Delegation.ends_at > now, User.active.is_(True))) if holders else []
    chosen: dict[str, Recipient] = {}
    for u in [*holders, *delegates]:
        if u.slack_user_id and u.id not in barred:
            chosen.setdefault(u.id, Recipient(u.id, u.name, u.slack_user_id))
    return sorted(chosen.values(), key=lambda r: (r.name, r.user_id))


def user_names(session: Session, view: Mapping[str, Any]) -> dict[str, str]:
    ids = {i for a in view.get("approvals") or []
           for i in (a.get("approver_id"), a.get("delegate_of")) if i}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.name).where(User.id.in_(ids)))
    return {user_id: name for user_id, name in rows}


def memo_view(session: Session, view: dict[str, Any], memo_number: str) -> dict[str, Any] | None:
    """The dispute view as seen from ``memo_number``: the view itself for the current memo;
    for an earlier (rejected or replaced) memo, its own amounts and levels from the
    credit_memos and approval_levels tables, so its messages can say what happened to it."""
    memo = view.get("credit_memo")
    if memo and memo["number"] == memo_number:
        return view
    row = session.get(CreditMemo, memo_number)
    if row is None or row.dispute_id != view["id"]:
        return None
    levels = session.scalars(select(ApprovalLevel).where(ApprovalLevel.memo_number == memo_number)
                             .order_by(ApprovalLevel.level))

    def iso(at: datetime | None) -> str | None:
        return at.isoformat() if at else None

    return {**view, "credit_memo": {
        "number": row.number, "status": row.status, "currency": row.currency,
        "total": str(from_minor(row.total_minor, row.currency)),
        "base_currency": row.base_currency,
        "base_total": str(from_minor(row.base_total_minor, row.base_currency)),
        "fx_rate": str(row.fx_rate), "preparer_id": row.preparer_id},
        "approvals": [{"level": lv.level, "role": lv.role, "status": lv.status,
                       "approver_id": lv.approver_id, "delegate_of": lv.delegate_of,
                       "decided_at": iso(lv.decided_at), "channel": lv.channel,
                       "comment": lv.comment, "due_at": iso(lv.due_at), "escalate_to": None}
                      for lv in levels]}
