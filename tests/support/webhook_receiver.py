"""A webhook receiver over real HTTP on loopback, as an accounts-receivable system would run
one: it verifies every delivery with the Standard Webhooks library (signature and
timestamp), deduplicates on ``webhook-id``, and keeps what it accepted in arrival order.

``fail(n, status)`` makes the next n deliveries answer ``status``; ``down()`` closes its
socket (connections refused) and ``up()`` opens it again on the same port, so a receiver
that is away for a while is tested for real.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cli.processes import free_port
from tests.support.local_http import serve, stop


@dataclass
class Received:
    id: str
    type: str
    data: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    secret: str | None = None
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    refused_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _fail: list[int] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/disputeflow"

    def up(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver.take(body, dict(self.headers.items()))
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self._server, self._thread = serve(Handler, name="webhook-receiver", port=self.port)
        return self

    def down(self) -> None:
        if self._server is not None and self._thread is not None:
            stop(self._server, self._thread)
            self._server = None

    def fail(self, times: int, status: int = 503) -> None:
        with self.lock:
            self._fail[:] = [status] * times

    def take(self, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            self.attempts += 1
            if self._fail:
                return self._fail.pop()
            assert self.secret is not None, "the receiver needs the endpoint's secret"
            try:
                payload = Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError:
                self.refused_signatures += 1
                return 400
            lowered = {k.lower(): v for k, v in headers.items()}
            if all(r.id != lowered["webhook-id"] for r in self.received):
                self.received.append(Received(lowered["webhook-id"], payload["type"],
                                              payload["data"], lowered))
            return 204

    def types(self, dispute_id: str | None = None) -> list[str]:
        with self.lock:
            return [r.type for r in self.received
                    if dispute_id is None or r.data.get("dispute_id") == dispute_id]

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            assert time.monotonic() < deadline, (
                f"{len(self.received)} of {count} events arrived: "
                f"{json.dumps([r.type for r in self.received])}")
            time.sleep(0.05)
