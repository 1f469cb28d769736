"""Letters to the disputing account's billing contact, end to end: the real Temporal dev server
and worker, a real SMTP server on loopback (aiosmtpd) receiving them, and the resolution's
PDF read back with pdftotext — acknowledgement on intake, resolution with the credit memo,
denial with the reason, an admin's rewording, and a mail server that refuses for a while."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.processes import DevServer
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, error_code, wait_for
from tests.support.mailbox import Mailbox, attachments
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
CONTACT = "ap@advertiser-one.example"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture
def stack(dev_server: DevServer, db_url: str, admin_token: str, people: People,
          mailbox: Mailbox) -> Iterator[Stack]:
    s = Stack.create(temporal_address=dev_server.address, db_url=db_url,
                     admin_token=admin_token, disputeflow_smtp_url=mailbox.url,
                     disputeflow_mail_from="Retail Media Billing <billing@retail.example>",
                     disputeflow_mail_first_retry_s=0.2,
                     disputeflow_issuer_name="Retail Media Billing")
    # The billing contact arrives with the accounts, as accounts receivable exports them.
    r = s.http(admin_token).post("/api/v1/billing-data/csv?kind=accounts",
                                 content=f"id,type,name,currency,billing_email\n"
                                         f"ADV-1,advertiser,Acme,USD,{CONTACT}\n",
                                 headers={"content-type": "text/csv"})
    assert r.status_code == 200 and r.json()["updated"] == 1, r.text
    yield s
    s.stop()


def pdf_text(pdf: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "memo.pdf"
        path.write_bytes(pdf)
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                              capture_output=True, text=True).stdout


def open_and_investigate(stack: Stack, people: People, resolution: str, **more: object) -> str:
    cs = as_user(stack, people, "cs")
    dispute_id = str(cs.post("/api/v1/disputes", json=dispute_body()).json()["id"])
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    body: dict[str, object] = {"root_cause": "rate_card", "resolution": resolution, **more}
    r = as_user(stack, people, "analyst").post(
        f"/api/v1/disputes/{dispute_id}/investigation", json=body)
    assert r.status_code == 200, r.text
    return dispute_id


def test_acknowledged_then_resolved_with_the_credit_memo_attached(
        stack: Stack, people: People, mailbox: Mailbox) -> None:
    dispute_id = open_and_investigate(stack, people, "full_credit", credit_lines=[
        {"line_id": "L1", "amount": "250.00"}])
    (ack,) = mailbox.wait_for(1)
    assert ack["To"] == CONTACT and "billing@retail.example" in ack["From"]
    assert ack["Subject"] == f"We received your dispute of invoice INV-1001 ({dispute_id})"
    assert "250.00" in ack.get_content() and "rate mismatch" in ack.get_content()

    r = as_user(stack, people, "bm").post(f"/api/v1/disputes/{dispute_id}/decision",
                                          json={"decision": "approve"})
    assert r.status_code == 200, r.text
    view = wait_for(as_user(stack, people, "cs"), dispute_id,
                    lambda v: v["status"] == "resolved")
    memo = view["credit_memo"]["number"]
    _, resolution = mailbox.wait_for(2)
    assert resolution["Subject"].startswith(f"Credit memo {memo}")
    files = attachments(resolution)
    assert list(files) == [f"{memo}.pdf"]
    text = pdf_text(files[f"{memo}.pdf"])
    assert memo in text and "250.00" in text and "INV-1001" in text
    assert view["credit_memo"]["ledger_reference"] in text

    sent = as_user(stack, people, "mgr").get(f"/api/v1/disputes/{dispute_id}/letters").json()
    assert [(x["kind"], x["status"]) for x in sent["items"]] == [
        ("acknowledgement", "sent"), ("resolution", "sent")]


def test_a_denial_says_why(stack: Stack, people: People, mailbox: Mailbox) -> None:
    open_and_investigate(stack, people, "deny",
                         note="The 12.50 CPM is the rate of the signed amendment of May.")
    _, denial = mailbox.wait_for(2)
    assert denial["Subject"].startswith("Your dispute of invoice INV-1001")
    assert "signed amendment of May" in denial.get_content()
    assert attachments(denial) == {}


def test_an_admins_wording_is_used_and_a_broken_one_refused(
        stack: Stack, people: People, admin_token: str, mailbox: Mailbox) -> None:
    admin = stack.http(admin_token)
    r = admin.put("/api/v1/letters/templates/acknowledgement", json={
        "subject": "Dispute {{ dispute_id }} received",
        "body": "Hello {{ account_nmae }}"})
    assert r.status_code == 422 and "account_nmae" in r.text  # a typo is caught at once
    r = admin.put("/api/v1/letters/templates/acknowledgement", json={
        "subject": "Dispute {{ dispute_id }} received",
        "body": "Hello {{ account_name }}, {{ ''.__class__.__mro__ }}"})
    assert r.status_code == 422  # the sandbox: no reaching into the application
    r = admin.put("/api/v1/letters/templates/acknowledgement", json={
        "subject": "Dispute {{ dispute_id }} received",
        "body": "Hello {{ account_name }}, we are on it.\n"})
    assert r.status_code == 200 and r.json()["customized"]
    assert as_user(stack, people, "analyst").put(
        "/api/v1/letters/templates/denial",
        json={"subject": "x", "body": "y"}).status_code == 403
    assert error_code(admin.put("/api/v1/letters/templates/apology",
                                json={"subject": "x", "body": "y"})) == "not_found"

    dispute_id = str(as_user(stack, people, "cs").post(
        "/api/v1/disputes", json=dispute_body()).json()["id"])
    (ack,) = mailbox.wait_for(1)
    assert ack["Subject"] == f"Dispute {dispute_id} received"
    assert ack.get_content().startswith("Hello Acme, we are on it.")


def test_a_mail_server_refusing_for_a_while_delays_but_loses_nothing(
        stack: Stack, people: People, mailbox: Mailbox) -> None:
    mailbox.refuse(3)
    dispute_id = str(as_user(stack, people, "cs").post(
        "/api/v1/disputes", json=dispute_body()).json()["id"])
    (ack,) = mailbox.wait_for(1)
    assert dispute_id in ack["Subject"]
    (letter,) = as_user(stack, people, "cs").get(
        f"/api/v1/disputes/{dispute_id}/letters").json()["items"]
    assert letter["status"] == "sent" and letter["attempts"] == 4


def test_an_account_without_a_billing_email_is_shown_as_unaddressed(
        stack: Stack, people: People, mailbox: Mailbox) -> None:
    cs = as_user(stack, people, "cs")
    dispute_id = str(cs.post("/api/v1/disputes", json=dispute_body(
        account_id="ADV-EU", invoice_number="INV-EU1", currency="EUR",
        disputed_amount="1000.00", line_ids=["E1"])).json()["id"])
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    (letter,) = cs.get(f"/api/v1/disputes/{dispute_id}/letters").json()["items"]
    assert letter["status"] == "unaddressed" and letter["recipient"] is None
    assert "no billing email" in letter["last_error"]
    assert mailbox.messages == []
