"""No module imports another module's private helper: a rule lives in one place, and what
another module needs from it is public (named without a leading underscore)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = ("activities", "api", "approvals", "bench", "business_calendar", "cli", "config", "db",
        "domain", "migrations", "tests", "workflows", "worker")


def _sources() -> list[Path]:
    return [p for p in ROOT.rglob("*.py")
            if p.relative_to(ROOT).parts[0] in OURS or p.name == "worker.py"]


def _private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in OURS:
                continue
            found += [f"{path.relative_to(ROOT)}:{node.lineno}: {node.module}.{a.name}"
                      for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
    return found


def test_the_scan_sees_the_project() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert {"api/commands/decide.py", "workflows/dispute.py", "worker.py"} <= names


def test_no_private_helper_is_imported_from_another_module() -> None:
    offenders = [line for path in _sources() for line in _private_imports(path)]
    assert offenders == []
