"""A real SMTP server on loopback (aiosmtpd), keeping every message it accepts, as the
billing contact's mail server would. ``refuse(n)`` answers the next n messages with a
temporary failure (451), so retries are tested for real."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from cli.processes import free_port


@dataclass
class Mailbox:
    port: int = field(default_factory=free_port)
    messages: list[EmailMessage] = field(default_factory=list)
    refusals: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            if self.refusals:
                self.refusals -= 1
                return "451 Requested action aborted: try again later"
            raw = envelope.content if isinstance(envelope.content, bytes) else b""
            message = email.message_from_bytes(raw, policy=email.policy.default)
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted"

    def start(self) -> Mailbox:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, times: int) -> None:
        with self.lock:
            self.refusals = times

    def wait_for(self, count: int, timeout: float = 30) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            assert time.monotonic() < deadline, [m["Subject"] for m in self.messages]
            time.sleep(0.05)


def attachments(message: EmailMessage) -> dict[str, Any]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}
