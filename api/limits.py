"""Refuse, before anything parses them: bodies over the size limit (413) and NUL bytes in
the path, query or body (422) — PostgreSQL cannot store NUL in text, and no legitimate
billing document contains one."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body

_NUL_MARKERS = (b"\x00", b"\\u0000", b"%00")


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class RequestGuard:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> _Refused:
        return _Refused(413, "payload_too_large",
                        f"The request body is larger than {self.max_bytes} bytes; send less "
                        "at a time.")

    @staticmethod
    def _nul() -> _Refused:
        return _Refused(422, "validation_error", "Text must not contain NUL characters.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            raw_path = scope.get("raw_path") or scope.get("path", "").encode()
            if any(m in scope.get("query_string", b"") or m in raw_path
                   for m in (b"%00", b"\x00")):
                raise self._nul()
            declared = dict(scope.get("headers") or []).get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise self._too_large()
        except _Refused as refused:
            await self._refuse(send, refused)
            return
        seen = 0
        tail = b""

        async def guarded() -> Message:
            nonlocal seen, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > self.max_bytes:
                    raise self._too_large()
                window = tail + chunk
                if b"\x00" in window or b"\\u0000" in window:
                    raise self._nul()
                tail = window[-6:]
            return message

        try:
            await self.app(scope, guarded, send)
        except _Refused as refused:
            await self._refuse(send, refused)

    @staticmethod
    async def _refuse(send: Send, refused: _Refused) -> None:
        body = json.dumps(error_body(refused.code, refused.message)).encode()
        await send({"type": "http.response.start", "status": refused.status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
