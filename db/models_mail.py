"""Letters to accounts' billing contacts: the admin's templates, and every letter a change
called for — its outbox row while it waits and its record once sent (or given up, or never
addressable). ``db.models`` re-exports them, so every table is still found in one place."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.model_base import Base


class LetterTemplate(Base):
    """An admin's wording of one kind of letter (Jinja2 text, rendered in a sandbox); a kind
    without a row is written with the built-in wording (domain/letters.py)."""

    __tablename__ = "letter_templates"
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class Letter(Base):
    """One letter: written (rendered, addressed) in the transaction of the change that called
    for it, then sent by the worker. ``pending`` until the mail server accepted it
    (``sent``), or until retries ran past their window (``failed``); ``unaddressed`` when the
    account had no billing email. A resolution carries its credit memo's PDF, printed when
    sent."""

    __tablename__ = "letters"
    __table_args__ = (
        UniqueConstraint("dispute_id", "kind", "memo_number", name="uq_letters_once"),
        Index("ix_letters_due", "status", "next_at"),
        Index("ix_letters_dispute", "dispute_id", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    memo_number: Mapped[str] = mapped_column(String(40), default="")
    recipient: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str] = mapped_column(String(200))
