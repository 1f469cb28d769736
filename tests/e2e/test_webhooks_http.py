"""Outbound webhooks end to end: an admin registers a receiver over the API, a dispute goes
through its lifecycle on the real Temporal dev server and worker, and a real HTTP receiver
verifying with the Standard Webhooks library gets every event, in order, exactly as the
contract names them — also when it was away for a while, and after it gave up and an admin
sent a delivery again."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cli.processes import DevServer
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, error_code, wait_for
from tests.support.stack import Stack
from tests.support.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

ALL = ["dispute.opened", "dispute.status_changed", "credit_memo.approved",
       "credit_memo.posted", "dispute.closed", "sla.breached", "invoice.dispute_hold",
       "invoice.dispute_released"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().up()
    yield r
    r.down()


@pytest.fixture
def stack(dev_server: DevServer, db_url: str, admin_token: str,
          people: People) -> Iterator[Stack]:
    """The stack, retrying webhooks fast (first retry 0.2 s) and giving up after 4 s."""
    s = Stack.create(temporal_address=dev_server.address, db_url=db_url,
                     admin_token=admin_token, disputeflow_webhook_first_retry_s=0.2,
                     disputeflow_webhook_retry_hours=4 / 3600)
    yield s
    s.stop()


def register(stack: Stack, admin_token: str, receiver: Receiver,
             events: list[str] | None = None) -> str:
    r = stack.http(admin_token).post("/api/v1/webhooks", json={
        "url": receiver.url, "events": events or ALL, "description": "AR dunning hold"})
    assert r.status_code == 201, r.text
    created = r.json()
    receiver.secret = created["secret"]
    assert created["secret"].startswith("whsec_")
    listed = stack.http(admin_token).get(f"/api/v1/webhooks/{created['id']}").json()
    assert "secret" not in listed  # shown once
    return str(created["id"])


def resolve(stack: Stack, people: People, invoice: str = "INV-1001") -> str:
    """A dispute opened, investigated for a full credit and approved by a billing manager."""
    cs = as_user(stack, people, "cs")
    dispute_id = str(cs.post("/api/v1/disputes", json=dispute_body(invoice_number=invoice))
                     .json()["id"])
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    r = as_user(stack, people, "analyst").post(
        f"/api/v1/disputes/{dispute_id}/investigation", json={
            "root_cause": "rate_card", "resolution": "full_credit", "prior_period": False,
            "credit_lines": [{"line_id": "L1", "amount": "250.00"}], "note": "rate card"})
    assert r.status_code == 200, r.text
    r = as_user(stack, people, "bm").post(f"/api/v1/disputes/{dispute_id}/decision",
                                          json={"decision": "approve", "comment": "ok"})
    assert r.status_code == 200, r.text
    wait_for(cs, dispute_id, lambda v: v["status"] == "resolved")
    return dispute_id


def test_a_receiver_gets_each_event_of_a_dispute_signed_and_in_order(
        stack: Stack, people: People, admin_token: str, receiver: Receiver) -> None:
    register(stack, admin_token, receiver)
    dispute_id = resolve(stack, people)
    got = receiver.wait_for(8)
    assert receiver.refused_signatures == 0
    assert [r.type for r in got] == [
        "dispute.opened", "invoice.dispute_hold",
        "dispute.status_changed",  # investigating -> pending_approval
        "credit_memo.approved", "credit_memo.posted",
        "dispute.status_changed", "dispute.closed", "invoice.dispute_released"]
    hold = got[1].data
    assert hold["invoice_number"] == "INV-1001" and hold["amount_in_dispute"] == "250.00"
    assert hold["invoice_amount_in_dispute"] == "250.00"
    assert got[-1].data["invoice_amount_in_dispute"] == "0.00"  # AR may dun again
    posted = next(r for r in got if r.type == "credit_memo.posted").data
    assert posted["total"] == "250.00" and posted["ledger_reference"]
    assert posted["lines"] == [{"line_id": "L1", "amount": "250.00"}]
    assert got[2].data["previous_status"] == "investigating"
    assert all(r.data["dispute_id"] == dispute_id for r in got)
    assert len({r.id for r in got}) == len(got)


def test_a_receiver_away_for_a_while_gets_everything_once_back(
        stack: Stack, people: People, admin_token: str, receiver: Receiver) -> None:
    endpoint_id = register(stack, admin_token, receiver,
                           ["dispute.opened", "invoice.dispute_hold", "dispute.closed"])
    receiver.down()
    dispute_id = resolve(stack, people)
    admin = stack.http(admin_token)
    log = admin.get(f"/api/v1/webhooks/{endpoint_id}/deliveries").json()["items"]
    assert {d["status"] for d in log} == {"pending"}
    assert any(d["attempts"] >= 1 and "Connect" in (d["last_error"] or "") for d in log)
    receiver.up()
    got = receiver.wait_for(3)
    assert [r.type for r in got] == ["dispute.opened", "invoice.dispute_hold",
                                     "dispute.closed"]
    assert all(r.data["dispute_id"] == dispute_id for r in got)
    log = admin.get(f"/api/v1/webhooks/{endpoint_id}/deliveries").json()["items"]
    assert {d["status"] for d in log} == {"delivered"}


def test_a_delivery_given_up_is_sent_again_by_an_admin(
        stack: Stack, people: People, admin_token: str, receiver: Receiver) -> None:
    endpoint_id = register(stack, admin_token, receiver, ["dispute.opened"])
    receiver.fail(10_000, status=500)  # broken for longer than the retry window (4 s)
    cs = as_user(stack, people, "cs")
    cs.post("/api/v1/disputes", json=dispute_body())
    admin = stack.http(admin_token)

    def log() -> list[dict[str, object]]:
        return list(admin.get(f"/api/v1/webhooks/{endpoint_id}/deliveries").json()["items"])

    deadline = time.monotonic() + 20
    while log()[0]["status"] != "failed":
        assert time.monotonic() < deadline, log()
        time.sleep(0.2)
    (failed,) = log()
    assert failed["last_status_code"] == 500 and "HTTP 500" in str(failed["last_error"])
    assert receiver.received == []

    receiver.fail(0)
    auditor = as_user(stack, people, "auditor")
    r = auditor.post(f"/api/v1/webhooks/{endpoint_id}/deliveries/{failed['id']}/redeliver")
    assert r.status_code == 403  # auditors read the log, admins act
    r = admin.post(f"/api/v1/webhooks/{endpoint_id}/deliveries/{failed['id']}/redeliver")
    assert r.status_code == 200 and r.json()["status"] == "pending"
    (got,) = receiver.wait_for(1)
    assert got.id == failed["event_id"] and got.type == "dispute.opened"

    r = admin.delete(f"/api/v1/webhooks/{endpoint_id}")
    assert r.status_code == 200 and r.json()["disabled_at"]
    assert error_code(admin.delete(f"/api/v1/webhooks/{endpoint_id}")) == "wrong_state"
    cs.post("/api/v1/disputes", json=dispute_body(invoice_number="INV-BIG", line_ids=["B1"]))
    time.sleep(1)
    assert len(receiver.received) == 1  # removed: nothing more is sent


def test_registration_refuses_what_cannot_be_a_receiver(stack: Stack, admin_token: str,
                                                        people: People) -> None:
    admin = stack.http(admin_token)
    for body, field in [({"url": "http://ar.retail.example/h", "events": ["dispute.opened"]},
                         "url"),
                        ({"url": "ftp://ar.retail.example/h", "events": ["dispute.opened"]},
                         "url"),
                        ({"url": "https://ar.retail.example/h", "events": []}, "events"),
                        ({"url": "https://ar.retail.example/h", "events": ["dispute.moved"]},
                         "events")]:
        r = admin.post("/api/v1/webhooks", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in r.text
    r = as_user(stack, people, "mgr").post("/api/v1/webhooks", json={
        "url": "https://ar.retail.example/h", "events": ["dispute.opened"]})
    assert r.status_code == 403
