"""Deterministic orchestration only: no I/O, no wall clock, no randomness."""

from workflows.digest import DailyDigestWorkflow
from workflows.dispute import DisputeWorkflow

WORKFLOWS = [DisputeWorkflow, DailyDigestWorkflow]

__all__ = ["WORKFLOWS", "DailyDigestWorkflow", "DisputeWorkflow"]
