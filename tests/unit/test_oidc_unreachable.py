"""While the identity provider fails, the API asks it again only after a few seconds: each
request is refused at once rather than holding a thread for the whole timeout."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from api.oidc import IdentityProvider, SignInRefused
from config.settings import Settings


@pytest.fixture
def failing_provider() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(502)
            self.send_header("content-length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_a_failing_provider_is_not_asked_again_at_once(
        failing_provider: tuple[str, list[str]]) -> None:
    issuer, hits = failing_provider
    identity = IdentityProvider(Settings(
        disputeflow_oidc_issuer=issuer, disputeflow_oidc_client_id="disputeflow",
        disputeflow_oidc_client_secret="a-real-secret-0123456789"))
    for _ in range(3):
        with pytest.raises(SignInRefused) as refused:
            identity.metadata()
        assert refused.value.status == 503 and refused.value.reason == "unreachable"
    assert hits == ["/.well-known/openid-configuration"]  # asked once, not three times
