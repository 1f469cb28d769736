"""The worker's garbage collection (config/heap.py): start-up objects frozen out of full
passes; full passes driven by the heap's real growth instead of by promotions."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator

import pytest

from config.heap import CollectOnGrowth, freeze_startup_objects


def test_a_full_pass_no_longer_walks_what_startup_made() -> None:
    walked = len(gc.get_objects())
    try:
        frozen = freeze_startup_objects()
        assert frozen > 10_000  # this test process has imported the whole application
        assert len(gc.get_objects()) < walked - frozen // 2
    finally:
        gc.unfreeze()


@pytest.fixture
def policy() -> Iterator[CollectOnGrowth]:
    gc.collect()
    installed = CollectOnGrowth(growth=0.25)
    installed.install()
    try:
        yield installed
    finally:
        installed.uninstall()


def _full_passes_during(work: object) -> int:
    passes = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            passes.append(info)

    gc.callbacks.append(seen)
    try:
        work()  # type: ignore[operator]
    finally:
        gc.callbacks.remove(seen)
    return len(passes)


def _promote_and_drop() -> None:
    """What a decision does to the worker's heap: objects that outlive the young
    collections, then die by reference count — the heap does not grow."""
    kept: list[list[int]] = []
    for i in range(1_500_000):
        kept.append([i])
        if len(kept) > 60_000:
            del kept[:30_000]


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only a full collection frees it once it is old


def test_promotions_that_die_young_no_longer_start_full_passes(
    policy: CollectOnGrowth,
) -> None:
    installed = gc.get_threshold()
    assert _full_passes_during(_promote_and_drop) == 0
    assert not policy.check()  # nothing grew, nothing to walk
    policy.uninstall()
    assert gc.get_threshold() != installed  # the saved thresholds are back ...
    assert gc.get_threshold()[2] < 1000  # ... CPython's own


def test_garbage_cycles_are_collected_once_the_heap_has_grown(
    policy: CollectOnGrowth,
) -> None:
    assert not policy.check()
    grown = int(sys.getallocatedblocks() * 0.3)
    nodes = [Node() for _ in range(grown // 2)]  # a Node and its __dict__: two blocks each
    probes = [weakref.ref(n) for n in nodes[::1000]]
    gc.collect(1)  # they survive the young passes: now old, like an evicted workflow's
    del nodes  # garbage now, but cycles: reference counting cannot free them
    gc.collect(1)  # the young passes still run, and do not look at old objects
    assert all(p() is not None for p in probes)
    assert policy.check()
    assert all(p() is None for p in probes)
    assert policy.passes == 1
    assert not policy.check()  # the baseline moved to what survived


def test_a_policy_needs_positive_settings() -> None:
    with pytest.raises(ValueError):
        CollectOnGrowth(growth=0)
