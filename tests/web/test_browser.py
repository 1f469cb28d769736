"""Each role's main job through the pages, in headless Chromium (Debian's, never a download),
against the real stack: client services open and follow a dispute, the analyst investigates,
billing managers approve (one by one and in bulk), the manager reads the dashboard, the
auditor checks the chains and downloads the export. A screenshot of every page is saved
under test-artifacts/screenshots/.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import People
from tests.e2e.helpers import dispute_body, wait_for
from tests.web.conftest import WebStack

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make browser)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def signed_in(browser: Browser, stack: WebStack, token: str) -> Iterator[Page]:
    """A fresh browser profile signed in through the /login form."""
    context = browser.new_context(base_url=stack.base_url, accept_downloads=True)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Your API token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        yield page
    finally:
        context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def reload_until(page: Page, ready: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"page never got ready: {page.url}"
        page.wait_for_timeout(200)
        page.reload()


def investigated(stack: WebStack, people: People, who: str, **body: Any) -> str:
    """A dispute opened by client services and investigated through the API by ``who``."""
    cs = stack.http(people.tokens["cs"])
    dispute_id = str(cs.post("/api/v1/disputes", json=dispute_body()).json()["id"])
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    r = stack.http(people.tokens[who]).post(
        f"/api/v1/disputes/{dispute_id}/investigation",
        json={"root_cause": "rate_card", "resolution": "partial_credit",
              "credit_lines": [{"line_id": "L1", "amount": "250.00"}], **body})
    assert r.status_code == 200, r.text
    return dispute_id


def test_client_services_open_follow_and_withdraw(browser: Browser, web_stack: WebStack,
                                                  people: People) -> None:
    with signed_in(browser, web_stack, people.tokens["cs"]) as page:
        expect(page).to_have_url(f"{web_stack.base_url}/disputes")
        page.get_by_role("link", name="Open a dispute").click()
        page.get_by_role("combobox", name="Account").fill("ADV-9")  # no such account
        page.get_by_role("button", name="Find the account's invoices").click()
        expect(page.locator("[data-lookup-error]")).to_have_text(
            "There is no account ADV-9; choose one from the list.")
        page.get_by_role("combobox", name="Account").fill("ADV-1")
        page.get_by_role("button", name="Find the account's invoices").click()
        expect(page.locator("#account-hint")).to_have_text("Acme")
        page.get_by_label("Invoice number").select_option("INV-1001")
        page.get_by_role("button", name="Show the invoice").click()
        expect(page.locator("[data-invoice-summary]")).to_contain_text("in the invoice's "
                                                                       "currency, USD")
        shot(page, "dispute_new_invoice")
        page.get_by_label("Disputed amount (USD)").fill("12.5x")
        page.get_by_label("Reason").select_option("rate_mismatch")
        page.get_by_label("L1: sponsored products", exact=False).check()
        page.get_by_label("What the client disputes").fill("Billed 12.50 CPM; contract 10.00")
        page.get_by_role("button", name="Open the dispute").click()
        error = page.locator("#disputed_amount-error")
        expect(error).to_have_text("Disputed amount: write an amount such as 250 or 250.00.")
        expect(page.get_by_label("Disputed amount (USD)")).to_have_attribute("aria-invalid",
                                                                             "true")
        expect(page.get_by_label("L1: sponsored products", exact=False)).to_be_checked()
        shot(page, "dispute_new_error")
        page.get_by_label("Disputed amount (USD)").fill("250.00")
        page.get_by_role("button", name="Open the dispute").click()
        expect(page.get_by_role("status")).to_contain_text("is open")
        dispute_id = page.url.rsplit("/", 1)[1]
        reload_until(page, lambda: page.get_by_text("automatic investigation is still "
                                                    "running").count() == 0)
        expect(page.locator(".timeline")).to_contain_text("Automatic investigation")
        shot(page, "dispute_detail_cs")

        page.goto("/disputes")
        page.get_by_label("Status").select_option("investigating")
        page.get_by_label("Amount from").fill("200")
        page.get_by_label("Amount to").fill("300")
        page.get_by_role("button", name="Apply filters").click()
        expect(page.get_by_role("link", name=dispute_id)).to_be_visible()
        shot(page, "disputes_list")
        page.get_by_label("Amount from").fill("251")
        page.get_by_label("Amount to").fill("")
        page.get_by_role("button", name="Apply filters").click()
        expect(page.get_by_text("No dispute matches these filters.")).to_be_visible()

        page.goto(f"/disputes/{dispute_id}")
        page.get_by_label("Why it is withdrawn (required)").fill("Client paid after all")
        page.get_by_label("I confirm: withdraw dispute", exact=False).check()
        page.get_by_role("button", name="Withdraw").click()
        expect(page.get_by_role("status")).to_contain_text("withdrawn")
        expect(page.locator(".title-row .badge").first).to_have_text("withdrawn")


def test_analyst_submits_investigation_with_field_error_first(
        browser: Browser, web_stack: WebStack, people: People) -> None:
    cs = web_stack.http(people.tokens["cs"])
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    with signed_in(browser, web_stack, people.tokens["analyst"]) as page:
        page.goto(f"/disputes/{dispute_id}")
        page.get_by_label("Root cause").select_option("rate_card")
        page.get_by_label("Resolution").select_option("partial_credit")
        page.get_by_label("Credit for line L1").fill("5000.00")
        page.get_by_label("Note").fill("Contract rate 10.00 CPM")
        page.get_by_role("button", name="Submit the investigation").click()
        error = page.locator("#amount_0-error")
        expect(error).to_contain_text("Line L1 has 1,250.00 USD still open")
        expect(page.get_by_label("Credit for line L1")).to_have_attribute("aria-invalid",
                                                                          "true")
        expect(page.get_by_label("Note")).to_have_value("Contract rate 10.00 CPM")  # kept
        expect(page.locator("#error-summary")).to_be_visible()
        shot(page, "dispute_investigation_error")
        page.get_by_label("Credit for line L1").fill("250.00")
        page.get_by_role("button", name="Submit the investigation").click()
        expect(page.get_by_role("status")).to_contain_text("now pending approval")
        chain = page.locator("#approval-chain")
        expect(chain).to_contain_text("billing manager")
        expect(chain).to_contain_text("pending")
        expect(page.get_by_role("heading", name="Submit the investigation")).to_have_count(0)
        shot(page, "dispute_detail_analyst")


def test_billing_managers_approve_one_and_in_bulk(browser: Browser, web_stack: WebStack,
                                                  people: People) -> None:
    single = investigated(web_stack, people, "analyst")
    own = investigated(web_stack, people, "analyst_bm")  # prepared by the bulk approver
    other = investigated(web_stack, people, "analyst")
    with signed_in(browser, web_stack, people.tokens["bm"]) as page:
        expect(page).to_have_url(f"{web_stack.base_url}/approvals")
        for dispute_id in (single, own, other):
            expect(page.get_by_role("link", name=dispute_id)).to_be_visible()
        row = page.locator(f"#row-{single}")
        expect(row).to_contain_text("rate mismatch")  # the reason, and the root cause
        expect(row).to_contain_text("rate card")
        expect(row.locator("[data-implied]")).to_contain_text("findings imply")
        row.locator("details.why summary").click()
        expect(row.locator("details.why")).to_contain_text("billing_manager")
        # Every row's buttons on screen: at 1280 px and on a phone, without scrolling sideways.
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            shot(page, f"approvals-{width}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            for name in (f"Approve {single}", f"Reject {single}"):
                box = page.get_by_role("button", name=name).bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        page.set_viewport_size({"width": 1280, "height": 900})
        page.get_by_role("link", name=single).click()  # the dispute page has the form too
        expect(page.get_by_role("heading", name="Your decision")).to_be_visible()
        page.get_by_role("button", name="Reject").click()  # without the required reason
        expect(page.get_by_role("alert")).to_contain_text("A rejection needs a reason")
        expect(page.locator("#approval-chain")).to_contain_text("pending")
        shot(page, "dispute_detail_approver")
        page.goto("/approvals")
        page.get_by_label(f"Comment on {single}").fill("Rate card confirmed")
        page.get_by_role("button", name=f"Approve {single}").click()
        expect(page.locator(".notice-ok")).to_contain_text("level 1 of credit memo CM-")
        expect(page.get_by_role("link", name=single)).to_have_count(1)  # only in the notice
    with signed_in(browser, web_stack, people.tokens["analyst_bm"]) as page:
        page.goto("/approvals")
        expect(page.locator(".sod-note", has_text=own)).to_contain_text("You prepared")
        page.get_by_label(f"Select {own}").check()
        page.get_by_label(f"Select {other}").check()
        page.get_by_label("Comment for the selected rows without their own").fill("Bulk ok")
        page.get_by_role("button", name="Approve selected").click()
        refused = page.locator(f'[data-refused="{own}"]')
        expect(refused).to_contain_text("segregation of duties")
        expect(page.locator(".notice-ok")).to_contain_text(other)
        shot(page, "approvals_bulk_result")
    api = web_stack.http(people.tokens["auditor"])
    views = {d: api.get(f"/api/v1/disputes/{d}").json() for d in (single, own, other)}
    assert views[single]["approvals"][0]["channel"] == "web"
    assert views[single]["approvals"][0]["comment"] == "Rate card confirmed"
    assert views[other]["approvals"][0]["status"] == "approved"
    assert views[other]["approvals"][0]["comment"] == "Bulk ok"
    assert views[own]["approvals"][0]["status"] == "pending"
    assert "decision.refused" in [t["action"] for t in views[own]["timeline"]]


def _metric(page: Page, name: str, attribute: str | None = None) -> str:
    element = page.locator(f'[data-metric="{name}"]')
    value = element.get_attribute(attribute) if attribute else element.inner_text()
    return (value or "").strip()


def test_manager_reads_the_dashboard(browser: Browser, web_stack: WebStack,
                                     people: People) -> None:
    investigated(web_stack, people, "analyst")
    cs = web_stack.http(people.tokens["cs"])
    cs.post("/api/v1/disputes", json=dispute_body(disputed_amount="40.00"))
    metrics = web_stack.http(people.tokens["mgr"]).get("/api/v1/metrics").json()
    with signed_in(browser, web_stack, people.tokens["mgr"]) as page:
        expect(page).to_have_url(f"{web_stack.base_url}/dashboard")
        assert page.locator("svg.chart[role=img]").count() >= 4
        titles = [t.text_content() or "" for t in page.locator("svg.chart title").all()]
        assert "Disputes by status, now" in titles
        assert any(t.startswith("Open disputes by age") for t in titles)
        assert _metric(page, "revenue_at_risk", "data-amount") == \
            metrics["revenue_at_risk"]["amount"]
        assert _metric(page, "open_breaches") == str(sum(b["open"] for b in metrics["breaches"]))
        for status, count in metrics["counts_by_status"].items():
            assert _metric(page, f"status-{status}") == str(count), status
        assert metrics["counts_by_status"]["pending_approval"] == 1
        # Both disputes were opened just now: both are 0-7 days old, and the figure links
        # to the list of exactly those.
        assert _metric(page, "aging-0-7") == "2"
        assert _metric(page, "valid_dispute_rate") == "—"  # no verdict yet
        shot(page, "dashboard")
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways
        shot(page, "dashboard-phone")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.locator('[data-metric="aging-0-7"]').click()
        expect(page.locator("table.data tbody tr")).to_have_count(2)
        expect(page.locator('[data-filter="instants"]')).to_contain_text("open at")
        page.goto("/dashboard")
        page.get_by_text("By root cause, disputes opened per week", exact=False).click()
        page.locator('[data-trend$=":rate_card"]').first.click()  # the investigated one
        expect(page.locator("table.data tbody tr")).to_have_count(1)
        expect(page.get_by_label("Root cause")).to_have_value("rate_card")

        page.goto("/dashboard?from=2030-01-01&to=2030-01-31")
        expect(page.locator('[data-metric="period"]')).to_contain_text("2030-01-01")
        assert _metric(page, "breached_disputes") == "0 disputes"
        with page.expect_download() as download:
            page.locator("section[aria-labelledby=aging-h] a", has_text="CSV").click()
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
        assert rows[0] == ["bucket", "min_days", "max_days", "count", "base_amount",
                           "base_currency"]
        page.goto("/dashboard?from=2030-02-01&to=2030-01-01")
        expect(page.locator("#to-error")).to_have_text("To: choose a day on or after From.")
        shot(page, "dashboard-period-error")


def test_auditor_sees_chains_verifies_and_exports(browser: Browser, web_stack: WebStack,
                                                  people: People) -> None:
    dispute_id = investigated(web_stack, people, "analyst")
    r = web_stack.http(people.tokens["bm"]).post(f"/api/v1/disputes/{dispute_id}/decision",
                                                 json={"decision": "approve", "comment": "ok"})
    assert r.status_code == 200, r.text
    memo = r.json()["credit_memo"]["number"]
    with signed_in(browser, web_stack, people.tokens["auditor"]) as page:
        expect(page).to_have_url(f"{web_stack.base_url}/audit")
        expect(page.get_by_role("link", name=memo)).to_be_visible()
        expect(page.locator("article.chain")).to_contain_text("billing manager")
        page.get_by_role("link", name="Verify the audit log and run the control test").click()
        expect(page.locator('[data-check="verify"]')).to_contain_text("intact")
        expect(page.locator('[data-check="verify"]')).to_contain_text("verified")
        expect(page.locator('[data-check="control"]')).to_contain_text("passed")
        shot(page, "audit")
        with page.expect_download() as download:
            page.locator('a[data-export="csv"]').click()
        path = download.value.path()
        assert download.value.suggested_filename.endswith(".csv")
        rows = list(csv.DictReader(io.StringIO(Path(path).read_text())))
        assert [r["credit_memo"] for r in rows] == [memo]
        assert rows[0]["decision"] == "approve" and rows[0]["channel"] == "api"

        page.get_by_role("link", name=memo).first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(memo)
        expect(page.locator('[data-field="total"]')).to_have_text("250.00 USD")
        shot(page, "credit_memo")
        page.get_by_role("link", name="Printable version").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
        page.emulate_media(media="print")
        shot(page, "credit_memo_print")


def test_pages_are_keyboard_usable(browser: Browser, web_stack: WebStack,
                                   people: People) -> None:
    """Sign in with the keyboard alone, and reach the main content with the skip link."""
    context = browser.new_context(base_url=web_stack.base_url)
    try:
        page = context.new_page()
        page.goto("/login")
        page.keyboard.press("Tab")  # the skip link comes first
        expect(page.locator(".skip")).to_be_focused()
        page.get_by_label("Your API token").focus()
        page.keyboard.type(people.tokens["analyst"])
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{web_stack.base_url}/disputes")
        for selector in ("input:not([type=hidden])", "select", "textarea", "button"):
            for element in page.locator(selector).all():
                if element.is_visible():
                    field_id = element.get_attribute("id")
                    labelled = element.get_attribute("aria-label") or element.inner_text()
                    assert (field_id and page.locator(f'label[for="{field_id}"]').count()) \
                        or labelled, f"{selector} without a label"
        shot(page, "disputes_list_empty")
    finally:
        context.close()
