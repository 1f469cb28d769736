"""Crash points for fault-injection tests: ``DISPUTEFLOW_CRASH_AT=<name>`` makes the worker
process kill itself (SIGKILL, no cleanup) the first time it reaches that point, so tests
can prove that a crash at the worst moment loses nothing and posts nothing twice.

Unset in production; the marker file makes each crash happen once per test run.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def crash_point(name: str) -> None:
    if os.environ.get("DISPUTEFLOW_CRASH_AT") != name:
        return
    marker = Path(os.environ.get("DISPUTEFLOW_CRASH_MARKER", f".crash-{name}"))
    if marker.exists():
        return
    marker.write_text(str(os.getpid()))
    os.kill(os.getpid(), signal.SIGKILL)
