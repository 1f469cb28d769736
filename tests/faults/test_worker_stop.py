"""A deploy stops the worker with SIGTERM: it must finish its work and exit 0.

Why exit 0 needs care: the Temporal SDK's Rust threads can outlive the event loop, and
Python's own teardown then aborts now and then ("Fatal Python error: PyGILState_Release",
exit 134; seen here once in about a dozen stops, so this test catches that regression only
sometimes), which an orchestrator counts as a crash. worker.main() skips that teardown."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.faults.conftest import WorkerProcess
from tests.support.stack import Stack

STOPS = 2


def test_a_stopped_worker_exits_cleanly_every_time(api_only: Stack, tmp_path: Path) -> None:
    for attempt in range(STOPS):
        worker = WorkerProcess(api_only, tmp_path / str(attempt))
        worker.log.parent.mkdir()
        worker.start()
        deadline = time.monotonic() + 30
        while "worker polling" not in worker.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert worker.proc is not None
        worker.proc.send_signal(signal.SIGTERM)
        code = worker.wait_exit(30)
        log = worker.log.read_text()
        assert code == 0 and "Fatal Python error" not in log, (attempt, code, log[-2000:])
        assert "worker stopped" in log
