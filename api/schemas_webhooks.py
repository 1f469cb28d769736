"""The outbound webhooks' API shapes (``/api/v1/webhooks``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from domain.webhook_events import EVENT_TYPES

EventType = Literal[
    "dispute.opened", "dispute.status_changed", "credit_memo.approved", "credit_memo.posted",
    "dispute.closed", "sla.breached", "invoice.dispute_hold", "invoice.dispute_released",
]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: Annotated[str, StringConstraints(min_length=8, max_length=2000)] = Field(
        description="Where events are POSTed: https://, or http:// to this host only")
    events: Annotated[list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES))]
    description: Annotated[str, StringConstraints(max_length=200)] | None = None

    @field_validator("url")
    @classmethod
    def _receivable(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an absolute https:// URL")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK:
            raise ValueError("must be https:// (plain http only to this host): events carry "
                             "customer and invoice data")
        try:
            httpx.URL(value)
            parts.hostname.encode("idna")
        except (httpx.InvalidURL, UnicodeError, ValueError):
            raise ValueError("is not a URL a request can be sent to (check the host name)"
                             ) from None
        if parts.username or parts.password:
            raise ValueError("must not carry a user name or password; the signature "
                             "authenticates each delivery")
        return value


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    created_by: str
    created_at: datetime
    disabled_at: datetime | None
    disabled_by: str | None
    deliveries: dict[str, int] = Field(
        default_factory=dict, description="How many deliveries are pending, delivered, "
        "failed or cancelled")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret (whsec_…): shown once, keep it")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: int
    event_id: str = Field(description="The webhook-id header of every attempt")
    event_type: str
    dispute_id: str | None
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    payload: dict[str, object]


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    next_before: int | None = Field(description="Pass as ?before= for the next (older) page")
