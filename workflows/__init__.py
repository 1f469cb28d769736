"""Deterministic orchestration only: no I/O, no wall clock, no randomness."""

from workflows.dispute import DisputeWorkflow

WORKFLOWS = [DisputeWorkflow]

__all__ = ["WORKFLOWS", "DisputeWorkflow"]
