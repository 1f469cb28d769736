"""The analyst's form on the dispute page starts from what the findings imply, and after a
rejection it says who rejected the memo and why, above the form."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.conftest import People
from tests.e2e.helpers import dispute_body, wait_for
from tests.support.web_session import page_csrf
from tests.web.conftest import WebStack

pytestmark = pytest.mark.e2e


def amount_field(page: str, index: int) -> str:
    match = re.search(rf'<input id="amount_{index}" name="amount_{index}"[^>]*value="([^"]*)"',
                      page)
    assert match, page[:300]
    return match.group(1)


def test_form_prefilled_from_findings_and_shows_the_rejection(web_stack: WebStack,
                                                              people: People) -> None:
    cs = web_stack.http(people.tokens["cs"])
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    view = wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    on_l1 = [Decimal(f["implied_credit"]) for f in view["findings"] if f["line_id"] == "L1"]
    assert sum(on_l1) > 0, view["findings"]
    analyst = web_stack.browser_session(people.tokens["analyst"])
    page = analyst.get(f"/disputes/{dispute_id}").text
    # L1 is the invoice's first line; its findings' credits add up (never past what it billed)
    assert Decimal(amount_field(page, 0)) == min(sum(on_l1), Decimal("1250.00"))
    assert amount_field(page, 1) == ""  # L2: nothing implied
    assert "implied by the findings" in page

    web_stack.http(people.tokens["analyst"]).post(
        f"/api/v1/disputes/{dispute_id}/investigation",
        json={"root_cause": "rate_card", "resolution": "partial_credit",
              "credit_lines": [{"line_id": "L1", "amount": "250.00"}]})
    r = web_stack.http(people.tokens["bm"]).post(
        f"/api/v1/disputes/{dispute_id}/decision",
        json={"decision": "reject", "comment": "Check the delivery report first"})
    assert r.json()["status"] == "investigating", r.text
    page = analyst.get(f"/disputes/{dispute_id}").text
    notice = re.search(r"<p [^>]*data-rejection[^>]*>(.*?)</p>", page, re.S)
    assert notice, page[:500]
    assert "rejected at level 1 (billing manager) by bm" in notice.group(1)
    assert "Check the delivery report first" in notice.group(1)


def test_analyst_changes_the_memo_under_approval_on_the_page(web_stack: WebStack,
                                                             people: People) -> None:
    cs = web_stack.http(people.tokens["cs"])
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body(
        disputed_amount="6000.00", invoice_number="INV-BIG", line_ids=["B1"])).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    r = web_stack.http(people.tokens["analyst"]).post(
        f"/api/v1/disputes/{dispute_id}/investigation",
        json={"root_cause": "rate_card", "resolution": "partial_credit",
              "credit_lines": [{"line_id": "B1", "amount": "5500.00"}]})
    assert [a["role"] for a in r.json()["approvals"]] == ["billing_manager",
                                                          "senior_billing_manager"]
    analyst = web_stack.browser_session(people.tokens["analyst"])
    path = f"/disputes/{dispute_id}"
    page = analyst.get(path).text
    assert "Change the credit memo" in page
    assert amount_field(page, 0) == "5500.00"  # the memo's amount, to edit

    def post(amount: str, note: str) -> str:
        r = analyst.post(f"{path}/credit-memo", data={
            "csrf": page_csrf(analyst, path), "idem": f"rev-{amount}", "line_0": "B1",
            "amount_0": amount, "note": note})
        return r.text if r.status_code != 303 else analyst.get(path).text

    refused = post("5500.0x", "typo")
    assert "Credit lines, item 1, amount: write an amount such as 250 or 250.00." in refused
    assert 'value="5500.0x"' in refused  # what was typed stays
    post("4000.00", "agreed 4,000 with the client")
    view = cs.get(f"/api/v1/disputes/{dispute_id}").json()
    assert view["credit_memo"]["total"] == "4000.00"
    assert view["credit_memo"]["number"].endswith("-2")
    assert [a["role"] for a in view["approvals"]] == ["billing_manager"]  # 4,000: one level
    assert any(t["action"] == "credit_memo.revised" and t["actor"] == people.ids["analyst"]
               for t in view["timeline"])
