"""The log of Slack messages the engine sent: what makes posting idempotent and updates
possible.

A message is *reserved* (a row with an empty ``ts``) in a short transaction before Slack
is called (a level's prompts together), and *marked sent* with Slack's channel and ``ts``
afterwards. So a retried step skips what was sent and re-sends only what was reserved but
never confirmed; the unique constraint keeps one row per (memo, level, kind, Slack user).
Two attempts do not run one change's steps at once (the outbox row is leased; Temporal runs
one attempt of an activity at a time). Callers never hold a transaction open across an
HTTP call to Slack — on SQLite that would block every other writer.

Also here: who is messaged for a level (role holders and their active delegates, minus
whoever segregation of duties bars) and an earlier memo's view, so old messages can say
what became of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.models import ApprovalLevel, CreditMemo, Delegation, SlackMessage, User, table
from domain.money import from_minor

PROMPT = "prompt"
# Core statements for the writes on every decision's path (the ORM's overhead is per call).
_MESSAGES = table(SlackMessage)


@dataclass(frozen=True)
class MessageKey:
    """What makes a message unique: one of each kind per level and Slack user (or channel)."""

    memo_number: str
    level: int
    kind: str
    slack_user_id: str


@dataclass(frozen=True)
class Outgoing:
    """A message to reserve and post: its key and where it goes."""

    key: MessageKey
    dispute_id: str
    user_id: str | None
    channel: str
    thread_ts: str | None = None


def reserve_all(session: Session, messages: list[Outgoing]) -> list[int | None]:
    """Reserve each message (a row with no ``ts`` yet) unless it exists; for each, the id
    of the row to post now, or None when it was posted before. A row reserved before but
    never marked sent (the attempt that reserved it died, or Slack failed) is posted now.
    Two statements whatever the number: an insert that skips existing keys (the unique
    constraint decides, no savepoint), then one read of the rows."""
    if not messages:
        return []
    now = datetime.now(UTC)
    insert = (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)
    session.execute(insert(_MESSAGES).on_conflict_do_nothing(), [
        {"dispute_id": m.dispute_id, "memo_number": m.key.memo_number, "level": m.key.level,
         "kind": m.key.kind, "user_id": m.user_id, "slack_user_id": m.key.slack_user_id,
         "channel": m.channel, "ts": "", "thread_ts": m.thread_ts, "decided": False,
         "created_at": now, "updated_at": now} for m in messages])
    keys = [(m.key.memo_number, m.key.level, m.key.kind, m.key.slack_user_id)
            for m in messages]
    c = _MESSAGES.c
    key_columns = (c.memo_number, c.level, c.kind, c.slack_user_id)
    found = {tuple(r[:4]): r for r in session.execute(
        select(*key_columns, c.id, c.ts).where(tuple_(*key_columns).in_(keys)))}
    return [None if found[k].ts else found[k].id for k in keys]


def mark_all_sent(session: Session, sent: list[tuple[int, str, str]]) -> None:
    """Record Slack's (channel, ts) for each posted row id, in one statement."""
    if sent:
        now = datetime.now(UTC)
        session.execute(update(_MESSAGES).where(_MESSAGES.c.id == bindparam("k_id")), [
            {"k_id": row_id, "channel": channel, "ts": ts, "updated_at": now}
            for row_id, channel, ts in sent])


def level_messages(
    session: Session, memo_number: str, level: int, *, kind: str = PROMPT,
) -> list[Row[Any]]:
    """The sent messages of one kind for a level, oldest first: ``id``, ``channel``,
    ``ts``, ``slack_user_id``, ``user_id``, ``decided`` (columns, not ORM rows)."""
    m = SlackMessage
    return list(session.execute(
        select(m.id, m.channel, m.ts, m.slack_user_id, m.user_id, m.decided)
        .where(m.memo_number == memo_number, m.level == level, m.kind == kind, m.ts != "")
        .order_by(m.id)))


def mark_decided(session: Session, row_ids: list[int]) -> None:
    """These prompts now show their level's outcome (in one statement: one transaction for
    all of a level's prompts)."""
    if row_ids:
        session.execute(update(_MESSAGES).where(_MESSAGES.c.id.in_(row_ids))
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
    people = session.execute(select(User.id, User.name, User.slack_user_id, User.roles)
                             .where(User.active.is_(True)))  # columns: no ORM rows to build
    holders = [u for u in people if set(roles) & set(u.roles) and u.id not in barred]
    now = datetime.now(UTC)
    delegates: Iterable[Row[Any]] = session.execute(
        select(User.id, User.name, User.slack_user_id, User.roles)
        .join(Delegation, Delegation.delegate_id == User.id)
        .where(Delegation.user_id.in_([u.id for u in holders]), Delegation.starts_at <= now,
               Delegation.ends_at > now, User.active.is_(True))) if holders else []
    chosen: dict[str, Recipient] = {}
    for u in [*holders, *delegates]:
        if u.slack_user_id and u.id not in barred:
            chosen.setdefault(u.id, Recipient(u.id, u.name, u.slack_user_id))
    return sorted(chosen.values(), key=lambda r: (r.name, r.user_id))


def named_ids(view: Mapping[str, Any]) -> set[str]:
    """The people a dispute's messages name: its approvers and whom they stood in for."""
    return {i for a in view.get("approvals") or []
            for i in (a.get("approver_id"), a.get("delegate_of")) if i}


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
