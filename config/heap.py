"""The garbage collector and long-running processes.

CPython's full collection walks every tracked object while holding the GIL: in the worker,
whose workflow cache keeps hundreds of thousands of objects, that pause (100-250 ms here
with a thousand disputes cached) lands on whatever decision is in flight and was the tail
of bench_decisions' latency. Two remedies:

- The objects made at start-up — modules, classes, functions of every library, about
  150,000 — live as long as the process: they are moved out of the collector's sight once,
  before serving (:func:`freeze_startup_objects`).
- CPython starts a full pass once a quarter as many objects as the heap holds have been
  *promoted* to its oldest generation, even when they died by reference count right after:
  in the worker every decision promotes objects that soon die (states, activations), so a
  full pass ran every 7-12 s under load and reclaimed a few thousand objects of the
  hundreds of thousands it walked. :class:`CollectOnGrowth` replaces that rule with the
  heap's real growth: a full pass when the interpreter holds a quarter more memory blocks
  than after the last one — garbage cycles (evicted workflows) still go, promptly enough for
  bench_waiting's memory target, and a steady load no longer pays a pause every few seconds.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from collections.abc import Callable

log = logging.getLogger("disputeflow.heap")

# set_threshold wants a count of younger collections; this many never accumulate (one per
# ~7,000 allocations: years), so CPython itself never starts a full pass.
_NEVER = 1 << 30


def freeze_startup_objects() -> int:
    """Collect what start-up left behind, then exempt the rest from future passes; how many
    objects were frozen. Call once, after imports, before the process starts serving."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class CollectOnGrowth:
    """Full collections driven by how much the heap has grown (see the module docstring).

    ``install()`` turns CPython's own full passes off (the young generations are collected
    as before); ``check()`` — run every ``interval`` seconds by ``run()`` — collects fully
    when the interpreter's allocated blocks grew by ``growth`` since the last full pass.
    """

    def __init__(self, *, growth: float = 0.25, interval: float = 1.0,
                 blocks: Callable[[], int] = sys.getallocatedblocks) -> None:
        if growth <= 0 or interval <= 0:
            raise ValueError("growth and interval must be positive")
        self.growth = growth
        self.interval = interval
        self._blocks = blocks
        self._baseline = blocks()
        self._saved: tuple[int, int, int] | None = None
        self.passes = 0

    def install(self) -> None:
        young, middle, _ = self._saved = gc.get_threshold()
        gc.set_threshold(young, middle, _NEVER)
        self._baseline = self._blocks()

    def uninstall(self) -> None:
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def check(self) -> bool:
        """One full pass if the heap grew enough; whether it ran."""
        if self._blocks() < self._baseline * (1 + self.growth):
            return False
        started = time.perf_counter()
        collected = gc.collect()
        self._baseline = self._blocks()
        self.passes += 1
        log.debug("full collection: %d objects freed in %.0f ms; %d blocks remain", collected,
                  (time.perf_counter() - started) * 1000, self._baseline)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Check every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except TimeoutError:
                self.check()
