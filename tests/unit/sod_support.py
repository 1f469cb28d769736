"""Builders shared by the segregation-of-duties tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from approvals.sod import DecisionContext, DecisionVerdict, Delegation

AT = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
START, END = AT - timedelta(days=1), AT + timedelta(days=1)
CHECK_NAMES = [
    "holds_role_or_delegation",
    "not_preparer",
    "not_opener",
    "not_prior_approver",
    "delegation_window",
]


def ctx(**overrides: Any) -> DecisionContext:
    values: dict[str, Any] = {
        "actor_id": "u-ann",
        "actor_roles": ["billing_manager"],
        "at": AT,
        "level_role": "billing_manager",
        "preparer_id": "u-prep",
        "opener_id": "u-open",
        "decision": "approve",
    }
    values.update(overrides)
    return DecisionContext(**values)


def delegation(
    principal: str = "u-boss",
    roles: tuple[str, ...] = ("billing_manager",),
    starts_at: datetime = START,
    ends_at: datetime = END,
) -> Delegation:
    return Delegation(
        principal_id=principal, principal_roles=list(roles), starts_at=starts_at, ends_at=ends_at
    )


def passed(verdict: DecisionVerdict) -> dict[str, bool]:
    assert [c.name for c in verdict.checks] == CHECK_NAMES
    return {c.name: c.passed for c in verdict.checks}
