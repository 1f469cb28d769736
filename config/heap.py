"""The garbage collector and long-running processes.

CPython's full collection walks every tracked object while holding the GIL: in the worker,
whose workflow cache keeps hundreds of thousands of objects, that pause (100-400 ms here)
lands on whatever decision is in flight and was the tail of bench_decisions' latency. The
objects made at start-up — modules, classes, functions of every library, about 150,000 —
live as long as the process, so they are moved out of the collector's sight once, before
serving: every later full pass walks only what was made since.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect what start-up left behind, then exempt the rest from future passes; how many
    objects were frozen. Call once, after imports, before the process starts serving."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
