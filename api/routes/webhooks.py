"""Outbound webhooks: admins register receivers and read (auditors too) what was sent."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.commands import webhooks as commands
from api.deps import AdminDep, AuditorDep, ReadSessionDep, SessionDep
from api.schemas_webhooks import (
    DeliveryList,
    DeliveryOut,
    DeliveryStatus,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookOut,
)
from db import webhooks

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@router.post("", status_code=201, response_model=WebhookCreated)
def register(body: WebhookIn, principal: AdminDep, session: SessionDep) -> Any:
    """Register a receiver for some event types; the answer holds its signing secret, which
    is never shown again."""
    endpoint, secret = commands.register(session, url=body.url, events=body.events,
                                         description=body.description, actor=principal.id)
    return {**commands.endpoint_out(endpoint), "secret": secret}


@router.get("", response_model=WebhookList)
def list_endpoints(_: AuditorDep, session: ReadSessionDep) -> Any:
    """Every endpoint, removed ones included, with its deliveries counted by status."""
    counts = webhooks.counts(session)
    return {"items": [commands.endpoint_out(e, counts.get(e.id))
                      for e in webhooks.endpoints(session)]}


@router.get("/{endpoint_id}", response_model=WebhookOut)
def get_endpoint(endpoint_id: str, _: AuditorDep, session: ReadSessionDep) -> Any:
    endpoint = commands.get_endpoint(session, endpoint_id)
    return commands.endpoint_out(endpoint, webhooks.counts(session).get(endpoint.id))


@router.delete("/{endpoint_id}", response_model=WebhookOut)
def remove(endpoint_id: str, principal: AdminDep, session: SessionDep) -> Any:
    """Stop sending to it: pending deliveries are cancelled, the log stays; 409 if removed
    already."""
    return commands.endpoint_out(commands.remove(session, endpoint_id=endpoint_id,
                                                 actor=principal.id))


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryList)
def deliveries(endpoint_id: str, _: AuditorDep, session: ReadSessionDep,
               status: DeliveryStatus | None = Query(None),
               limit: int = Query(50, ge=1, le=500),
               before: int | None = Query(None, ge=1, description="a delivery id: older ones")
               ) -> Any:
    """The endpoint's delivery log, newest first: each event's payload, attempts, the
    receiver's last answer, and when the next attempt is due."""
    commands.get_endpoint(session, endpoint_id)
    rows = webhooks.deliveries(session, endpoint_id=endpoint_id, status=status, limit=limit,
                               before=before)
    return {"items": [commands.delivery_out(row, body) for row, body in rows],
            "next_before": rows[-1][0].id if len(rows) == limit else None}


@router.post("/{endpoint_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut)
def redeliver(endpoint_id: str, delivery_id: int, principal: AdminDep,
              session: SessionDep) -> Any:
    """Send a failed (or delivered) event again, with the same webhook-id; 409 while it is
    still on its way."""
    row, body = commands.redeliver(session, endpoint_id=endpoint_id, delivery_id=delivery_id,
                                   actor=principal.id)
    return commands.delivery_out(row, body)
