"""Tier choice: thresholds, aggregation, prior-period rule, de-minimis, and monotonicity."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from approvals.chain import ChainDecision, format_amount, select_chain
from approvals.policy import DEFAULT_POLICY_DOCUMENT, Policy, parse_policy, policy_to_document

D = Decimal
DEFAULT = parse_policy(DEFAULT_POLICY_DOCUMENT)
BM, SBM, DIR, CTRL = "billing_manager", "senior_billing_manager", "director_revops", "controller"


def de_minimis_policy(prior_role: str | None = CTRL) -> Policy:
    document: dict[str, Any] = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    document["tiers"].insert(0, {"min": "0", "levels": []})
    document["tiers"][1]["min"] = "100"
    document["prior_period_requires"] = prior_role
    return parse_policy(document)


@pytest.mark.parametrize(
    ("amount", "tier_index", "levels"),
    [
        ("0.01", 0, [BM]),
        ("4999.99", 0, [BM]),
        ("5000.00", 1, [BM, SBM]),
        ("24999.99", 1, [BM, SBM]),
        ("25000.00", 2, [BM, SBM, DIR]),
        ("99999.99", 2, [BM, SBM, DIR]),
        ("100000.00", 3, [BM, SBM, DIR, CTRL]),
        ("123456789.12", 3, [BM, SBM, DIR, CTRL]),
    ],
)
def test_thresholds_are_inclusive(amount: str, tier_index: int, levels: list[str]) -> None:
    decision = select_chain(DEFAULT, amount_base=D(amount))
    assert decision.tier_index == tier_index
    assert decision.tier_min == DEFAULT.tiers[tier_index].min
    assert decision.levels == levels
    assert decision.aggregated_base == D(amount)
    assert decision.window_total_base == 0
    assert decision.prior_period is False


def test_the_documented_reason_for_an_aggregated_credit() -> None:
    decision = select_chain(DEFAULT, amount_base=D("4000.00"), window_total_base=D("3000.00"))
    assert decision == ChainDecision(
        tier_index=1,
        tier_min=D(5000),
        levels=[BM, SBM],
        amount_base=D("4000.00"),
        window_total_base=D("3000.00"),
        aggregated_base=D("7000.00"),
        prior_period=False,
        reasons=[
            "Credit of 4,000.00 USD plus 3,000.00 USD credited to this account in the last "
            "30 days = 7,000.00 USD, at or above the 5,000.00 USD tier: "
            "billing_manager, senior_billing_manager."
        ],
    )


@pytest.mark.parametrize(
    ("amount", "window", "tier_index"),
    [
        ("4000.00", "999.99", 0),
        ("4000.00", "1000.00", 1),
        ("1.00", "24999.00", 2),
        ("20000", "79999.99", 2),
        ("20000", "80000", 3),
    ],
)
def test_credits_inside_the_window_push_into_a_higher_tier(
    amount: str, window: str, tier_index: int
) -> None:
    decision = select_chain(DEFAULT, amount_base=D(amount), window_total_base=D(window))
    assert decision.tier_index == tier_index
    assert decision.aggregated_base == D(amount) + D(window)


def test_a_credit_alone_in_the_lowest_tier_explains_the_next_threshold() -> None:
    decision = select_chain(DEFAULT, amount_base=D("412.5"))
    assert decision.reasons == [
        "Credit of 412.50 USD, below the 5,000.00 USD tier: billing_manager."
    ]


def test_prior_period_appends_the_controller() -> None:
    decision = select_chain(
        DEFAULT, amount_base=D("250"), prior_period=True, closed_periods_hit=["2026-09"]
    )
    assert decision.levels == [BM, CTRL]
    assert decision.prior_period is True
    assert decision.reasons[1] == (
        "The credit reverses revenue in a closed period (2026-09): controller is also required."
    )


def test_prior_period_does_not_duplicate_a_role_already_in_the_tier() -> None:
    decision = select_chain(DEFAULT, amount_base=D("100000"), prior_period=True)
    assert decision.levels == [BM, SBM, DIR, CTRL]
    assert decision.levels.count(CTRL) == 1
    assert "already in this tier's chain" in decision.reasons[1]
    assert "closed period:" in decision.reasons[1]


def test_naming_closed_periods_implies_prior_period() -> None:
    decision = select_chain(DEFAULT, amount_base=D("10"), closed_periods_hit=["2026-08", "2026-09"])
    assert decision.prior_period is True
    assert decision.levels == [BM, CTRL]
    assert "closed periods (2026-08, 2026-09)" in decision.reasons[1]


def test_prior_period_without_a_prior_period_role_adds_nothing() -> None:
    policy = de_minimis_policy(prior_role=None)
    decision = select_chain(policy, amount_base=D("500"), prior_period=True)
    assert decision.levels == [BM]
    assert "requires no extra role" in decision.reasons[1]


def test_the_current_period_does_not_need_the_controller() -> None:
    assert select_chain(DEFAULT, amount_base=D("250")).levels == [BM]


@pytest.mark.parametrize(("amount", "levels"), [("0.01", []), ("99.99", []), ("100.00", [BM])])
def test_de_minimis_tier_is_auto_approved(amount: str, levels: list[str]) -> None:
    assert select_chain(de_minimis_policy(), amount_base=D(amount)).levels == levels


def test_de_minimis_reason() -> None:
    decision = select_chain(de_minimis_policy(), amount_base=D("40"), window_total_base=D("30"))
    assert decision.levels == []
    assert decision.reasons == [
        "Credit of 40.00 USD plus 30.00 USD credited to this account in the last 30 days = "
        "70.00 USD, below 100.00 USD: auto-approved under the de-minimis tier "
        "(no approval levels)."
    ]


def test_de_minimis_still_needs_the_controller_for_a_closed_period() -> None:
    decision = select_chain(
        de_minimis_policy(), amount_base=D("40"), prior_period=True, closed_periods_hit=["2026-09"]
    )
    assert decision.levels == [CTRL]
    assert decision.reasons[0] == (
        "Credit of 40.00 USD, below 100.00 USD: the de-minimis tier needs no approval levels."
    )
    assert decision.reasons[1].endswith("controller is also required.")


def test_single_tier_policies_read_well() -> None:
    base = {"base_currency": "EUR", "levels": {"a": {"sla": "P1D"}}, "calendar": "always"}
    only = parse_policy({**base, "tiers": [{"min": "0", "levels": ["a"]}]})
    assert select_chain(only, amount_base=D(7)).reasons == ["Credit of 7.00 EUR: a."]
    free = parse_policy({**base, "tiers": [{"min": "0", "levels": []}]})
    assert select_chain(free, amount_base=D(7)).reasons == [
        "Credit of 7.00 EUR: auto-approved under the de-minimis tier (no approval levels)."
    ]


@pytest.mark.parametrize("amount", [D(0), D("-0.01")])
def test_amount_must_be_positive(amount: Decimal) -> None:
    with pytest.raises(ValueError, match="above 0"):
        select_chain(DEFAULT, amount_base=amount)


def test_window_total_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        select_chain(DEFAULT, amount_base=D(1), window_total_base=D("-1"))


def test_money_must_not_be_a_float_or_nan() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        select_chain(DEFAULT, amount_base=10.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Decimal"):
        select_chain(DEFAULT, amount_base=D(1), window_total_base=0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        select_chain(DEFAULT, amount_base=D("NaN"))
    assert select_chain(DEFAULT, amount_base=5000).tier_index == 1  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "text"),
    [("4000", "4,000.00"), ("0.5", "0.50"), ("1234567.891", "1,234,567.891"), ("12.30", "12.30")],
)
def test_format_amount(amount: str, text: str) -> None:
    assert format_amount(D(amount)) == text


# --- properties -----------------------------------------------------------------------------

ROLES = [f"role_{i}" for i in range(6)]


@st.composite
def valid_policies(draw: st.DrawFn) -> Policy:
    """Ascending tiers from 0 with never-shorter role lists, as a valid policy must have."""
    count = draw(st.integers(min_value=1, max_value=5))
    steps = draw(
        st.lists(
            st.integers(min_value=1, max_value=10_000_000), min_size=count - 1, max_size=count - 1
        )
    )
    mins = [0]
    for step in steps:
        mins.append(mins[-1] + step)
    first = draw(st.integers(min_value=0, max_value=len(ROLES)))
    sizes = sorted(
        draw(
            st.lists(
                st.integers(min_value=max(first, 1), max_value=len(ROLES)),
                min_size=count - 1,
                max_size=count - 1,
            )
        )
    )
    tiers = []
    for minimum, size in zip(mins, [first, *sizes], strict=True):
        roles = draw(st.permutations(ROLES))[:size]
        tiers.append({"min": str(D(minimum) / 100), "levels": roles})
    prior = draw(st.sampled_from([None, *ROLES]))
    document = {
        "base_currency": "USD",
        "aggregation_window_days": draw(st.integers(min_value=0, max_value=366)),
        "levels": {role: {"sla": "P1D"} for role in ROLES},
        "tiers": tiers,
        "prior_period_requires": prior,
        "calendar": "always",
    }
    return parse_policy(document)


cents = st.integers(min_value=1, max_value=2_000_000_000).map(lambda c: D(c) / 100)


@settings(max_examples=150, deadline=None)
@given(policy=valid_policies(), amounts=st.lists(cents, min_size=2, max_size=8))
def test_the_chain_never_gets_shorter_as_the_amount_grows(
    policy: Policy, amounts: list[Decimal]
) -> None:
    lengths = [len(select_chain(policy, amount_base=a).levels) for a in sorted(amounts)]
    assert lengths == sorted(lengths)


@settings(max_examples=100, deadline=None)
@given(policy=valid_policies(), amount=cents, window=cents, prior=st.booleans())
def test_the_chosen_tier_is_the_highest_at_or_below_the_aggregate(
    policy: Policy, amount: Decimal, window: Decimal, prior: bool
) -> None:
    decision = select_chain(
        policy, amount_base=amount, window_total_base=window, prior_period=prior
    )
    tier = policy.tiers[decision.tier_index]
    assert tier.min <= decision.aggregated_base == amount + window
    if decision.tier_index + 1 < len(policy.tiers):
        assert policy.tiers[decision.tier_index + 1].min > decision.aggregated_base
    assert decision.levels[: len(tier.levels)] == tier.levels
    assert len(set(decision.levels)) == len(decision.levels)
    if prior and policy.prior_period_requires:
        assert policy.prior_period_requires in decision.levels


@settings(max_examples=50, deadline=None)
@given(policy=valid_policies())
def test_generated_policies_round_trip(policy: Policy) -> None:
    assert parse_policy(policy_to_document(policy)) == policy
