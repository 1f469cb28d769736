"""The API and the worker run on uvloop (config/event_loop.py): a process started through
it gets that loop, and the coroutine's result back."""

from __future__ import annotations

import asyncio

import uvloop

from config import event_loop


def test_run_gives_the_coroutine_a_uvloop_loop_and_returns_its_result() -> None:
    async def which_loop() -> type[asyncio.AbstractEventLoop]:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop())

    assert event_loop.run(which_loop()) is uvloop.Loop
