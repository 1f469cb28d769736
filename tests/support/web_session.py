"""Signing in to the web pages over plain HTTP, as a browser does: the login form's CSRF
token, the form post, and the CSRF token a signed-in page carries for its own forms. Shared
by the web tests and the end-to-end tests that look at a page."""

from __future__ import annotations

import re

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def login_csrf(client: httpx.Client) -> str:
    page = client.get("/login")
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


def sign_in(client: httpx.Client, token: str, next_url: str = "") -> httpx.Response:
    response = client.post("/login", data={"csrf": login_csrf(client), "token": token,
                                           "next": next_url})
    assert response.status_code == 303, response.text
    return response


def page_csrf(client: httpx.Client, path: str = "/disputes") -> str:
    """The CSRF token a page rendered for this session (what a form post must carry)."""
    page = client.get(path)
    match = CSRF.search(page.text)
    assert match, (path, page.status_code, page.text[:500])
    return match.group(1)
