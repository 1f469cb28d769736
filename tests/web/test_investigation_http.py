"""The analyst's form on the dispute page starts from what the findings imply, and after a
rejection it says who rejected the memo and why, above the form."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.conftest import People
from tests.e2e.helpers import dispute_body, wait_for
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
