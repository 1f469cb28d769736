"""Per-day sums of the disputes, kept by database triggers (migration 0026) so the managers'
metrics read a few hundred rows instead of every dispute. Nothing in the application writes
them; :mod:`db.tallies` reads them. ``db.models`` re-exports them, so every table is still
found in one place."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from db.model_base import Base


class DisputeDayCount(Base):
    """How many disputes, per UTC day and (kind, label): ``status``, ``reason_code`` and
    ``root_cause`` count by the day opened; ``closed`` and ``first_time`` (closed with no
    rejected memo) by the day closed, labelled with the status closed with."""

    __tablename__ = "dispute_day_counts"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    label: Mapped[str] = mapped_column(String(40), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class OpenDisputeDay(Base):
    """The disputes still open, per UTC day opened and currency: how many, their disputed
    amount in minor units, and the sum of their opening instants' microseconds past that
    day's midnight (with the day, their exact mean age)."""

    __tablename__ = "open_dispute_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    offset_us: Mapped[int] = mapped_column(BigInteger)
