"""Start-up objects are frozen out of the collector's full passes (config/heap.py)."""

from __future__ import annotations

import gc

from config.heap import freeze_startup_objects


def test_a_full_pass_no_longer_walks_what_startup_made() -> None:
    walked = len(gc.get_objects())
    try:
        frozen = freeze_startup_objects()
        assert frozen > 10_000  # this test process has imported the whole application
        assert len(gc.get_objects()) < walked - frozen // 2
    finally:
        gc.unfreeze()
