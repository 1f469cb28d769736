"""Clocks by the names people use, from the identifiers the workflow gives them."""

from __future__ import annotations

import pytest

from domain.clock_names import clock_label


@pytest.mark.parametrize(("clock", "label"), [
    ("acknowledge", "Acknowledge"),
    ("investigate", "Investigate"),
    ("resolve", "Resolve"),
    ("approval", "Approval levels"),
    ("approval_CM-DSP-7-1_2", "Approval level 2 of credit memo CM-DSP-7-1"),
    ("approval_CM_WITH_UNDERSCORES_3", "Approval level 3 of credit memo CM_WITH_UNDERSCORES"),
    ("approval_x", "Approval x"),
    ("something_new", "Something new"),
])
def test_clock_label(clock: str, label: str) -> None:
    assert clock_label(clock) == label
