"""Outbound webhooks: endpoints, the events of each recorded change, and their deliveries.

Events are written by :func:`queue` inside the snapshot's transaction (the snapshot activity
calls it only when the snapshot is newly written), one delivery per endpoint that wants the
type, so a receiver hears of a change if and only if it was recorded, and a crash in between
loses nothing. The worker's dispatcher (activities/webhook_dispatch.py) takes due deliveries
under a lease (:func:`claim`), one invoice's (so one dispute's) deliveries to one endpoint in
the order they
were written, and settles each: :func:`delivered`, or :func:`attempt_failed`, which backs off
(doubling, at most ``longest``) until the retry window has passed and then marks it failed.
An admin can send a failed (or delivered) one again (:func:`redeliver`); nothing waits for a
receiver.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from db import audit
from db.models import (
    Dispute,
    Invoice,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    table,
)
from domain.codes import TERMINAL_STATUSES
from domain.money import from_minor
from domain.retries import Retry
from domain.webhook_events import HOLD, RELEASE, Outgoing, money
from domain.webhook_signature import new_secret

FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=30)
RETRY_FOR = timedelta(days=1)
PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"
_DELIVERIES, _EVENTS = table(WebhookDelivery), table(WebhookEvent)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


# -- endpoints ----------------------------------------------------------------------------

def create_endpoint(session: Session, *, url: str, events: Sequence[str],
                    description: str | None, actor: str,
                    now: datetime) -> tuple[WebhookEndpoint, str]:
    """Register a receiver; its signing secret is returned here, and never again."""
    secret = new_secret()
    endpoint = WebhookEndpoint(id="WH-" + uuid.uuid4().hex[:12].upper(), url=url,
                               events=sorted(set(events)), description=description,
                               secret=secret, created_by=actor, created_at=now,
                               disabled_at=None, disabled_by=None)
    session.add(endpoint)
    session.flush()
    audit.append(session, [audit.NewEvent(
        actor=actor, action="webhook.created", subject=endpoint.id,
        message=f"Webhook endpoint {endpoint.id} registered for {url} "
                f"({', '.join(endpoint.events)}).",
        data={"url": url, "events": endpoint.events, "description": description})])
    return endpoint, secret


class EndpointGone(ValueError):
    """The endpoint was disabled already."""


def disable_endpoint(session: Session, *, endpoint: WebhookEndpoint, actor: str,
                     now: datetime) -> int:
    """Stop sending to ``endpoint``: its pending deliveries are cancelled (how many is
    returned); its log stays."""
    if endpoint.disabled_at is not None:
        raise EndpointGone(f"Webhook endpoint {endpoint.id} was removed already.")
    endpoint.disabled_at, endpoint.disabled_by = now, actor
    cancelled = session.execute(update(_DELIVERIES).where(
        _DELIVERIES.c.endpoint_id == endpoint.id, _DELIVERIES.c.status == PENDING)
        .values(status=CANCELLED, lease_until=None)).rowcount  # type: ignore[attr-defined]
    audit.append(session, [audit.NewEvent(
        actor=actor, action="webhook.disabled", subject=endpoint.id,
        message=f"Webhook endpoint {endpoint.id} ({endpoint.url}) removed; "
                f"{cancelled} pending deliveries cancelled.",
        data={"url": endpoint.url, "cancelled": cancelled})])
    return int(cancelled)


def endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at,
                                                                 WebhookEndpoint.id)))


def counts(session: Session) -> dict[str, dict[str, int]]:
    """Deliveries per endpoint and status (the endpoints list shows them)."""
    out: dict[str, dict[str, int]] = {}
    for endpoint_id, status, n in session.execute(
            select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
            .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)):
        out.setdefault(endpoint_id, {})[status] = int(n)
    return out


# -- events, written with the change ------------------------------------------------------

def wanted_types(session: Session) -> set[str]:
    """The event types some active endpoint wants (empty: no event need be built)."""
    wanted: set[str] = set()
    for types in session.scalars(select(WebhookEndpoint.events)
                                 .where(WebhookEndpoint.disabled_at.is_(None))):
        wanted.update(types)
    return wanted


def _invoice_open(session: Session, invoice_number: str, currency: str) -> str:
    """What of the invoice is still in dispute, across its open disputes (this change's own
    status is written already)."""
    total = session.scalar(select(func.coalesce(func.sum(Dispute.disputed_minor), 0)).where(
        Dispute.invoice_number == invoice_number, Dispute.status.not_in(TERMINAL_STATUSES)))
    return money(from_minor(int(total or 0), currency), currency)


def queue(session: Session, *, dispute_id: str, invoice_number: str,
          outgoing: Sequence[Outgoing], now: datetime) -> int:
    """Write the change's events for the active endpoints that want them, one delivery
    each; returns how many deliveries were queued. An invoice's hold or release takes the
    invoice's row lock first: the amount still in dispute then counts every other dispute's
    committed change, and a concurrent change of another dispute of the invoice writes its
    deliveries after these (ordered per invoice, they reach a receiver in that order)."""
    if not outgoing:
        return 0
    if any(item.type in (HOLD, RELEASE) for item in outgoing):
        session.execute(select(Invoice.number).where(Invoice.number == invoice_number)
                        .with_for_update())
    active = [(e.id, set(e.events)) for e in session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.events)
        .where(WebhookEndpoint.disabled_at.is_(None))).all()]
    events: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for item in outgoing:
        targets = [endpoint_id for endpoint_id, types in active if item.type in types]
        if not targets:
            continue
        data = dict(item.data)
        if item.type in (HOLD, RELEASE):
            data["invoice_amount_in_dispute"] = _invoice_open(
                session, data["invoice_number"], data["currency"])
        event_id = "msg_" + uuid.uuid4().hex
        body = _ENCODER.encode({"type": item.type, "timestamp": now.isoformat(),
                                "data": data})
        events.append({"id": event_id, "type": item.type, "dispute_id": dispute_id,
                       "body": body, "created_at": now})
        rows += [{"event_id": event_id, "endpoint_id": endpoint_id, "dispute_id": dispute_id,
                  "invoice_number": invoice_number,
                  "event_type": item.type, "status": PENDING, "attempts": 0,
                  "created_at": now, "retry_from": now, "next_at": now}
                 for endpoint_id in targets]
    if events:
        session.execute(insert(_EVENTS), events)
        session.execute(insert(_DELIVERIES), rows)  # in order: ids follow the events'
    return len(rows)


# -- sending ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    id: int
    event_id: str
    endpoint_id: str
    dispute_id: str | None
    url: str
    secret: str
    body: str
    attempts: int


def claim(session: Session, *, now: datetime, lease: timedelta,
          limit: int = 8) -> list[Claimed]:
    """Due deliveries, each the oldest pending one of its invoice (so of its dispute) for its
    endpoint, now held by the caller for ``lease``."""
    d, earlier = WebhookDelivery, aliased(WebhookDelivery)
    found = session.execute(
        select(d.id, d.event_id, d.endpoint_id, d.dispute_id, d.attempts,
               WebhookEndpoint.url, WebhookEndpoint.secret, WebhookEvent.body)
        .join(WebhookEndpoint, WebhookEndpoint.id == d.endpoint_id)
        .join(WebhookEvent, WebhookEvent.id == d.event_id)
        .where(d.status == PENDING, d.next_at <= now, WebhookEndpoint.disabled_at.is_(None),
               or_(d.lease_until.is_(None), d.lease_until < now),
               ~exists().where(earlier.endpoint_id == d.endpoint_id,
                               earlier.invoice_number == d.invoice_number,
                               earlier.status == PENDING, earlier.id < d.id))
        .order_by(d.id).limit(limit).with_for_update(skip_locked=True, of=d)).all()
    if found:
        session.execute(update(_DELIVERIES).where(_DELIVERIES.c.id.in_([f.id for f in found]))
                        .values(lease_until=now + lease))
    return [Claimed(f.id, f.event_id, f.endpoint_id, f.dispute_id, f.url, f.secret, f.body,
                    f.attempts) for f in found]


def delivered(session: Session, *, delivery_id: int, now: datetime, status_code: int) -> None:
    # Only a delivery still pending: one cancelled (its endpoint removed) or settled by a
    # faster attempt meanwhile keeps what it is.
    session.execute(update(_DELIVERIES).where(_DELIVERIES.c.id == delivery_id,
                                              _DELIVERIES.c.status == PENDING).values(
        status=DELIVERED, delivered_at=now, last_attempt_at=now, last_status_code=status_code,
        last_error=None, lease_until=None, attempts=_DELIVERIES.c.attempts + 1))


def attempt_failed(session: Session, *, delivery_id: int, now: datetime,
                   status_code: int | None, error: str, first: timedelta = FIRST_RETRY,
                   longest: timedelta = LONGEST_RETRY,
                   retry_for: timedelta = RETRY_FOR) -> str:
    """Record a failed attempt and back off; past the retry window the delivery is marked
    failed. Its new status."""
    row = session.execute(select(WebhookDelivery.attempts, WebhookDelivery.retry_from)
                          .where(WebhookDelivery.id == delivery_id,
                                 WebhookDelivery.status == PENDING)).first()
    if row is None:
        return PENDING
    attempts, retry_from = row
    due = Retry(first, longest, retry_for).next_attempt(now=now, attempts=attempts,
                                                        since=retry_from)
    session.execute(update(_DELIVERIES).where(_DELIVERIES.c.id == delivery_id,
                                              _DELIVERIES.c.status == PENDING).values(
        attempts=attempts + 1, last_attempt_at=now, last_status_code=status_code,
        last_error=error[:2000], lease_until=None, next_at=due or now,
        status=PENDING if due else FAILED, failed_at=None if due else now))
    return PENDING if due else FAILED


class NotRedeliverable(ValueError):
    """A delivery still on its way (or cancelled with its endpoint)."""


def redeliver(session: Session, *, delivery: WebhookDelivery, endpoint: WebhookEndpoint,
              actor: str, now: datetime) -> WebhookDelivery:
    """Send a failed or delivered event again under a new retry window, with the same
    ``webhook-id`` (a receiver that took it once may drop it as a duplicate: a redelivery
    is for one that did not); audited."""
    if endpoint.disabled_at is not None:
        raise NotRedeliverable(f"Webhook endpoint {endpoint.id} was removed; register it "
                               "again to receive events.")
    if delivery.status not in (FAILED, DELIVERED):
        raise NotRedeliverable(f"Delivery {delivery.id} is {delivery.status}: only a failed "
                               "or delivered one can be sent again.")
    before = delivery.status
    delivery.status, delivery.retry_from, delivery.next_at = PENDING, now, now
    delivery.failed_at = delivery.lease_until = None
    audit.append(session, [audit.NewEvent(
        actor=actor, action="webhook.redelivered", subject=endpoint.id,
        message=f"Delivery {delivery.id} ({delivery.event_type}, {delivery.event_id}) to "
                f"{endpoint.url} queued again; it was {before}.",
        data={"delivery_id": delivery.id, "event_id": delivery.event_id, "was": before})])
    session.flush()
    return delivery


def deliveries(session: Session, *, endpoint_id: str, status: str | None, limit: int,
               before: int | None) -> list[tuple[WebhookDelivery, str]]:
    """An endpoint's delivery log, newest first, with each event's body (keyset paging on
    the delivery id)."""
    query = (select(WebhookDelivery, WebhookEvent.body)
             .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
             .where(WebhookDelivery.endpoint_id == endpoint_id))
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return [(row, body) for row, body in session.execute(
        query.order_by(WebhookDelivery.id.desc()).limit(limit)).all()]


def health(session: Session, *, now: datetime) -> dict[str, Any]:
    """What managers see of webhook delivery (``GET /api/v1/metrics``): deliveries still on
    their way, how long the oldest has waited, how many are retrying, and how many gave up."""
    d = WebhookDelivery
    waiting, oldest, retrying, failed = session.execute(select(
        func.coalesce(func.sum(case((d.status == PENDING, 1), else_=0)), 0),
        func.min(case((d.status == PENDING, d.created_at))),
        func.coalesce(func.sum(case((and_(d.status == PENDING, d.attempts > 0), 1),
                                    else_=0)), 0),
        func.coalesce(func.sum(case((d.status == FAILED, 1), else_=0)), 0))
        .where(d.status.in_((PENDING, FAILED)))).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return {"waiting": int(waiting), "retrying": int(retrying), "failed": int(failed),
            "oldest_waiting_seconds": (None if oldest is None
                                       else max(0, int((now - oldest).total_seconds())))}


def event_body(session: Session, event_id: str) -> str:
    return str(session.scalar(select(WebhookEvent.body).where(WebhookEvent.id == event_id)))
