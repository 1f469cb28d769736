"""Which outbound events a recorded change gives (pure), and that their signatures verify
with the Standard Webhooks library, as a receiver checks them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from domain.models import AuditEntry, DisputeOpened, DisputeState
from domain.webhook_events import events_of
from domain.webhook_signature import new_secret, sign

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def state(status: str = "investigating", **more: object) -> DisputeState:
    opened = DisputeOpened(dispute_id="D-1", account_id="ACC-1", invoice_number="INV-9",
                           currency="JPY", disputed_amount=Decimal("125000"),
                           reason_code="rate_mismatch", description="", opened_by="U-1",
                           opened_at=AT)
    return DisputeState(opened=opened, status=status, **more)  # type: ignore[arg-type]


def audit(action: str, **data: object) -> AuditEntry:
    return AuditEntry(actor="system", action=action, message=action, data=data, at=AT)


def test_opening_holds_the_invoice_for_its_disputed_amount() -> None:
    events = events_of(state(), [audit("dispute.opened")], None)
    assert [e.type for e in events] == ["dispute.opened", "invoice.dispute_hold"]
    hold = events[1].data
    assert hold == {"invoice_number": "INV-9", "account_id": "ACC-1", "dispute_id": "D-1",
                    "currency": "JPY", "amount_in_dispute": "125000"}  # yen: no minor units


def test_a_status_change_is_told_and_an_ending_closes_and_releases() -> None:
    moving = events_of(state("pending_approval"), [], "investigating")
    assert [e.type for e in moving] == ["dispute.status_changed"]
    assert moving[0].data["previous_status"] == "investigating"
    assert moving[0].data["status"] == "pending_approval"

    ending = events_of(state("withdrawn", close_reason="customer paid"),
                       [audit("dispute.withdrawn")], "investigating")
    assert [e.type for e in ending] == ["dispute.status_changed", "dispute.closed",
                                        "invoice.dispute_released"]
    assert ending[1].data["close_reason"] == "customer paid"


def test_nothing_changes_nothing_is_told() -> None:
    assert events_of(state("pending_approval"), [audit("approval.approved")],
                     "pending_approval") == []
    assert events_of(state(), [], None) == []  # a first record without its opening event


def test_a_breach_names_its_clock() -> None:
    (breach,) = events_of(state(), [audit("sla.breached", clock="investigation",
                                          due_at="2026-12-09T17:00:00+00:00",
                                          assignee_role="analyst")], "investigating")
    assert breach.type == "sla.breached"
    assert breach.data["clock"] == "investigation" and breach.data["assignee_role"] == "analyst"


def test_the_signature_verifies_with_the_specifications_library() -> None:
    secret = new_secret()
    body = b'{"type":"dispute.opened","timestamp":"2026-12-07T09:30:00+00:00","data":{}}'
    now = int(datetime.now(UTC).timestamp())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now),
               "webhook-signature": sign(secret, msg_id="msg_1", timestamp=now, body=body)}
    assert Webhook(secret).verify(body, headers)["type"] == "dispute.opened"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"opened", b"closed"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
