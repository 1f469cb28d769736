"""What a proposed policy changes, path by path, so the second admin reads the change and not
two whole documents. Pure: both sides are policy documents (JSON-shaped)."""

from __future__ import annotations

from typing import Any

__all__ = ["diff"]


def diff(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Every leaf that differs, as ``{"path", "before", "after"}`` (``None`` where a side lacks
    it); lists of different lengths or of non-documents compare as a whole."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after), key=str):
            found += diff(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return found
    if (isinstance(before, list) and isinstance(after, list) and len(before) == len(after)
            and any(isinstance(x, dict) for x in before + after)):
        return [d for i, (b, a) in enumerate(zip(before, after, strict=True))
                for d in diff(b, a, f"{path}[{i}]")]
    return [] if before == after else [{"path": path, "before": before, "after": after}]
