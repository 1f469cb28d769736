"""``disputeflow replay-check``: will this build continue the disputes running now?

Before a worker of a new build is deployed, every open dispute's history is replayed
against the build's workflow code, exactly as a worker would on picking it up. A history
that no longer replays names a dispute the build would break (a change not guarded by
``workflow.patched()``, or a patch deprecated while such a dispute was still open): deploy
only when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.worker import Replayer

from config.converter import DATA_CONVERTER
from config.sandbox import workflow_runner

OPEN_DISPUTES = 'WorkflowType = "DisputeWorkflow" AND ExecutionStatus = "Running"'


@dataclass
class ReplayCheck:
    replayed: int = 0
    broken: dict[str, str] = field(default_factory=dict)  # dispute id -> why


async def check(client: Client, workflows: list[type], *, query: str = OPEN_DISPUTES
                ) -> ReplayCheck:
    """Replay the histories of the workflows ``query`` finds against ``workflows``."""
    replayer = Replayer(workflows=workflows, data_converter=DATA_CONVERTER,
                        workflow_runner=workflow_runner(DATA_CONVERTER))
    outcome = ReplayCheck()
    async for history in client.list_workflows(query).map_histories():
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        outcome.replayed += 1
        if result.replay_failure is not None:
            outcome.broken[history.workflow_id] = str(result.replay_failure)[:500]
    return outcome
