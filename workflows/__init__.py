"""Deterministic orchestration only: no I/O, no wall clock, no randomness.

Deliberately empty: Temporal's sandbox executes this package again for every workflow run
it starts, so anything imported here is rebuilt — and kept in memory — once per cached
workflow. The workflows a worker registers are listed in :mod:`workflows.registry`.
"""
