"""The ERP over HTTP end to end: the dev server, a worker and the API posting to a fake ERP
on loopback. A refused memo shows the ERP's reason to managers (API and page), is re-posted
from the page once the ERP is fixed and posted once; its PDF (read back by ``pdftotext``) and
the reconciliation report say so."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from cli.processes import DevServer
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, wait_for
from tests.support.fake_erp import REFUSAL, FakeErp
from tests.support.stack import Stack
from tests.support.web_session import page_csrf, sign_in

pytestmark = pytest.mark.e2e
ISSUER = "Acme Retail Media Billing"


@pytest.fixture
def erp_stack(dev_server: DevServer, db_url: str, admin_token: str, people: People,
              erp: FakeErp) -> Iterator[Stack]:
    s = Stack.create(temporal_address=dev_server.address, db_url=db_url,
                     admin_token=admin_token, disputeflow_ledger_url=erp.url,
                     disputeflow_issuer_name=ISSUER,
                     disputeflow_issuer_address="1 Market Street, Springfield")
    yield s
    s.stop()


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "memo.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def _approved_and_refused(stack: Stack, people: People, erp: FakeErp) -> tuple[str, str]:
    cs, analyst, bm = (as_user(stack, people, w) for w in ("cs", "analyst", "bm"))
    dispute = cs.post("/api/v1/disputes", json=dispute_body(), headers={"Idempotency-Key": "e1"})
    assert dispute.status_code == 201, dispute.text
    dispute_id = dispute.json()["id"]
    wait_for(analyst, dispute_id, lambda v: v.get("findings"))
    r = analyst.post(f"/api/v1/disputes/{dispute_id}/investigation", json={
        "root_cause": "rate_card", "resolution": "partial_credit",
        "credit_lines": [{"line_id": "L1", "amount": "250.00"}], "note": "rate card"})
    assert r.status_code == 200, r.text
    erp.fail(422, reason=REFUSAL)
    r = bm.post(f"/api/v1/disputes/{dispute_id}/decision",
                json={"decision": "approve", "comment": "checked"})
    assert r.status_code in (200, 202), r.text
    view = wait_for(bm, dispute_id, lambda v: v["credit_memo"]["status"] == "posting_failed")
    return dispute_id, view["credit_memo"]["number"]


def test_a_refused_memo_is_shown_reposted_from_its_page_and_posted_once(
    erp_stack: Stack, people: People, erp: FakeErp, tmp_path: Path
) -> None:
    dispute_id, number = _approved_and_refused(erp_stack, people, erp)
    mgr = as_user(erp_stack, people, "mgr")
    memo = mgr.get(f"/api/v1/disputes/{dispute_id}").json()["credit_memo"]
    assert memo["status"] == "posting_failed"
    assert REFUSAL in memo["posting_error"] and "HTTP 422" in memo["posting_error"]

    # Only managers, controllers and admins re-post.
    refused = as_user(erp_stack, people, "bm").post(f"/api/v1/credit-memos/{number}/repost")
    assert refused.status_code == 403, refused.text

    # The page shows the reason, and the button to a manager; the button re-posts.
    browser = httpx.Client(base_url=erp_stack.base_url, timeout=30)
    try:
        sign_in(browser, people.tokens["mgr"])
        page = browser.get(f"/credit-memos/{number}")
        assert page.status_code == 200
        assert REFUSAL in page.text and "Re-post to the ledger" in page.text
        form = {"csrf": page_csrf(browser, f"/credit-memos/{number}"),
                "comment": "invoice reopened in the ERP", "idem": "repost-1"}
        sent = browser.post(f"/credit-memos/{number}/repost", data=form)
        assert sent.status_code == 303, sent.text
        view = wait_for(mgr, dispute_id, lambda v: v["status"] == "resolved")
        assert view["credit_memo"]["ledger_reference"] == "ERP-000001"
        assert list(erp.booked) == [number]  # posted exactly once
        assert {r.headers.get("Idempotency-Key") for r in erp.requests} == {number}
        assert "credit_memo.repost_requested" in [t["action"] for t in view["timeline"]]
        # The same form again is the same request: nothing more is posted.
        again = browser.post(f"/credit-memos/{number}/repost", data=form)
        assert again.status_code == 303
        assert list(erp.booked) == [number]

        # The document on paper, through the web and the API: the same PDF text.
        web_pdf = browser.get(f"/credit-memos/{number}.pdf")
        assert web_pdf.status_code == 200
        assert web_pdf.headers["content-type"] == "application/pdf"
    finally:
        browser.close()
    api_pdf = as_user(erp_stack, people, "auditor").get(f"/api/v1/credit-memos/{number}.pdf")
    assert api_pdf.status_code == 200 and api_pdf.content.startswith(b"%PDF")
    for pdf in (web_pdf.content, api_pdf.content):
        text = pdf_text(pdf, tmp_path)
        for expected in (number, ISSUER, "1 Market Street", "INV-1001", "250.00 USD",
                         "Tax", "0.00 USD", "ERP-000001", "bm", "billing manager",
                         "Bill to", "Acme"):
            assert expected in text, (expected, text[:4000])
    missing = as_user(erp_stack, people, "mgr").get("/api/v1/credit-memos/CM-NONE.pdf")
    assert missing.status_code == 404

    # The month's reconciliation: approved, posted once, the ERP's reference in the book.
    zone = ZoneInfo("America/Los_Angeles")
    period = datetime.now(UTC).astimezone(zone).strftime("%Y-%m")
    report = mgr.get("/api/v1/reports/reconciliation", params={"period": period})
    assert report.status_code == 200, report.text
    body = report.json()
    row = next(i for i in body["items"] if i["number"] == number)
    assert (row["status"], row["ledger_reference"], row["ledger_book_references"],
            row["exceptions"]) == ("posted", "ERP-000001", ["ERP-000001"], [])
    assert body["summary"]["posted"]["credit_memos"] == 1 and body["reconciled"] is True
    csv = mgr.get("/api/v1/reports/reconciliation", params={"period": period, "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("number,dispute_id,")
    assert number in csv.text and "ERP-000001" in csv.text


def test_a_refused_memo_is_reposted_by_api_and_the_report_lists_it_until_then(
    erp_stack: Stack, people: People, erp: FakeErp
) -> None:
    dispute_id, number = _approved_and_refused(erp_stack, people, erp)
    mgr = as_user(erp_stack, people, "mgr")
    zone = ZoneInfo("America/Los_Angeles")
    period = datetime.now(UTC).astimezone(zone).strftime("%Y-%m")
    body = mgr.get("/api/v1/reports/reconciliation", params={"period": period}).json()
    row = next(i for i in body["items"] if i["number"] == number)
    assert row["exceptions"] == ["posting_failed"] and REFUSAL in row["posting_error"]
    assert body["reconciled"] is False

    erp.fail(422, reason="Still closed.")
    again = as_user(erp_stack, people, "ctrl").post(f"/api/v1/credit-memos/{number}/repost",
                                                     json={"comment": "tried"})
    assert again.status_code == 200, again.text
    assert again.json()["credit_memo"]["status"] == "posting_failed"
    assert "Still closed." in again.json()["credit_memo"]["posting_error"]

    ok = mgr.post(f"/api/v1/credit-memos/{number}/repost", json={"comment": "reopened"},
                  headers={"Idempotency-Key": "repost-2"})
    assert ok.status_code in (200, 202), ok.text
    view = wait_for(mgr, dispute_id, lambda v: v["status"] == "resolved")
    assert view["credit_memo"]["status"] == "posted"
    assert list(erp.booked) == [number]
    late = mgr.post(f"/api/v1/credit-memos/{number}/repost", json={})
    assert late.status_code == 409, late.text
