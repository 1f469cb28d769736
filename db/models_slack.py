"""Slack's side of the read model: the messages posted (so they can be updated), the clicks
kept until decided, and the outbox of Slack steps written with each change. ``db.models``
re-exports them, so every table is still found in one place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.model_base import Base


class SlackMessage(Base):
    """One Slack message the engine sent, so retries never double-post and every prompt of a
    level can be found again to lose its buttons once the level is decided."""

    __tablename__ = "slack_messages"
    __table_args__ = (
        UniqueConstraint("memo_number", "level", "kind", "slack_user_id",
                         name="uq_slack_messages_memo_level_kind_user"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[str] = mapped_column(String(40), index=True)
    memo_number: Mapped[str] = mapped_column(String(40))
    level: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # prompt | reminder | escalation | alert
    user_id: Mapped[str | None] = mapped_column(String(40))
    slack_user_id: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(40))
    ts: Mapped[str] = mapped_column(String(40))  # "" while reserved, before Slack answered
    thread_ts: Mapped[str | None] = mapped_column(String(40))
    decided: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SlackClick(Base):
    """A Slack decision click, written before Slack gets its 200: Slack never redelivers an
    acknowledged click, so an API process that dies before deciding it must leave it where
    another process (or this one, restarted) finds it. ``lease_until`` is how long the
    process working on it holds it; ``done_at`` is set once its outcome was answered."""

    __tablename__ = "slack_clicks"
    __table_args__ = (Index("ix_slack_clicks_open", "done_at", "lease_until"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    lease_until: Mapped[datetime]
    done_at: Mapped[datetime | None]


class SlackOutboxRow(Base):
    """Slack steps a dispute's state change queued, written in the same transaction as the
    snapshot they describe, so they are sent if and only if the change was recorded; the
    worker's dispatcher sends them (activities/slack_dispatch.py) and deletes the row.
    ``next_at`` is when it is due (later after a failure), ``lease_until`` how long the
    process sending it holds it."""

    __tablename__ = "slack_outbox"
    __table_args__ = (
        UniqueConstraint("dispute_id", "revision", name="uq_slack_outbox_revision"),
        Index("ix_slack_outbox_due", "next_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[str] = mapped_column(String(40))
    revision: Mapped[int]
    steps: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    next_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
