"""Saved histories of completed disputes must replay without non-determinism: a change to
the workflow that would break running disputes fails here (guard it with workflow.patched)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from config.converter import DATA_CONVERTER
from config.sandbox import workflow_runner
from workflows.registry import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


def test_histories_exist() -> None:
    assert len(HISTORIES) >= 4, "run `make histories` to record the replay histories"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER,
                        workflow_runner=workflow_runner(DATA_CONVERTER))  # as the worker runs
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
