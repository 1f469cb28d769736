"""Choosing the approval chain for one credit memo.

The tier is chosen by the credit *plus* the other credits to the same account inside the
policy's rolling window, so a large credit cannot be split into pieces that each slip under a
threshold. A credit that reverses revenue in a closed period also needs the policy's
``prior_period_requires`` role (the controller), even on a de-minimis tier.

The decision carries its reasons as sentences: they are shown to approvers and written to the
audit trail, so an auditor can see *why* a memo needed the chain it got.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from approvals.policy import Policy, Tier

__all__ = ["ChainDecision", "format_amount", "select_chain"]


class ChainDecision(BaseModel):
    """The chain chosen for one credit memo, with the numbers and words that chose it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tier_index: int
    tier_min: Decimal
    levels: list[str]
    amount_base: Decimal
    window_total_base: Decimal
    aggregated_base: Decimal
    prior_period: bool
    reasons: list[str]


def format_amount(amount: Decimal) -> str:
    """``4000`` -> ``4,000.00``: thousands separators, at least two decimals, never rounded."""
    exponent = amount.as_tuple().exponent
    shown = (
        amount if isinstance(exponent, int) and exponent < -2 else amount.quantize(Decimal("0.01"))
    )
    return f"{shown:,f}"


def select_chain(
    policy: Policy,
    *,
    amount_base: Decimal,
    window_total_base: Decimal = Decimal(0),
    prior_period: bool = False,
    closed_periods_hit: Sequence[str] = (),
) -> ChainDecision:
    """The highest tier whose ``min`` is at or below the aggregated amount wins.

    ``window_total_base`` is what other credits to the account inside the aggregation window
    (approved or pending) add up to. ``closed_periods_hit`` names the closed periods the credit
    reverses; naming any implies ``prior_period`` (failing closed: a caller that lists the
    periods but forgets the flag still gets the controller).
    """
    amount = _checked(amount_base, "amount_base")
    if amount <= 0:
        raise ValueError(f"amount_base must be above 0, got {amount}")
    window_total = _checked(window_total_base, "window_total_base")
    if window_total < 0:
        raise ValueError(f"window_total_base must be 0 or more, got {window_total}")
    aggregated = amount + window_total
    index = max(i for i, tier in enumerate(policy.tiers) if tier.min <= aggregated)
    tier = policy.tiers[index]
    is_prior = prior_period or bool(closed_periods_hit)
    levels = list(tier.levels)
    extra = policy.prior_period_requires if is_prior else None
    if extra is not None and extra not in levels:
        levels.append(extra)
    reasons = [_tier_reason(policy, index, amount, window_total, aggregated, bool(levels))]
    if is_prior:
        reasons.append(_prior_reason(policy, tier, closed_periods_hit))
    return ChainDecision(
        tier_index=index,
        tier_min=tier.min,
        levels=levels,
        amount_base=amount,
        window_total_base=window_total,
        aggregated_base=aggregated,
        prior_period=is_prior,
        reasons=reasons,
    )


def _checked(value: object, name: str) -> Decimal:
    """Money arrives as Decimal (an int is tolerated); a float would already have lost cents."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"{name} must be a finite amount, got {amount}")
    return amount


def _tier_reason(
    policy: Policy,
    index: int,
    amount: Decimal,
    window_total: Decimal,
    aggregated: Decimal,
    has_levels: bool,
) -> str:
    currency = policy.base_currency
    tier = policy.tiers[index]
    text = f"Credit of {format_amount(amount)} {currency}"
    if window_total > 0:
        text += (
            f" plus {format_amount(window_total)} {currency} credited to this account in the "
            f"last {policy.aggregation_window_days} days = {format_amount(aggregated)} {currency}"
        )
    next_min = policy.tiers[index + 1].min if index + 1 < len(policy.tiers) else None
    if not tier.levels:
        where = f", below {format_amount(next_min)} {currency}" if next_min is not None else ""
        if has_levels:
            return f"{text}{where}: the de-minimis tier needs no approval levels."
        return f"{text}{where}: auto-approved under the de-minimis tier (no approval levels)."
    roles = ", ".join(tier.levels)
    if index > 0:
        return f"{text}, at or above the {format_amount(tier.min)} {currency} tier: {roles}."
    if next_min is not None:
        return f"{text}, below the {format_amount(next_min)} {currency} tier: {roles}."
    return f"{text}: {roles}."


def _prior_reason(policy: Policy, tier: Tier, periods: Sequence[str]) -> str:
    if not periods:
        head = "The credit reverses revenue in a closed period"
    elif len(periods) == 1:
        head = f"The credit reverses revenue in a closed period ({periods[0]})"
    else:
        head = f"The credit reverses revenue in closed periods ({', '.join(periods)})"
    role = policy.prior_period_requires
    if role is None:
        return f"{head}; the policy requires no extra role for that."
    if role in tier.levels:
        return f"{head}: {role} is required, and is already in this tier's chain."
    return f"{head}: {role} is also required."
