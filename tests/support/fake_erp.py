"""A fake ERP posting endpoint over real HTTP, for the ledger connector's tests.

Answers API.md's ``POST`` with ``{"reference"}`` and books each ``Idempotency-Key`` once: a
repeat of a booked key answers the first reference and books nothing (as an idempotent ERP
does). ``fail(status, times)`` makes the next posts answer that status (a 503 outage, a 422
refusal with ``reason``) without booking; ``delay(seconds, times)`` books but answers only
after the wait (a timeout: the answer is lost, the retry must find the first booking).
Every request is kept with its headers and parsed body.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.local_http import serve, stop

# What the ledger tests have the ERP answer when it refuses a memo.
REFUSAL = "Invoice INV-1001 is closed in the ERP; reopen it before crediting."


@dataclass
class Request:
    headers: dict[str, str]
    body: dict[str, Any]
    status: int


@dataclass
class FakeErp:
    """Start with ``FakeErp.start()``; ``url`` is DISPUTEFLOW_LEDGER_URL; ``close()`` after."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    requests: list[Request] = field(default_factory=list)
    booked: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> body
    references: dict[str, str] = field(default_factory=dict)  # key -> reference
    lock: threading.Lock = field(default_factory=threading.Lock)
    _failures: list[tuple[int, str]] = field(default_factory=list)
    _delays: list[float] = field(default_factory=list)

    @classmethod
    def start(cls) -> FakeErp:
        server, thread = serve(_Handler, name="fake-erp")
        fake = cls(server=server, thread=thread)
        server.fake = fake  # type: ignore[attr-defined]
        return fake

    def close(self) -> None:
        stop(self.server, self.thread)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/credit-memos"

    def fail(self, status: int, times: int = 1, reason: str = "") -> None:
        with self.lock:
            self._failures.extend([(status, reason)] * times)

    def delay(self, seconds: float, times: int = 1) -> None:
        with self.lock:
            self._delays.extend([seconds] * times)

    def answer(self, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        with self.lock:
            if self._failures:
                status, reason = self._failures.pop(0)
                self.requests.append(Request({}, body, status))
                return status, {"error": {"code": "refused", "message": reason or "refused"}}, 0
            wait = self._delays.pop(0) if self._delays else 0.0
            if key not in self.references:
                self.booked[key] = body
                self.references[key] = f"ERP-{len(self.references) + 1:06d}"
            return 201, {"reference": self.references[key]}, wait


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_POST(self) -> None:
        fake: FakeErp = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"unparsed": raw.decode(errors="replace")}
        key = self.headers.get("Idempotency-Key", "")
        status, answer, wait = fake.answer(key, body)
        with fake.lock:
            if status < 300:
                fake.requests.append(Request(dict(self.headers), body, status))
            else:
                fake.requests[-1].headers = dict(self.headers)
        if wait:
            time.sleep(wait)
        data = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
            pass
