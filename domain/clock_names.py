"""SLA clocks by the names people use: ``approval_CM-DSP-1-1_2`` is "Approval level 2 of
credit memo CM-DSP-1-1", not an identifier. The workflow names its clocks; the pages, the
dashboard and the analytics CSVs read them through here."""

from __future__ import annotations

__all__ = ["APPROVAL_PREFIX", "clock_label"]

APPROVAL_PREFIX = "approval_"
_DISPUTE_CLOCKS = {"acknowledge": "Acknowledge", "investigate": "Investigate",
                   "resolve": "Resolve", "approval": "Approval levels"}


def clock_label(clock: str) -> str:
    """A clock's readable name; ``approval`` alone is the kind of all approval levels."""
    if clock.startswith(APPROVAL_PREFIX):
        memo, _, level = clock[len(APPROVAL_PREFIX):].rpartition("_")
        if level.isdigit() and memo:
            return f"Approval level {level} of credit memo {memo}"
    return _DISPUTE_CLOCKS.get(clock, clock.replace("_", " ").capitalize())
