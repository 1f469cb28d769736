"""Web page fixtures: the real stack (Temporal dev server, a worker, uvicorn over real HTTP,
a fresh seeded database per test) serving the app *with* the web pages (signing in:
tests/support/web_session.py).

Until api/app.py includes the web router itself, :func:`web_app` adds it (and /static) to the
app it builds; once it does, the app is used as it is.
"""

from __future__ import annotations

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
from tests.support.web_session import sign_in

pytestmark = pytest.mark.e2e


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


@pytest.fixture
def web_stack(dev_server: DevServer, db_url: str, admin_token: str,  # noqa: F811
              people: People) -> Iterator[WebStack]:  # noqa: F811
    stack = WebStack.create(temporal_address=dev_server.address, db_url=db_url,
                            admin_token=admin_token)
    yield stack
    stack.stop()
