"""Deciding through a delegation: its window, its role, and the principal's own conflicts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from approvals.sod import check_decision
from tests.unit.sod_support import AT, END, START, ctx, delegation, passed


@pytest.mark.parametrize(
    ("at", "allowed"),
    [
        (START - timedelta(microseconds=1), False),
        (START, True),
        (AT, True),
        (END - timedelta(microseconds=1), True),
        (END, False),
        (END + timedelta(hours=1), False),
    ],
    ids=["before", "at-start", "inside", "just-before-end", "at-end", "after"],
)
def test_delegation_window_is_start_inclusive_end_exclusive(at: datetime, allowed: bool) -> None:
    verdict = check_decision(ctx(actor_roles=["analyst"], delegations=[delegation()], at=at))
    assert verdict.allowed is allowed
    assert passed(verdict)["delegation_window"] is allowed
    if allowed:
        assert verdict.delegate_of == "u-boss" and verdict.acting_role == "billing_manager"
    else:
        assert verdict.code == "forbidden"
        assert verdict.message is not None and "delegation is not active" in verdict.message
        assert "u-boss" in verdict.message


def test_delegation_windows_compare_across_time_zones() -> None:
    pacific = timezone(timedelta(hours=-8))
    verdict = check_decision(
        ctx(
            actor_roles=[],
            at=AT.astimezone(pacific),
            delegations=[delegation(ends_at=AT + timedelta(seconds=1))],
        )
    )
    assert verdict.allowed


def test_a_delegation_of_another_role_does_not_help() -> None:
    verdict = check_decision(ctx(actor_roles=[], delegations=[delegation(roles=("auditor",))]))
    assert verdict.code == "forbidden"
    assert not verdict.message or "not active" not in verdict.message
    assert passed(verdict)["delegation_window"] is False


def test_a_delegated_escalation_role_is_enough() -> None:
    verdict = check_decision(
        ctx(
            actor_roles=[],
            escalation_roles=["director_revops"],
            delegations=[delegation(roles=("director_revops",))],
        )
    )
    assert verdict.allowed
    assert (verdict.acting_role, verdict.delegate_of) == ("director_revops", "u-boss")


def test_a_delegate_who_prepared_the_memo_is_refused() -> None:
    verdict = check_decision(
        ctx(actor_id="u-prep", actor_roles=["analyst"], delegations=[delegation()])
    )
    assert verdict.code == "sod_violation"
    assert verdict.message == (
        "You prepared this credit memo; another billing_manager must approve it."
    )
    assert verdict.delegate_of == "u-boss"


@pytest.mark.parametrize(
    ("overrides", "check", "fragment"),
    [
        (
            {"preparer_id": "u-boss"},
            "not_preparer",
            "You act for u-boss by delegation, and u-boss prepared this credit memo, so u-boss "
            "cannot lend authority for it; another billing_manager must approve it.",
        ),
        (
            {"opener_id": "u-boss"},
            "not_opener",
            "You act for u-boss by delegation, and u-boss opened this dispute",
        ),
        (
            {"prior_approver_ids": ["u-boss"]},
            "not_prior_approver",
            "u-boss approved level 1 of this credit memo, so u-boss cannot lend authority for it; "
            "a different person must approve level 2.",
        ),
    ],
)
def test_a_principal_cannot_lend_authority_they_may_not_use(
    overrides: dict[str, Any], check: str, fragment: str
) -> None:
    verdict = check_decision(ctx(actor_roles=["analyst"], delegations=[delegation()], **overrides))
    assert verdict.code == "sod_violation" and not verdict.allowed
    assert verdict.message is not None and fragment in verdict.message
    assert verdict.delegate_of == "u-boss"
    assert passed(verdict)[check] is False


def test_a_clean_delegation_is_used_when_another_is_tainted() -> None:
    verdict = check_decision(
        ctx(
            actor_roles=[],
            preparer_id="u-boss",
            delegations=[delegation(), delegation(principal="u-cleo")],
        )
    )
    assert verdict.allowed and verdict.delegate_of == "u-cleo"
    assert all(passed(verdict).values())


def test_holding_the_role_directly_is_preferred_to_a_delegation() -> None:
    verdict = check_decision(ctx(delegations=[delegation()]))
    assert verdict.allowed and verdict.delegate_of is None
    assert verdict.checks[-1].detail == "not acting by delegation"


def test_a_delegation_does_not_cure_the_actors_own_conflict() -> None:
    verdict = check_decision(ctx(actor_id="u-open", delegations=[delegation()]))
    assert verdict.code == "sod_violation"


def test_datetimes_must_be_timezone_aware_and_windows_ordered() -> None:
    naive = datetime(2026, 11, 2, 17, 0)
    with pytest.raises(ValidationError):
        ctx(at=naive)
    with pytest.raises(ValidationError):
        delegation(starts_at=naive)
    with pytest.raises(ValidationError, match="end after it starts"):
        delegation(starts_at=END, ends_at=START)
    with pytest.raises(ValidationError):
        ctx(decision="abstain")
