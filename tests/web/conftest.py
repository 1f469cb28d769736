"""Web page fixtures: the real stack (Temporal dev server, a worker, uvicorn over real HTTP,
a fresh seeded database per test) serving the app *with* the web pages, and helpers to sign
in over plain HTTP.

Until api/app.py includes the web router itself, :func:`web_app` adds it (and /static) to the
app it builds; once it does, the app is used as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from api import web
from api.app import create_app
from cli.processes import DevServer
from config.settings import Settings
from tests.conftest import People
from tests.e2e.conftest import admin_token, dev_server, people  # noqa: F401
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def web_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    if not any(getattr(route, "path", None) == "/login" for route in app.routes):
        app.include_router(web.router)
        web.mount_static(app)
    return app


@dataclass
class WebStack(Stack):
    """tests.support.stack.Stack serving :func:`web_app` instead of the bare API app."""

    def build_app(self) -> FastAPI:
        return web_app(self.settings)

    def browser_session(self, token: str) -> httpx.Client:
        """A plain HTTP client signed in through the /login form, like a browser."""
        client = self.http()
        sign_in(client, token)
        return client


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


@pytest.fixture
def web_stack(dev_server: DevServer, db_url: str, admin_token: str,  # noqa: F811
              people: People) -> Iterator[WebStack]:  # noqa: F811
    stack = WebStack.create(temporal_address=dev_server.address, db_url=db_url,
                            admin_token=admin_token)
    yield stack
    stack.stop()
