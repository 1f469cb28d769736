"""Saved histories must replay without non-determinism: a change to the workflow that would
break running disputes fails here (guard it with workflow.patched, README "Changing the
workflow"). Histories under retired/ are of disputes this build no longer continues (their
patches are deprecated); they must fail, so that dropping a path is a decision, not an
accident. And a deliberately changed workflow must be caught."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, WorkflowReplayResult
from temporalio.workflow import NondeterminismError

from config.converter import DATA_CONVERTER
from config.sandbox import workflow_runner
from domain.models import UpdateResult, WorkflowInput
from workflows.dispute import DisputeWorkflow
from workflows.registry import WORKFLOWS

HERE = Path(__file__).parent.parent / "histories"
HISTORIES = sorted(HERE.glob("*.json"))
RETIRED = sorted((HERE / "retired").glob("*.json"))
# What the newest recordings must cover: the four endings and the shapes that differ.
SCENARIOS = ("two_level_approval", "reject_and_resubmit", "deny", "withdraw",
             "sla_escalation", "memo_revision", "ledger_refused", "still_open",
             "continued_as_new")


async def _replay(path: Path, workflows: list[type]) -> WorkflowReplayResult:
    replayer = Replayer(workflows=workflows, data_converter=DATA_CONVERTER,
                        workflow_runner=workflow_runner(DATA_CONVERTER))  # as the worker runs
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    return await replayer.replay_workflow(history, raise_on_replay_failure=False)


def test_the_newest_recordings_cover_every_scenario() -> None:
    newest = max(p.stem.split("_", 1)[0] for p in HISTORIES)
    recorded = {p.stem.split("_", 1)[1] for p in HISTORIES if p.stem.startswith(newest + "_")}
    assert set(SCENARIOS) <= recorded, f"run `make histories VERSION=...`: {recorded}"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    result = await _replay(path, WORKFLOWS)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


@pytest.mark.parametrize("path", RETIRED, ids=[p.stem for p in RETIRED])
async def test_a_retired_history_no_longer_replays(path: Path) -> None:
    result = await _replay(path, WORKFLOWS)
    assert isinstance(result.replay_failure, NondeterminismError), path.name


@workflow.defn(name="DisputeWorkflow", sandboxed=False)
class ChangedDisputeWorkflow(DisputeWorkflow):
    """The dispute workflow with one unguarded change: a timer before anything else."""

    @workflow.run
    async def run(self, inp: WorkflowInput) -> UpdateResult:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(inp)


@pytest.mark.parametrize("name", ["v5_two_level_approval", "v5_still_open"])
async def test_an_unguarded_change_fails_the_replay(name: str) -> None:
    result = await _replay(HERE / f"{name}.json", [ChangedDisputeWorkflow])
    assert isinstance(result.replay_failure, NondeterminismError), result.replay_failure
