"""Back-testing a proposed approval policy against the credit memos of a past window.

Before an admin applies a new delegation-of-authority matrix, an admin or auditor asks what it
would have done: per memo, the chain it had and the chain the proposal would give; and in sum,
how many memos would need more or fewer levels, how the load moves between approver roles, and
which memos the proposal could not have staffed without breaking segregation of duties.

Pure, like the rest of :mod:`approvals`: the database layer (``db.policy_backtest``) reads the
history into the models below and this module only computes. The proposal's chain comes from
:func:`approvals.chain.select_chain`, the very function that chose the recorded chains, so a
proposal identical to the policy in force reproduces every recorded chain.

The aggregation window: when the proposal's ``aggregation_window_days`` equals that of the
policy version that chose a memo's chain, the window total recorded on the memo is reused (it
is exactly what the workflow saw). When the window changes, the total is recomputed from the
other credits to the same account created inside the new window before the memo, counting
only those still in flight then (a credit rejected or voided before the memo drops out).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from approvals.chain import ChainDecision, select_chain
from approvals.policy import Policy

__all__ = [
    "BacktestResult",
    "BacktestSummary",
    "MemoComparison",
    "PastCredit",
    "PastMemo",
    "Person",
    "RoleLoad",
    "SkippedMemo",
    "backtest",
    "staffing_conflicts",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")
Change = Literal["same", "more", "fewer", "different"]


class Person(BaseModel):
    """Someone who may approve: the roles they hold now (the back-test staffs chains with
    today's people, the ones who would decide under the proposal)."""

    model_config = _FROZEN

    id: str
    name: str
    roles: list[str]


class PastCredit(BaseModel):
    """A credit memo as it counts toward another memo's aggregation window.

    ``ended_at`` is when it stopped counting (rejected or voided); ``None`` while it still
    takes money off the account (pending, approved or posted)."""

    model_config = _FROZEN

    number: str
    dispute_id: str
    account_id: str
    created_at: AwareDatetime
    base_currency: str
    amount_base: Decimal
    ended_at: AwareDatetime | None = None

    def counts_at(self, at: AwareDatetime, since: AwareDatetime) -> bool:
        """Created inside ``[since, at)`` and not rejected or voided by ``at``."""
        return since <= self.created_at < at and (self.ended_at is None or self.ended_at > at)


class PastMemo(BaseModel):
    """One credit memo of the window, with the chain its policy version gave it."""

    model_config = _FROZEN

    number: str
    dispute_id: str
    account_id: str
    status: str
    created_at: AwareDatetime
    base_currency: str
    amount_base: Decimal
    policy_version: int
    tier_min: Decimal
    levels: list[str]
    prior_period: bool
    closed_periods: list[str] = Field(default_factory=list)
    window_total_base: Decimal | None = None  # None: not recorded on the memo
    window_days: int | None = None  # of the policy version that chose the chain, if known
    preparer_id: str
    opener_id: str


class MemoComparison(BaseModel):
    """The recorded chain of one memo ("then") beside the proposal's, and what changes."""

    number: str
    dispute_id: str
    account_id: str
    status: str
    created_at: AwareDatetime
    amount_base: Decimal
    policy_version: int
    chain_then: list[str]
    chain_proposed: list[str]
    tier_min_then: Decimal
    tier_min_proposed: Decimal
    window_total_base_then: Decimal | None
    window_total_base_proposed: Decimal
    window_recomputed: bool
    reasons_proposed: list[str]
    change: Change
    level_change: int
    new_sod_conflicts: list[str]


class RoleLoad(BaseModel):
    """Approval levels one role would have had to decide in the window."""

    role: str
    recorded: int
    proposed: int
    change: int


class SkippedMemo(BaseModel):
    """A memo the proposal cannot be compared on, and why."""

    number: str
    reason: str


class BacktestSummary(BaseModel):
    memos: int
    same: int
    more_levels: int
    fewer_levels: int
    different_roles: int
    auto_approved_recorded: int
    auto_approved_proposed: int
    new_sod_conflicts: int
    load: list[RoleLoad]


class BacktestResult(BaseModel):
    base_currency: str
    summary: BacktestSummary
    memos: list[MemoComparison]
    skipped: list[SkippedMemo]


def backtest(
    proposal: Policy,
    memos: Iterable[PastMemo],
    *,
    credits: Sequence[PastCredit] = (),
    people: Sequence[Person] = (),
) -> BacktestResult:
    """Compare each memo's recorded chain with the one ``proposal`` would have chosen.

    ``credits`` are the credit memos that may fall inside a recomputed aggregation window
    (the memos of the window themselves and those shortly before it); ``people`` are the
    approvers available to staff a chain.
    """
    by_account: dict[str, list[PastCredit]] = {}
    for credit in credits:
        if credit.base_currency == proposal.base_currency:
            by_account.setdefault(credit.account_id, []).append(credit)
    compared: list[MemoComparison] = []
    skipped: list[SkippedMemo] = []
    for memo in memos:
        if memo.base_currency != proposal.base_currency:
            skipped.append(SkippedMemo(
                number=memo.number,
                reason=f"its base amount is in {memo.base_currency}, the proposal's base "
                       f"currency is {proposal.base_currency}"))
            continue
        try:
            compared.append(_compare(proposal, memo, by_account.get(memo.account_id, []),
                                     people))
        except (ValueError, TypeError, ArithmeticError) as err:
            skipped.append(SkippedMemo(number=memo.number,
                                       reason=f"its chain cannot be recomputed: {err}"))
    return BacktestResult(base_currency=proposal.base_currency, summary=_summary(compared),
                          memos=compared, skipped=skipped)


def _compare(proposal: Policy, memo: PastMemo, credits: Sequence[PastCredit],
             people: Sequence[Person]) -> MemoComparison:
    reuse = (memo.window_total_base is not None
             and memo.window_days == proposal.aggregation_window_days)
    if reuse and memo.window_total_base is not None:
        window_total = memo.window_total_base
    else:
        since = memo.created_at - timedelta(days=proposal.aggregation_window_days)
        window_total = sum((c.amount_base for c in credits
                            if c.dispute_id != memo.dispute_id and c.number != memo.number
                            and c.counts_at(memo.created_at, since)), Decimal(0))
    decision: ChainDecision = select_chain(
        proposal, amount_base=memo.amount_base, window_total_base=window_total,
        prior_period=memo.prior_period, closed_periods_hit=memo.closed_periods)
    proposed = decision.levels
    change: Change
    if proposed == memo.levels:
        change = "same"
    elif len(proposed) > len(memo.levels):
        change = "more"
    elif len(proposed) < len(memo.levels):
        change = "fewer"
    else:
        change = "different"
    parties = {"preparer_id": memo.preparer_id, "opener_id": memo.opener_id}
    conflicts = staffing_conflicts(proposed, people, **parties)
    if conflicts and staffing_conflicts(memo.levels, people, **parties):
        conflicts = []  # today's people could not staff the recorded chain either: not new
    return MemoComparison(
        number=memo.number, dispute_id=memo.dispute_id, account_id=memo.account_id,
        status=memo.status, created_at=memo.created_at, amount_base=memo.amount_base,
        policy_version=memo.policy_version, chain_then=memo.levels, chain_proposed=proposed,
        tier_min_then=memo.tier_min, tier_min_proposed=decision.tier_min,
        window_total_base_then=memo.window_total_base, window_total_base_proposed=window_total,
        window_recomputed=not reuse, reasons_proposed=decision.reasons, change=change,
        level_change=len(proposed) - len(memo.levels), new_sod_conflicts=conflicts)


def staffing_conflicts(levels: Sequence[str], people: Sequence[Person], *,
                       preparer_id: str, opener_id: str) -> list[str]:
    """Why ``levels`` cannot each be approved by a different person, none of them the
    memo's preparer or its dispute's opener.

    Segregation of duties asks for a different approver at every level, none of them the
    preparer or the opener. That is a matching of levels to people holding their roles: the
    levels are matched in order (augmenting paths), and the first level left unmatched is
    explained. An empty list means the chain can be staffed.
    """
    excluded = {preparer_id, opener_id}
    eligible: list[list[str]] = [
        [p.id for p in people if role in p.roles and p.id not in excluded] for role in levels]
    taken: dict[str, int] = {}  # person -> level index

    def assign(index: int, seen: set[str]) -> bool:
        for person in eligible[index]:
            if person in seen:
                continue
            seen.add(person)
            if person not in taken or assign(taken[person], seen):
                taken[person] = index
                return True
        return False

    names = {p.id: p.name for p in people}
    for index, role in enumerate(levels):
        if assign(index, set()):
            continue
        holders = [p for p in people if role in p.roles]
        level = f"Level {index + 1} ({role})"
        if not holders:
            return [f"{level}: nobody holds {role}."]
        if not eligible[index]:
            why = "; ".join(f"{p.name} {_party(p.id, preparer_id)}" for p in holders)
            return [f"{level}: everyone holding {role} is a party to this memo ({why})."]
        who = ", ".join(names[p] for p in eligible[index])
        return [f"{level}: {who} would also be needed for another level; one person may "
                "not approve two levels of a memo."]
    return []


def _party(person: str, preparer_id: str) -> str:
    return "prepared it" if person == preparer_id else "opened its dispute"


def _summary(compared: Sequence[MemoComparison]) -> BacktestSummary:
    changes = Counter(c.change for c in compared)
    recorded = Counter(role for c in compared for role in c.chain_then)
    proposed = Counter(role for c in compared for role in c.chain_proposed)
    roles = sorted(set(recorded) | set(proposed))
    return BacktestSummary(
        memos=len(compared), same=changes["same"], more_levels=changes["more"],
        fewer_levels=changes["fewer"], different_roles=changes["different"],
        auto_approved_recorded=sum(1 for c in compared if not c.chain_then),
        auto_approved_proposed=sum(1 for c in compared if not c.chain_proposed),
        new_sod_conflicts=sum(1 for c in compared if c.new_sod_conflicts),
        load=[RoleLoad(role=r, recorded=recorded[r], proposed=proposed[r],
                       change=proposed[r] - recorded[r]) for r in roles])

