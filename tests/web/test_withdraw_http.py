"""Withdrawing on the page asks for a reason and a confirmation; the API asks for the reason.
Nothing is withdrawn without both, and the reason reaches the timeline."""

from __future__ import annotations

import pytest

from tests.conftest import People
from tests.e2e.helpers import dispute_body, error_code
from tests.support.web_session import page_csrf
from tests.web.conftest import WebStack

pytestmark = pytest.mark.e2e


def test_withdraw_needs_a_reason_and_a_confirmation(web_stack: WebStack,
                                                    people: People) -> None:
    cs = web_stack.http(people.tokens["cs"])
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    page = web_stack.browser_session(people.tokens["cs"])
    path = f"/disputes/{dispute_id}"
    assert "I confirm: withdraw dispute" in page.get(path).text

    def post(**form: str) -> str:
        r = page.post(f"{path}/withdraw", data={"csrf": page_csrf(page, path), "idem": "k-" +
                                                 "-".join(sorted(form)), **form})
        assert r.status_code == 303
        return page.get(path).text

    assert "tick the box to confirm" in post(comment="client paid")
    assert "say why the dispute is withdrawn" in post(comment="  ", confirm="yes")
    assert cs.get(f"/api/v1/disputes/{dispute_id}").json()["status"] != "withdrawn"
    r = cs.post(f"/api/v1/disputes/{dispute_id}/withdraw", json={})
    assert r.status_code == 422 and error_code(r) == "validation_error"
    assert r.json()["error"]["message"] == "Comment is required."

    post(comment="client paid after all", confirm="yes")
    view = cs.get(f"/api/v1/disputes/{dispute_id}").json()
    assert view["status"] == "withdrawn"
    assert any("client paid after all" in t["message"] for t in view["timeline"])
