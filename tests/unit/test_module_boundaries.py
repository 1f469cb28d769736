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


def _ours(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in OURS  # type: ignore[union-attr]


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _private_uses(path: Path, source: str | None = None) -> list[str]:
    """``from ours import _x``, and ``mod._x`` where ``mod`` is one of our modules."""
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    modules: set[str] = set()  # local names bound to our modules
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names if _ours(a.name)}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _ours(node.module):
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: "
                                 f"{node.module}.{a.name}")
                if _is_module(f"{node.module}.{a.name}"):  # from db import disputes
                    modules.add(a.asname or a.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_scan_sees_the_project() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert {"api/commands/decide.py", "workflows/dispute.py", "worker.py"} <= names


SAMPLE = """
from db import audit
from db.disputes import _update_if_newer, get_view

audit._lock(None)
get_view.__name__
"""


def test_the_scan_sees_a_private_use() -> None:
    found = _private_uses(ROOT / "tests" / "sample.py", SAMPLE)
    assert [line.split(": ", 1)[1] for line in found] == [
        "db.disputes._update_if_newer", "audit._lock"]


def test_no_private_helper_is_imported_from_another_module() -> None:
    offenders = [line for path in _sources() for line in _private_uses(path)]
    assert offenders == []
