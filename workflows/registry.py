"""The workflows a worker registers (and the replay test replays)."""

from workflows.digest import DailyDigestWorkflow
from workflows.dispute import DisputeWorkflow

WORKFLOWS = [DisputeWorkflow, DailyDigestWorkflow]

__all__ = ["WORKFLOWS"]
