"""Outbound webhook endpoints: registering one, removing it, and sending a delivery again.
The API's routes are thin adapters over these."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from api.errors import AppError
from db import webhooks
from db.models import WebhookDelivery, WebhookEndpoint

MAX_ENDPOINTS = 50


def endpoint_out(endpoint: WebhookEndpoint, counts: dict[str, int] | None = None
                 ) -> dict[str, Any]:
    return {"id": endpoint.id, "url": endpoint.url, "events": endpoint.events,
            "description": endpoint.description, "created_by": endpoint.created_by,
            "created_at": endpoint.created_at, "disabled_at": endpoint.disabled_at,
            "disabled_by": endpoint.disabled_by, "deliveries": counts or {}}


def delivery_out(row: WebhookDelivery, body: str) -> dict[str, Any]:
    return {"id": row.id, "event_id": row.event_id, "event_type": row.event_type,
            "dispute_id": row.dispute_id, "status": row.status, "attempts": row.attempts,
            "created_at": row.created_at, "last_attempt_at": row.last_attempt_at,
            "last_status_code": row.last_status_code, "last_error": row.last_error,
            "next_attempt_at": row.next_at if row.status == "pending" else None,
            "delivered_at": row.delivered_at, "failed_at": row.failed_at,
            "payload": json.loads(body)}


def get_endpoint(session: Session, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise AppError("not_found", f"There is no webhook endpoint {endpoint_id}.")
    return endpoint


def register(session: Session, *, url: str, events: Sequence[str], description: str | None,
             actor: str) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (shown once)."""
    active = [e for e in webhooks.endpoints(session) if e.disabled_at is None]
    if len(active) >= MAX_ENDPOINTS:
        raise AppError("validation_error", f"At most {MAX_ENDPOINTS} webhook endpoints can be "
                       "active; remove one first.")
    if any(e.url == url for e in active):
        raise AppError("validation_error", f"{url} is registered already; remove it first "
                       "to change its events.", [{"field": "url", "message": "in use"}])
    return webhooks.create_endpoint(session, url=url, events=events, description=description,
                                    actor=actor, now=datetime.now(UTC))


def remove(session: Session, *, endpoint_id: str, actor: str) -> WebhookEndpoint:
    """Stop sending to an endpoint (its pending deliveries are cancelled; its log stays)."""
    endpoint = get_endpoint(session, endpoint_id)
    try:
        webhooks.disable_endpoint(session, endpoint=endpoint, actor=actor, now=datetime.now(UTC))
    except webhooks.EndpointGone as exc:
        raise AppError("wrong_state", str(exc)) from None
    return endpoint


def redeliver(session: Session, *, endpoint_id: str, delivery_id: int,
              actor: str) -> tuple[WebhookDelivery, str]:
    endpoint = get_endpoint(session, endpoint_id)
    found = session.get(WebhookDelivery, delivery_id)
    if found is None or found.endpoint_id != endpoint.id:
        raise AppError("not_found", f"Webhook endpoint {endpoint_id} has no delivery "
                       f"{delivery_id}.")
    try:
        row = webhooks.redeliver(session, delivery=found, endpoint=endpoint, actor=actor,
                                 now=datetime.now(UTC))
    except webhooks.NotRedeliverable as exc:
        raise AppError("wrong_state", str(exc)) from None
    body = webhooks.event_body(session, row.event_id)
    return row, body
