"""The letters page: admins reword a letter (a broken template is shown again with why, as
typed) and go back to the built-in wording; auditors read; others are refused."""

from __future__ import annotations

import pytest

from tests.conftest import People
from tests.support.web_session import page_csrf
from tests.web.conftest import WebStack

pytestmark = pytest.mark.e2e


def test_an_admin_rewords_a_letter_and_goes_back(web_stack: WebStack, admin_token: str,
                                                 people: People) -> None:
    admin = web_stack.browser_session(admin_token)
    page = admin.get("/admin/letters")
    assert page.status_code == 200 and "built-in wording" in page.text
    csrf = page_csrf(admin, "/admin/letters")

    broken = admin.post("/admin/letters/denial", data={
        "csrf": csrf, "action": "save", "subject": "About {{ dispute_id }}",
        "body": "We found {{ denial_reson }}"})
    assert broken.status_code == 422
    assert "denial_reson" in broken.text and "We found {{ denial_reson }}" in broken.text

    saved = admin.post("/admin/letters/denial", data={
        "csrf": csrf, "action": "save", "subject": "About {{ dispute_id }}",
        "body": "We found: {{ denial_reason }}"}, follow_redirects=True)
    assert saved.status_code == 200 and "reworded" in saved.text
    api = web_stack.http(admin_token).get("/api/v1/letters/templates").json()["items"]
    denial = next(t for t in api if t["kind"] == "denial")
    assert denial["customized"] and denial["body"] == "We found: {{ denial_reason }}"

    admin.post("/admin/letters/denial", data={"csrf": csrf, "action": "reset"})
    api = web_stack.http(admin_token).get("/api/v1/letters/templates").json()["items"]
    assert not next(t for t in api if t["kind"] == "denial")["customized"]

    assert admin.post("/admin/letters/denial", data={
        "action": "save", "subject": "x", "body": "y"}).status_code == 403  # no CSRF


def test_auditors_read_and_others_are_refused(web_stack: WebStack, people: People) -> None:
    auditor = web_stack.browser_session(people.tokens["auditor"])
    page = auditor.get("/admin/letters")
    assert page.status_code == 200
    assert "Dear {{ account_name }}" in page.text  # the wording, to read
    assert "Save the" not in page.text  # no form to change it
    analyst = web_stack.browser_session(people.tokens["analyst"])
    assert analyst.get("/admin/letters").status_code == 403
