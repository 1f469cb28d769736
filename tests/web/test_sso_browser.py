"""Signing in through the identity provider's own pages in headless Chromium (Debian's), as a
person would: "Sign in with SSO", the provider's login form, back to one's start page, and
out again; someone without a mapped role sees whom to ask. Screenshots are saved under
test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.e2e.sso_fixtures import add_admin
from tests.e2e.sso_fixtures import provider as provider
from tests.e2e.sso_fixtures import sso_ports as sso_ports
from tests.e2e.sso_fixtures import stack_with_sso as stack_with_sso
from tests.support.identity import IdentityServer
from tests.web.conftest import WebStack
from tests.web.test_browser import browser as browser
from tests.web.test_browser import shot

pytestmark = pytest.mark.e2e


def _loopback_only(route: Route) -> None:
    """The provider's pages link a web font; nothing here leaves this machine."""
    if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        route.abort()


@pytest.fixture
def context(browser: Browser, stack: WebStack) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=stack.base_url)
    context.set_default_timeout(15_000)
    context.route("**/*", _loopback_only)
    yield context
    context.close()


def sign_in_at_provider(page: Page, login: str) -> None:
    page.goto("/login")
    page.get_by_role("link", name="Sign in with SSO").click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()


def test_a_person_signs_in_through_the_provider_and_out_again(
        context: BrowserContext, provider: IdentityServer) -> None:
    page = context.new_page()
    page.goto("/approvals")  # not signed in: off to /login, remembering where to return
    expect(page.get_by_role("link", name="Sign in with SSO")).to_be_visible()
    shot(page, "sso-login")

    page.get_by_role("link", name="Sign in with SSO").click()
    expect(page.locator("input[name=login]")).to_be_visible()
    assert page.url.startswith(provider.issuer)  # the provider's own page
    page.locator("input[name=login]").fill("alice")
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()

    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert urlsplit(page.url).path == "/approvals"
    expect(page.get_by_text("Alice Approver")).to_be_visible()
    shot(page, "sso-signed-in")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto("/approvals")
    expect(page.get_by_role("link", name="Sign in with SSO")).to_be_visible()


def test_without_a_mapped_role_the_page_says_whom_to_ask(context: BrowserContext,
                                                         db_url: str) -> None:
    add_admin(db_url)
    page = context.new_page()
    sign_in_at_provider(page, "nobody")
    expect(page.get_by_role("heading", name="No access yet")).to_be_visible()
    expect(page.get_by_text("admin-person@retail.example")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    shot(page, "sso-no-access")
