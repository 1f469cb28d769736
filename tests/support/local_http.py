"""The loopback HTTP servers the test fakes answer on (the ERP, Slack's Web API, webhook
receivers): started on a thread of their own, stopped cleanly, in one place."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["serve", "stop"]


def serve(handler: type[BaseHTTPRequestHandler], *, name: str, port: int = 0,
          owner: object | None = None) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """A threaded server on 127.0.0.1 (``port`` 0: any free one), already serving;
    ``owner`` is what its handlers reach as ``self.server.fake``."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    server.fake = owner  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True, name=name)
    thread.start()
    return server, thread


def stop(server: ThreadingHTTPServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(5)
