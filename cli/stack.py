"""``disputeflow up``: the whole embedded stack in the foreground.

Temporal dev server (unless TEMPORAL_ADDRESS is set), migrations, one worker process and one
API process — the same processes production runs, only fewer — stopped together on Ctrl-C
or SIGTERM. The dev server keeps its state in ``.disputeflow/temporal.db``, so a second
``up`` finds the disputes (and timers) of the first.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

from cli.processes import DevServer, port_open, start_dev_server, stop_process, wait_for_port
from config.settings import STATE_DIR, Settings
from db.migrate import upgrade


def admin_token(settings: Settings, state: Path) -> str:
    """The bootstrap admin token: from the environment, else kept (0600) under .disputeflow/."""
    if settings.disputeflow_admin_token:
        return settings.disputeflow_admin_token
    path = state / "admin_token"
    if path.exists():
        return path.read_text().strip()
    token = "adm_" + secrets.token_urlsafe(32)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def run_up(settings: Settings) -> int:
    state = Path(STATE_DIR)
    state.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    token = admin_token(settings, state)
    env["DISPUTEFLOW_ADMIN_TOKEN"] = token
    server: DevServer | None = None
    if "TEMPORAL_ADDRESS" not in os.environ:
        if port_open("127.0.0.1", 7233):
            print("Port 7233 is taken: another Temporal or `disputeflow up` is running. "
                  "Stop it, or set TEMPORAL_ADDRESS to use it.", file=sys.stderr)
            return 2
        print("Starting the Temporal dev server (state in .disputeflow/temporal.db)...")
        server = start_dev_server(state / "temporal.db", port=7233, ui_port=8233,
                                  log_file=state / "temporal.log")
        env["TEMPORAL_ADDRESS"] = server.address
    print("Applying database migrations...")
    upgrade(settings.database_url)

    children: list[subprocess.Popen] = []
    stopping = threading.Event()

    def stop(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for part in ("worker", "api"):
            children.append(subprocess.Popen([sys.executable, "-m", "cli.main", part], env=env,
                                             start_new_session=True))
        port = settings.disputeflow_api_port
        wait_for_port("127.0.0.1", port, timeout=60, proc=children[-1], what="API")
        subprocess.run([sys.executable, "-m", "cli.main", "schedules", "apply"], env=env,
                       check=False, timeout=60)
        print(f"""
Disputeflow is up.
  Web UI:       http://localhost:{port}/  (sign in with a token)
  API:          http://localhost:{port}/api/v1
  OpenAPI docs: http://localhost:{port}/docs
  Temporal UI:  {'http://localhost:8233' if server else 'see your Temporal cluster'}
  Admin token:  {token}
Load demo data with `disputeflow load-demo` (or `make demo`): it writes the demo users'
tokens to .disputeflow/demo-tokens.env as shell exports. Ctrl-C stops everything.
""", flush=True)
        while not stopping.wait(0.5):
            for child in children:
                if child.poll() is not None:
                    print(f"A process exited (code {child.returncode}); stopping.",
                          file=sys.stderr)
                    stopping.set()
    finally:
        print("Stopping...", flush=True)
        for child in reversed(children):
            stop_process(child)
        if server:
            server.stop()
        print("Stopped.")
    return 0
