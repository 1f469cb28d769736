"""The webhook outbox on a real database (SQLite, and PostgreSQL in CI): who gets which event,
one dispute's events in order per receiver, backing off through an outage, giving up after
the retry window, redelivery and removal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from db import webhooks
from db.models import WebhookDelivery, WebhookEndpoint
from db.session import session_scope
from domain.webhook_events import Outgoing

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def endpoint(db_url: str, *events: str, url: str = "https://ar.retail.example/hooks") -> str:
    with session_scope(db_url) as s:
        row, secret = webhooks.create_endpoint(s, url=url, events=events, description=None,
                                               actor="admin", now=T0)
        assert secret.startswith("whsec_")
        return row.id


def queue(db_url: str, dispute_id: str, *types: str, at: datetime = T0,
          invoice: str | None = None) -> int:
    with session_scope(db_url) as s:
        return webhooks.queue(s, dispute_id=dispute_id, now=at,
                              invoice_number=invoice or f"INV-{dispute_id}",
                              outgoing=[Outgoing(t, {"dispute_id": dispute_id}) for t in types])


def claim(db_url: str, at: datetime) -> list[webhooks.Claimed]:
    with session_scope(db_url) as s:
        return webhooks.claim(s, now=at, lease=LEASE, limit=50)


def delivery(db_url: str, delivery_id: int) -> WebhookDelivery:
    with session_scope(db_url, readonly=True) as s:
        row = s.get(WebhookDelivery, delivery_id)
        assert row is not None
        s.expunge(row)
        return row


def test_events_go_to_the_active_endpoints_that_want_them(db_url: str) -> None:
    ar = endpoint(db_url, "invoice.dispute_hold", "dispute.closed")
    crm = endpoint(db_url, "dispute.closed", url="https://crm.retail.example/hooks")
    assert queue(db_url, "D-1", "dispute.status_changed") == 0  # nobody wants it
    assert queue(db_url, "D-1", "dispute.closed") == 2
    with session_scope(db_url) as s:
        assert webhooks.wanted_types(s) == {"invoice.dispute_hold", "dispute.closed"}
        gone = s.get(WebhookEndpoint, crm)
        assert gone is not None
        assert webhooks.disable_endpoint(s, endpoint=gone, actor="admin", now=T0) == 1
        assert webhooks.wanted_types(s) == {"invoice.dispute_hold", "dispute.closed"}
    assert queue(db_url, "D-2", "dispute.closed") == 1
    assert {c.endpoint_id for c in claim(db_url, T0)} == {ar}


def test_one_disputes_events_reach_a_receiver_in_order(db_url: str) -> None:
    endpoint(db_url, "dispute.opened", "dispute.status_changed", "dispute.closed")
    queue(db_url, "D-1", "dispute.opened", "dispute.status_changed")
    queue(db_url, "D-2", "dispute.opened")
    queue(db_url, "D-1", "dispute.closed", at=T0 + timedelta(seconds=1))
    first = claim(db_url, T0 + timedelta(seconds=2))
    assert [(c.dispute_id, c.body.split('"type":"')[1].split('"')[0]) for c in first] == [
        ("D-1", "dispute.opened"), ("D-2", "dispute.opened")]
    assert claim(db_url, T0 + timedelta(seconds=2)) == []  # leased, and D-1's next waits

    with session_scope(db_url) as s:  # D-1's first fails: its later events wait behind it
        webhooks.attempt_failed(s, delivery_id=first[0].id, now=T0, status_code=503,
                                error="HTTP 503")
        webhooks.delivered(s, delivery_id=first[1].id, now=T0, status_code=204)
    assert claim(db_url, T0 + timedelta(seconds=3)) == []
    retried = claim(db_url, T0 + timedelta(seconds=6))
    assert [c.id for c in retried] == [first[0].id]
    with session_scope(db_url) as s:
        webhooks.delivered(s, delivery_id=retried[0].id, now=T0, status_code=200)
    rest = claim(db_url, T0 + timedelta(seconds=7))
    assert ['"dispute.status_changed"' in c.body for c in rest] == [True]


def test_a_receiver_down_for_an_hour_loses_nothing(db_url: str) -> None:
    endpoint(db_url, "dispute.opened", "dispute.closed")
    queue(db_url, "D-1", "dispute.opened", "dispute.closed")
    now, attempts = T0, 0
    while now < T0 + timedelta(hours=1):  # the receiver refuses every attempt for an hour
        (head,) = claim(db_url, now)
        with session_scope(db_url) as s:
            assert webhooks.attempt_failed(s, delivery_id=head.id, now=now, status_code=None,
                                           error="ConnectError: refused") == "pending"
        attempts += 1
        now = delivery(db_url, head.id).next_at
    assert now - T0 < timedelta(hours=1, minutes=31)  # waits at most 30 min between tries
    (head,) = claim(db_url, now)  # back: the first event, then the second, nothing lost
    with session_scope(db_url) as s:
        webhooks.delivered(s, delivery_id=head.id, now=now, status_code=204)
    (second,) = claim(db_url, now)
    assert '"dispute.closed"' in second.body
    row = delivery(db_url, head.id)
    assert row.status == "delivered" and row.attempts == attempts + 1 and 8 <= attempts <= 12


def test_a_day_of_failures_marks_it_failed_and_an_admin_can_send_it_again(db_url: str) -> None:
    endpoint_id = endpoint(db_url, "dispute.opened")
    queue(db_url, "D-1", "dispute.opened")
    now, outcome = T0, "pending"
    while outcome == "pending":
        (head,) = claim(db_url, now)
        with session_scope(db_url) as s:
            outcome = webhooks.attempt_failed(s, delivery_id=head.id, now=now,
                                              status_code=500, error="HTTP 500: boom")
        now = delivery(db_url, head.id).next_at
    failed = delivery(db_url, head.id)
    assert failed.status == "failed" and failed.last_status_code == 500
    assert timedelta(hours=23) < failed.failed_at - T0 <= timedelta(days=1)  # type: ignore[operator]
    assert claim(db_url, now + timedelta(days=2)) == []  # given up: not sent again by itself

    with session_scope(db_url) as s:
        page = webhooks.deliveries(s, endpoint_id=endpoint_id, status="failed", limit=10,
                                   before=None)
        assert [r.id for r, _ in page] == [head.id]
        row, gone = s.get(WebhookDelivery, head.id), s.get(WebhookEndpoint, endpoint_id)
        assert row is not None and gone is not None
        webhooks.redeliver(s, delivery=row, endpoint=gone, actor="admin", now=now)
        with pytest.raises(webhooks.NotRedeliverable):
            webhooks.redeliver(s, delivery=row, endpoint=gone, actor="admin", now=now)
    (again,) = claim(db_url, now)
    assert again.event_id == head.event_id  # the same webhook-id: receivers deduplicate


def test_health_counts_what_waits_retries_and_failed(db_url: str) -> None:
    endpoint(db_url, "dispute.opened")
    queue(db_url, "D-1", "dispute.opened")
    queue(db_url, "D-2", "dispute.opened")
    (one, _two) = claim(db_url, T0)
    with session_scope(db_url) as s:
        webhooks.attempt_failed(s, delivery_id=one.id, now=T0, status_code=502, error="HTTP 502")
        health = webhooks.health(s, now=T0 + timedelta(minutes=10))
    assert health == {"waiting": 2, "retrying": 1, "failed": 0, "oldest_waiting_seconds": 600}


def test_an_unsendable_url_fails_its_own_delivery_only(db_url: str) -> None:
    """A host name no request can be sent to is that delivery's failure, recorded; the
    dispatcher goes on with the others (it once ended the loop for every receiver)."""
    from activities.webhook_dispatch import WebhookDispatcher

    endpoint(db_url, "dispute.opened", url="https://hooks..example.com/x")
    queue(db_url, "D-1", "dispute.opened")
    (row,) = claim(db_url, T0)
    dispatcher = WebhookDispatcher(db_url)
    try:
        dispatcher.deliver(row)  # raises nothing
    finally:
        dispatcher.close()
    failed = delivery(db_url, row.id)
    assert failed.status == "pending" and failed.attempts == 1
    assert "UnicodeError" in (failed.last_error or "") or "URL" in (failed.last_error or "")


def test_a_removed_endpoints_late_answer_does_not_revive_its_delivery(db_url: str) -> None:
    endpoint_id = endpoint(db_url, "dispute.opened")
    queue(db_url, "D-1", "dispute.opened")
    (row,) = claim(db_url, T0)
    with session_scope(db_url) as s:
        gone = s.get(WebhookEndpoint, endpoint_id)
        assert gone is not None
        webhooks.disable_endpoint(s, endpoint=gone, actor="admin", now=T0)
    with session_scope(db_url) as s:  # the attempt in flight finishes after the removal
        webhooks.attempt_failed(s, delivery_id=row.id, now=T0, status_code=503, error="503")
    assert delivery(db_url, row.id).status == "cancelled"
    assert claim(db_url, T0 + timedelta(days=1)) == []


def test_the_disputes_of_one_invoice_reach_a_receiver_in_order(db_url: str) -> None:
    """Accounts receivable holds dunning per invoice: one dispute's release must not overtake
    another's hold of the same invoice, whatever retries came between."""
    endpoint(db_url, "dispute.opened", "dispute.closed")
    queue(db_url, "D-1", "dispute.closed", invoice="INV-7")
    queue(db_url, "D-2", "dispute.opened", invoice="INV-7")
    queue(db_url, "D-3", "dispute.opened", invoice="INV-8")
    first = claim(db_url, T0)
    assert [c.dispute_id for c in first] == ["D-1", "D-3"]  # D-2 waits behind D-1
    with session_scope(db_url) as s:
        webhooks.attempt_failed(s, delivery_id=first[0].id, now=T0, status_code=503,
                                error="HTTP 503")
        webhooks.delivered(s, delivery_id=first[1].id, now=T0, status_code=204)
    assert claim(db_url, T0 + timedelta(seconds=1)) == []  # D-1 backs off; D-2 still waits
    (retried,) = claim(db_url, T0 + timedelta(seconds=10))
    assert retried.dispute_id == "D-1"
    with session_scope(db_url) as s:
        webhooks.delivered(s, delivery_id=retried.id, now=T0, status_code=204)
    assert [c.dispute_id for c in claim(db_url, T0 + timedelta(seconds=10))] == ["D-2"]
