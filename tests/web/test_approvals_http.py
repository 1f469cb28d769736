"""My approvals over plain HTTP: a level reached through a delegation, decided on the page
(channel web, delegate recorded), and the queue's order and SoD notes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import People
from tests.e2e.helpers import dispute_body, wait_for
from tests.support.web_session import page_csrf
from tests.web.conftest import WebStack

pytestmark = pytest.mark.e2e


def test_delegate_decides_the_senior_level_on_the_page(web_stack: WebStack, people: People,
                                                       admin_token: str) -> None:
    cs = web_stack.http(people.tokens["cs"])
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body(
        disputed_amount="6000.00", invoice_number="INV-BIG", line_ids=["B1"])).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    r = web_stack.http(people.tokens["analyst"]).post(
        f"/api/v1/disputes/{dispute_id}/investigation",
        json={"root_cause": "rate_card", "resolution": "full_credit",
              "credit_lines": [{"line_id": "B1", "amount": "6000.00"}]})
    assert [a["role"] for a in r.json()["approvals"]] == ["billing_manager",
                                                          "senior_billing_manager"]
    now = datetime.now(UTC)
    r = web_stack.http(admin_token).post(
        f"/api/v1/users/{people.ids['sbm']}/delegations",
        json={"delegate_id": people.ids["bm2"], "starts_at": (now - timedelta(hours=1))
              .isoformat(), "ends_at": (now + timedelta(days=1)).isoformat()})
    assert r.status_code == 201, r.text

    bm = web_stack.browser_session(people.tokens["bm"])
    bm2 = web_stack.browser_session(people.tokens["bm2"])
    # Level 1 is the billing managers'; bm2 sees it in their own right.
    assert dispute_id in bm2.get("/approvals").text
    r = bm.post("/approvals", data={"csrf": page_csrf(bm, "/approvals"),
                                    "decide": f"{dispute_id}:approve",
                                    f"level_{dispute_id}": "1",
                                    f"comment_{dispute_id}": "L1 fine"})
    assert r.status_code == 200 and "You approved level 1" in r.text
    # Level 2 needs a senior billing manager: bm2 holds it through sbm's delegation; bm
    # holds the role the same way no longer (and approved level 1 anyway).
    page = bm2.get("/approvals").text
    assert dispute_id in page and "as delegate of sbm (senior billing manager)" in page
    assert dispute_id not in bm.get("/approvals").text
    r = bm2.post("/approvals", data={"csrf": page_csrf(bm2, "/approvals"),
                                     "decide": f"{dispute_id}:approve",
                                     f"level_{dispute_id}": "2",
                                     f"comment_{dispute_id}": "as delegate"})
    assert r.status_code == 200 and "You approved level 2" in r.text, r.text
    view = wait_for(cs, dispute_id, lambda v: v["status"] == "resolved")
    level2 = view["approvals"][1]
    assert (level2["approver_id"], level2["delegate_of"], level2["channel"]) == \
        (people.ids["bm2"], people.ids["sbm"], "web")


def test_stale_level_and_reject_without_reason_are_explained(web_stack: WebStack,
                                                             people: People) -> None:
    cs = web_stack.http(people.tokens["cs"])
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    web_stack.http(people.tokens["analyst"]).post(
        f"/api/v1/disputes/{dispute_id}/investigation",
        json={"root_cause": "rate_card", "resolution": "partial_credit",
              "credit_lines": [{"line_id": "L1", "amount": "250.00"}]})
    bm = web_stack.browser_session(people.tokens["bm"])
    csrf = page_csrf(bm, "/approvals")
    r = bm.post("/approvals", data={"csrf": csrf, "decide": f"{dispute_id}:reject",
                                    f"level_{dispute_id}": "1"})
    assert r.status_code == 422 and "A rejection needs a reason" in r.text
    r = bm.post("/approvals", data={"csrf": csrf, "decide": f"{dispute_id}:approve",
                                    f"level_{dispute_id}": "2"})  # a level that is not next
    assert r.status_code == 409 and "Level 2 is not waiting" in r.text
    timeline = cs.get(f"/api/v1/disputes/{dispute_id}").json()["timeline"]
    assert "decision.refused" in [t["action"] for t in timeline]  # audited like the API's
