"""Segregation-of-duties conflicts in the roles one person holds, for the access review.

The decision-time checks (``approvals.sod``) stop one person preparing and approving the same
memo; an auditor recertifying access also wants to see who *could* — whose role set lets
them play two parts of one chain. Pure: the policy says which roles approve and in which
order.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from approvals.policy import Policy

__all__ = ["Conflict", "approval_roles_of", "conflicts"]

# Built-in roles that take part in a dispute before its memo is approved.
_BEFORE_APPROVAL = {"analyst": "prepares credit memos", "client_services": "opens disputes"}


@dataclass(frozen=True)
class Conflict:
    """``kind`` is stable (for filters and CSV); ``message`` is for a person."""

    kind: str
    roles: tuple[str, ...]
    message: str


def approval_roles_of(policy: Policy) -> set[str]:
    """Roles that decide a level of some chain, directly or by escalation."""
    roles = set(policy.levels) | {role for tier in policy.tiers for role in tier.levels}
    roles |= {spec.escalate_to for spec in policy.levels.values() if spec.escalate_to}
    if policy.prior_period_requires:
        roles.add(policy.prior_period_requires)
    return roles


def conflicts(roles: Collection[str], policy: Policy) -> list[Conflict]:
    """The conflicts in one person's ``roles`` under ``policy``, in a stable order."""
    held = set(roles)
    approving = sorted(held & approval_roles_of(policy))
    found: list[Conflict] = []
    for role, part in _BEFORE_APPROVAL.items():
        for approver in approving if role in held else []:
            found.append(Conflict(
                f"{role}_and_approver", (role, approver),
                f"holds {role} (which {part}) and {approver} (which approves credit memos)"))
    if "admin" in held:
        for approver in approving:
            found.append(Conflict(
                "admin_and_approver", ("admin", approver),
                f"holds admin (which changes the approval policy and grants roles) and "
                f"{approver}"))
    pairs: list[tuple[str, str]] = []
    for tier in policy.tiers:
        for lower, upper in zip(tier.levels, tier.levels[1:], strict=False):
            if lower in held and upper in held and (lower, upper) not in pairs:
                pairs.append((lower, upper))
    for lower, upper in pairs:
        found.append(Conflict(
            "consecutive_levels", (lower, upper),
            f"holds {lower} and {upper}, consecutive levels of one chain"))
    return found
