"""The application stack for end-to-end tests: a worker and the API (uvicorn, real HTTP)
on their own event loop in a background thread, against the real Temporal dev server and a
per-test database — so tests drive it with a plain synchronous HTTP client."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from cli.processes import free_port
from config import event_loop
from config.settings import Settings
from config.temporal import connect
from worker import running


@dataclass
class Stack:
    settings: Settings
    base_url: str
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stop: asyncio.Event | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None
    worker_running: bool = True
    _clients: list[httpx.Client] = field(default_factory=list)

    @classmethod
    def create(cls, *, temporal_address: str, db_url: str, admin_token: str,
               with_worker: bool = True, port: int | None = None,
               **overrides: object) -> Stack:
        port = port or free_port()
        settings = Settings(
            database_url=db_url, temporal_address=temporal_address,
            temporal_task_queue=f"e2e-{uuid.uuid4().hex[:8]}", disputeflow_api_port=port,
            disputeflow_admin_token=admin_token, **overrides)  # type: ignore[arg-type]
        stack = cls(settings=settings, base_url=f"http://127.0.0.1:{port}",
                    worker_running=with_worker)
        stack._thread = threading.Thread(target=stack._run, daemon=True, name="stack")
        stack._thread.start()
        if not stack._ready.wait(60):
            raise TimeoutError("stack did not start")
        if stack._error:
            raise stack._error
        return stack

    def _run(self) -> None:
        event_loop.run(self._main())  # the loop and HTTP parser the API serves with

    def build_app(self) -> FastAPI:
        """The app served; subclasses serve it with more routers."""
        return create_app(self.settings)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        config = uvicorn.Config(self.build_app(), host="127.0.0.1",
                                port=self.settings.disputeflow_api_port, log_level="warning",
                                lifespan="on", loop=event_loop.UVICORN_LOOP,
                                http=event_loop.UVICORN_HTTP)
        server = uvicorn.Server(config)
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                serve = asyncio.create_task(server.serve())
                while not server.started:
                    if serve.done():
                        serve.result()
                    await asyncio.sleep(0.02)
                if self.worker_running:
                    async with running(await connect(self.settings), self.settings, pool):
                        self._ready.set()
                        await self._stop.wait()
                else:
                    self._ready.set()
                    await self._stop.wait()
                server.should_exit = True
                await serve
        except BaseException as exc:  # surfaced to the test thread
            self._error = exc
            self._ready.set()

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=30)
        self._clients.append(client)
        return client

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(30)
