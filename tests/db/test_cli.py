"""The disputeflow CLI against a real database, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from approvals.default_policy import DEFAULT_POLICY_DOCUMENT
from db.models import AuditEvent
from db.session import session_scope


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_users_import_policy_and_audit_verify(db_url: str, tmp_path: Path) -> None:
    r = cli(db_url, "users", "add", "Nina", "--email", "nina@example.com",
            "--role", "billing_manager", "--role", "analyst")
    assert r.returncode == 0, r.stderr
    assert "Token (shown once): dfl_" in r.stdout
    assert cli(db_url, "users", "add", "Nina", "--email", "nina@example.com",
               "--role", "analyst").returncode == 1

    tokens = tmp_path / "demo-tokens.env"
    r = cli(db_url, "load-demo", "--tokens-file", str(tokens))
    assert r.returncode == 0, r.stderr
    assert "6 accounts" in r.stdout and "auditor" in r.stdout
    exports = tokens.read_text().splitlines()
    assert len(exports) == 8 and exports[0].startswith("export CS=dfl_")
    assert tokens.stat().st_mode & 0o777 == 0o600  # tokens: readable by their owner only
    assert f"source {tokens}" in r.stdout and "export AUD=dfl_" in r.stdout
    again = cli(db_url, "load-demo", "--no-users", "--tokens-file", str(tokens))
    assert "0 accounts, 0 invoices" in again.stdout

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"invoices": [{"number": "X"}]}))
    r = cli(db_url, "import", str(bad))
    assert r.returncode == 1 and "nothing was written" in r.stderr

    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(DEFAULT_POLICY_DOCUMENT))
    r = cli(db_url, "policy", "apply", str(policy))
    assert r.returncode == 0 and "version 2" in r.stdout, r.stderr
    broken = dict(DEFAULT_POLICY_DOCUMENT, tiers=[])
    policy.write_text(yaml.safe_dump(broken))
    r = cli(db_url, "policy", "apply", str(policy))
    assert r.returncode == 1 and "tiers" in r.stderr

    r = cli(db_url, "audit", "verify")
    assert r.returncode == 0 and "intact" in r.stdout
    with session_scope(db_url) as s:
        row = s.get(AuditEvent, 2)
        assert row is not None
        row.message = "edited"
    r = cli(db_url, "audit", "verify")
    assert r.returncode == 1 and "event 2" in r.stderr


def test_policy_backtest_prints_what_a_proposal_would_change(db_url: str,
                                                             tmp_path: Path) -> None:
    from tests.support.backtest_history import write_history

    write_history(db_url)
    document = json.loads(json.dumps(DEFAULT_POLICY_DOCUMENT))
    document["tiers"][1]["min"] = "10000"
    policy = tmp_path / "proposal.yaml"
    policy.write_text(yaml.safe_dump(document))
    r = cli(db_url, "policy", "backtest", str(policy), "--from", "2026-10-01",
            "--to", "2026-11-01")
    assert r.returncode == 0, r.stderr
    assert "CM-3 (1500.00 USD): billing_manager, senior_billing_manager -> billing_manager" \
        in r.stdout
    assert "8 credit memos: 6 unchanged, 0 more levels, 2 fewer" in r.stdout
    assert "senior_billing_manager: 3 -> 1 levels (-2)" in r.stdout
    r = cli(db_url, "policy", "backtest", str(policy), "--from", "2026-10-01",
            "--to", "2026-11-01", "--format", "json")
    assert json.loads(r.stdout)["summary"]["fewer_levels"] == 2
    assert cli(db_url, "policy", "backtest", str(policy), "--from", "2026-11-01",
               "--to", "2026-10-01").returncode == 2
