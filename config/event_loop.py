"""The event loop Disputeflow's long-running processes run on: uvloop.

The API and the worker spend much of a decision in event-loop work — accepting the HTTP
request, parsing it, passing the worker's activations to and from the Temporal core — and
uvloop does that work in C. With httptools parsing HTTP for uvicorn (``cli/main.py``), it
took the API's overhead on a token-checked read from about 7 to 4 ms on our benchmark
machine (``bench/README.md``, 2026-12-02). The bare-engine baselines in ``bench/`` run on
the same loop, so a comparison with them measures our code, not the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on a uvloop event loop."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


# uvicorn's names for the loop and the HTTP parser the API serves with.
UVICORN_LOOP = "uvloop"
UVICORN_HTTP = "httptools"
