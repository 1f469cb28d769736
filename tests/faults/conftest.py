"""Fault tests: the worker as a real process we can SIGKILL, against the real dev server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.processes import stop_process
from tests.e2e.conftest import admin_token, dev_server, people  # noqa: F401
from tests.support.stack import Stack

pytestmark = pytest.mark.faults


class WorkerProcess:
    """``python -m cli.main worker`` with the stack's settings; kill and restart at will."""

    def __init__(self, stack: Stack, tmp: Path, **env: str) -> None:
        s = stack.settings
        self.env = {**os.environ, "DATABASE_URL": s.database_url,
                    "TEMPORAL_ADDRESS": s.temporal_address,
                    "TEMPORAL_TASK_QUEUE": s.temporal_task_queue,
                    "DISPUTEFLOW_CRASH_MARKER": str(tmp / "crash.marker"), **env}
        self.log = tmp / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "cli.main", "worker"],
                                         env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        time.sleep(0.5)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no shutdown, no cleanup
        self.proc.wait(10)

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


@pytest.fixture
def api_only(dev_server, db_url: str, admin_token: str, people) -> Iterator[Stack]:  # noqa: F811
    stack = Stack.create(temporal_address=dev_server.address, db_url=db_url,
                         admin_token=admin_token, with_worker=False)
    yield stack
    stack.stop()


@pytest.fixture
def worker_factory(api_only: Stack, tmp_path: Path) -> Iterator[object]:
    made: list[WorkerProcess] = []

    def make(**env: str) -> WorkerProcess:
        w = WorkerProcess(api_only, tmp_path, **env)
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop()
