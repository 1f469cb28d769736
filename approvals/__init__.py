"""Approval rules of Disputeflow: the policy, the chain it selects, and who may decide.

Pure code (no I/O, no clock, no randomness) so that workflows can import it inside the
Temporal sandbox and replay it deterministically; money is always ``Decimal``.
"""

from approvals.chain import ChainDecision, format_amount, select_chain
from approvals.policy import (
    DEFAULT_POLICY_DOCUMENT,
    CalendarSpec,
    LevelSpec,
    Policy,
    PolicyError,
    PolicyProblem,
    SlaSpec,
    Tier,
    parse_policy,
    policy_to_document,
)
from approvals.sod import DecisionContext, DecisionVerdict, Delegation, SodCheck, check_decision

__all__ = [
    "DEFAULT_POLICY_DOCUMENT",
    "CalendarSpec",
    "ChainDecision",
    "DecisionContext",
    "DecisionVerdict",
    "Delegation",
    "LevelSpec",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "SlaSpec",
    "SodCheck",
    "Tier",
    "check_decision",
    "format_amount",
    "parse_policy",
    "policy_to_document",
    "select_chain",
]
