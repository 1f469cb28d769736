"""Who may decide a level: role, escalation, delegation windows, segregation of duties."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from approvals.sod import DecisionContext, Delegation, check_decision
from tests.unit.sod_support import AT, CHECK_NAMES, ctx, passed


def test_the_level_role_may_approve() -> None:
    verdict = check_decision(ctx())
    assert verdict.allowed and verdict.code is None and verdict.message is None
    assert verdict.acting_role == "billing_manager"
    assert verdict.delegate_of is None
    assert all(passed(verdict).values())


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_the_preparer_may_not_decide(decision: str) -> None:
    verdict = check_decision(ctx(actor_id="u-prep", decision=decision))
    assert not verdict.allowed and verdict.code == "sod_violation"
    verb = "approve" if decision == "approve" else "decide on"
    assert verdict.message == (
        f"You prepared this credit memo; another billing_manager must {verb} it."
    )
    assert verdict.acting_role == "billing_manager"
    assert passed(verdict)["not_preparer"] is False


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_the_opener_may_not_decide(decision: str) -> None:
    verdict = check_decision(ctx(actor_id="u-open", decision=decision))
    assert verdict.code == "sod_violation"
    assert verdict.message is not None and verdict.message.startswith("You opened this dispute;")
    assert passed(verdict) == {**dict.fromkeys(CHECK_NAMES, True), "not_opener": False}


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_prior_approver_may_not_decide_a_later_level(decision: str) -> None:
    verdict = check_decision(
        ctx(
            prior_approver_ids=["u-ann"],
            level_role="senior_billing_manager",
            actor_roles=["senior_billing_manager"],
            decision=decision,
        )
    )
    assert verdict.code == "sod_violation"
    verb = "approve" if decision == "approve" else "decide on"
    assert verdict.message == (
        f"You approved level 1 of this credit memo; a different person must {verb} level 2."
    )
    assert passed(verdict)["not_prior_approver"] is False


def test_the_prior_approval_level_is_named() -> None:
    verdict = check_decision(ctx(prior_approver_ids=["u-bob", "u-ann"]))
    assert verdict.message == (
        "You approved level 2 of this credit memo; a different person must approve level 3."
    )


def test_without_the_role_it_is_forbidden() -> None:
    verdict = check_decision(ctx(actor_roles=["analyst"], escalation_roles=["director_revops"]))
    assert not verdict.allowed and verdict.code == "forbidden"
    assert verdict.message == (
        "This level needs the role billing_manager (or director_revops after escalation); "
        "you hold analyst."
    )
    assert verdict.acting_role is None and verdict.delegate_of is None
    assert passed(verdict)["holds_role_or_delegation"] is False


def test_without_any_role_the_message_says_so() -> None:
    verdict = check_decision(ctx(actor_roles=[]))
    assert verdict.message == "This level needs the role billing_manager; you hold no roles."


def test_missing_role_takes_precedence_over_segregation_of_duties() -> None:
    verdict = check_decision(ctx(actor_id="u-prep", actor_roles=["analyst"]))
    assert verdict.code == "forbidden"
    assert passed(verdict)["not_preparer"] is False  # still recorded for the auditors


@pytest.mark.parametrize("role", ["senior_billing_manager", "director_revops"])
def test_escalation_roles_may_decide(role: str) -> None:
    verdict = check_decision(
        ctx(actor_roles=[role], escalation_roles=["senior_billing_manager", "director_revops"])
    )
    assert verdict.allowed and verdict.acting_role == role


def test_the_level_role_is_preferred_over_an_escalation_role() -> None:
    verdict = check_decision(
        ctx(
            actor_roles=["director_revops", "billing_manager"], escalation_roles=["director_revops"]
        )
    )
    assert verdict.acting_role == "billing_manager"


def test_escalation_roles_do_not_bypass_segregation_of_duties() -> None:
    verdict = check_decision(
        ctx(
            actor_id="u-open", actor_roles=["director_revops"], escalation_roles=["director_revops"]
        )
    )
    assert verdict.code == "sod_violation"
    assert verdict.message == "You opened this dispute; another director_revops must approve it."


# --- properties -----------------------------------------------------------------------------

PEOPLE = ["p1", "p2", "p3", "p4"]
ROLES = ["billing_manager", "controller", "analyst"]
offsets = st.integers(min_value=-3, max_value=3).map(lambda h: AT + timedelta(hours=h))


@st.composite
def delegations(draw: st.DrawFn) -> Delegation:
    start = draw(offsets)
    return Delegation(
        principal_id=draw(st.sampled_from(PEOPLE)),
        principal_roles=draw(st.lists(st.sampled_from(ROLES), max_size=2)),
        starts_at=start,
        ends_at=start + timedelta(hours=draw(st.integers(min_value=1, max_value=4))),
    )


contexts = st.builds(
    DecisionContext,
    actor_id=st.sampled_from(PEOPLE),
    actor_roles=st.lists(st.sampled_from(ROLES), max_size=2),
    delegations=st.lists(delegations(), max_size=3),
    at=st.just(AT),
    level_role=st.sampled_from(ROLES[:2]),
    escalation_roles=st.lists(st.sampled_from(ROLES[:2]), max_size=1),
    preparer_id=st.sampled_from(PEOPLE),
    opener_id=st.sampled_from(PEOPLE),
    prior_approver_ids=st.lists(st.sampled_from(PEOPLE), max_size=2),
    decision=st.sampled_from(["approve", "reject"]),
)


@settings(max_examples=300, deadline=None)
@given(context=contexts)
def test_no_conflicted_person_is_ever_allowed(context: DecisionContext) -> None:
    verdict = check_decision(context)
    assert [c.name for c in verdict.checks] == CHECK_NAMES
    conflicted = {context.preparer_id, context.opener_id, *context.prior_approver_ids}
    if verdict.allowed:
        assert context.actor_id not in conflicted
        assert verdict.delegate_of not in conflicted
        assert all(c.passed for c in verdict.checks)
        roles = {context.level_role, *context.escalation_roles}
        assert verdict.acting_role in roles
        if verdict.delegate_of is None:
            assert verdict.acting_role in context.actor_roles
        else:
            assert any(
                d.principal_id == verdict.delegate_of
                and d.active_at(context.at)
                and verdict.acting_role in d.principal_roles
                for d in context.delegations
            )
    else:
        assert verdict.code in ("forbidden", "sod_violation") and verdict.message
