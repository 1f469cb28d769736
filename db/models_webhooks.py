"""Outbound webhooks: the endpoints admins register, the events a recorded state change gives
them, and one delivery per event and endpoint until the receiver took it (or a day of
retries ran out). ``db.models`` re-exports them, so every table is still found in one place.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.model_base import Base


class WebhookEndpoint(Base):
    """A receiver: its URL, the event types it wants, and the secret its deliveries are signed
    with (Standard Webhooks: ``whsec_`` + base64). The secret is shown to the admin once; it
    is kept because every delivery is signed with it. An endpoint is disabled, never deleted,
    so its delivery log stays readable."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    disabled_by: Mapped[str | None] = mapped_column(String(64))


class WebhookEvent(Base):
    """One event, written in the transaction of the state change it reports. ``id`` is the
    ``webhook-id`` every delivery of it carries (receivers deduplicate on it); ``body`` is the
    JSON exactly as sent and signed, the same on every attempt."""

    __tablename__ = "webhook_events"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    dispute_id: Mapped[str | None] = mapped_column(String(40), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    """An event on its way to one endpoint. ``pending`` until a 2xx (``delivered``), or until
    retries since ``retry_from`` ran past the retry window (``failed``; a redelivery starts a
    new window); ``cancelled`` when its endpoint was disabled first. One dispute's deliveries
    to one endpoint go in the order they were written (``id``) — and so do all the disputes of
    one invoice (``invoice_number``), so accounts receivable never gets an invoice's hold or
    release out of order."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_delivery"),
        Index("ix_webhook_deliveries_due", "status", "next_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "invoice_number", "status", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40))
    endpoint_id: Mapped[str] = mapped_column(String(40))
    dispute_id: Mapped[str | None] = mapped_column(String(40))
    invoice_number: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    retry_from: Mapped[datetime]
    next_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
