"""A fake Slack Web API over real HTTP, for activity and end-to-end tests.

Implements the methods Disputeflow calls (chat.postMessage, chat.update, chat.postEphemeral,
views.open, users.lookupByEmail: the people in ``members``, or the error set in
``lookup_error``, such as ``missing_scope``) and response_url endpoints
(``/response/<id>``), answering like Slack. Every call is recorded with its method, parsed
body and headers; ``fail`` makes the next calls of a method answer 429 (with Retry-After)
or a 5xx, so retry behaviour is tested for real; ``hold`` keeps a method's calls hanging
until ``release`` (Slack not answering at all).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.support.local_http import serve, stop


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int
    answer: dict[str, Any] = field(default_factory=dict)  # what the fake replied
    at: float = field(default_factory=time.monotonic)  # when it arrived (benchmarks use it)


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: int | None
    after: int = 0  # calls that still succeed before the failures start


@dataclass
class FakeSlack:
    """Start with ``FakeSlack.start()``; use ``url`` as SLACK_API_URL; ``close()`` after."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, _Failure] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    held: set[str] = field(default_factory=set)
    _released: threading.Event = field(default_factory=threading.Event)
    arrived: list[str] = field(default_factory=list)  # methods called, answered or not
    members: dict[str, str] = field(default_factory=dict)  # email -> Slack user id
    lookup_error: str | None = None  # users.lookupByEmail answers this error instead

    @classmethod
    def start(cls) -> FakeSlack:
        server, thread = serve(_Handler, name="fake-slack")
        fake = cls(server=server, thread=thread)
        server.fake = fake  # type: ignore[attr-defined]
        return fake

    def close(self) -> None:
        self.release()  # a held call must not keep the server from shutting down
        stop(self.server, self.thread)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, name: str) -> str:
        return f"{self.base}/response/{name}"

    def fail(self, method: str, status: int, *, times: int = 1,
             retry_after: int | None = None, after: int = 0) -> None:
        """The next ``times`` calls of ``method`` (after ``after`` more that succeed) answer
        ``status`` instead of succeeding."""
        with self.lock:
            self.failures[method] = _Failure(status, times, retry_after, after)

    def hold(self, method: str) -> None:
        """Calls of ``method`` hang, unanswered, until :meth:`release` (or 30 s)."""
        with self.lock:
            self.held.add(method)
            self._released.clear()

    def release(self) -> None:
        with self.lock:
            self.held.clear()
            self._released.set()

    def of(self, method: str, *, ok_only: bool = True) -> list[Call]:
        with self.lock:
            return [c for c in self.calls
                    if c.method == method and (c.status == 200 or not ok_only)]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{count} call(s) of {method} expected; got {self.of(method)}")

    def add_member(self, email: str, slack_user_id: str) -> None:
        """A person who has joined the Slack workspace (users.lookupByEmail finds them)."""
        with self.lock:
            self.members[email.lower()] = slack_user_id

    def refuse_lookups(self, error: str | None) -> None:
        """users.lookupByEmail answers ``{"ok": false, "error": error}`` (None: answers)."""
        with self.lock:
            self.lookup_error = error

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.failures.clear()

    # --- called by the handler ----------------------------------------------------------

    def _answer(self, method: str, body: dict[str, Any],
                headers: dict[str, str]) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self.lock:
            self.arrived.append(method)
            held = method in self.held
        if held:
            self._released.wait(30)
        with self.lock:
            failure = self.failures.get(method)
            if failure is not None and failure.after > 0:
                failure.after -= 1
            elif failure is not None and failure.times > 0:
                failure.times -= 1
                extra = ({"Retry-After": str(failure.retry_after)}
                         if failure.retry_after is not None else {})
                self.calls.append(Call(method, body, headers, failure.status))
                return failure.status, extra, {"ok": False, "error": "fake_failure"}
            call = Call(method, body, headers, 200)
            self.calls.append(call)
            ts = f"1700000000.{next(self._ts):06d}"
        call.answer = self._reply(method, body, headers, ts)
        return 200, {}, call.answer

    def _reply(self, method: str, body: dict[str, Any], headers: dict[str, str],
               ts: str) -> dict[str, Any]:
        if method.startswith("response/"):
            return {"ok": True}
        if not headers.get("authorization", "").startswith("Bearer xoxb-"):
            return {"ok": False, "error": "not_authed"}
        if method == "chat.postMessage":
            channel = str(body.get("channel", ""))
            if channel.startswith("U"):
                channel = "D" + channel[1:]  # Slack answers a DM with its IM channel id
            return {"ok": True, "channel": channel, "ts": ts,
                    "message": {"ts": ts, "text": body.get("text")}}
        if method == "chat.update":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "views.open":
            return {"ok": True, "view": {"id": f"V{ts.replace('.', '')}"}}
        if method == "users.lookupByEmail":
            with self.lock:
                error = self.lookup_error
                found = self.members.get(str(body.get("email", "")).lower())
            if error:
                return {"ok": False, "error": error}
            if found is None:
                return {"ok": False, "error": "users_not_found"}
            return {"ok": True, "user": {"id": found, "deleted": False, "is_bot": False,
                                         "profile": {"email": body.get("email")}}}
        return {"ok": False, "error": "unknown_method"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    def do_GET(self) -> None:
        """Slack's read methods (users.lookupByEmail) take their arguments in the query."""
        path, _, query = self.path.partition("?")
        self._serve(path, {k: v[0] for k, v in parse_qs(query).items()})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body: dict[str, Any]
        if "json" in (self.headers.get("Content-Type") or ""):
            body = json.loads(raw or b"{}")
        else:
            body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        self._serve(self.path.split("?", 1)[0], body)

    def _serve(self, path: str, body: dict[str, Any]) -> None:
        fake: FakeSlack = self.server.fake  # type: ignore[attr-defined]
        method = path.removeprefix("/api/") if path.startswith("/api/") else path.lstrip("/")
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, answer = fake._answer(method, body, headers)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
