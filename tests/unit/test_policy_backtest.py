"""The policy back-test, pure: recorded chain beside the proposal's, the window total reused or
recomputed, the load per role, and chains today's approvers could not staff."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from approvals.backtest import PastCredit, PastMemo, Person, backtest, staffing_conflicts
from approvals.policy import DEFAULT_POLICY_DOCUMENT, Policy, parse_policy

D = Decimal
T0 = datetime(2026, 10, 5, 17, 0, tzinfo=UTC)
BM, SBM, DIR, CTRL = "billing_manager", "senior_billing_manager", "director_revops", "controller"
PEOPLE = [Person(id="u-bm", name="Bea", roles=[BM]), Person(id="u-sbm", name="Sam", roles=[SBM]),
          Person(id="u-dir", name="Dee", roles=[DIR]), Person(id="u-ctrl", name="Cy", roles=[CTRL])]


def policy(**changes: Any) -> Policy:
    document: dict[str, Any] = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    document.update(changes)
    return parse_policy(document)


def memo(number: str, amount: str, levels: list[str], *, at: datetime = T0,
         window: str | None = "0", days: int | None = 30, **more: Any) -> PastMemo:
    fields: dict[str, Any] = {
        "number": number, "dispute_id": f"D-{number}", "account_id": "ADV-1",
        "status": "approved", "created_at": at, "base_currency": "USD",
        "amount_base": D(amount), "policy_version": 1, "tier_min": D(0), "levels": levels,
        "prior_period": False, "preparer_id": "u-an", "opener_id": "u-cs",
        "window_total_base": None if window is None else D(window), "window_days": days}
    fields.update(more)
    return PastMemo(**fields)


def credit(number: str, amount: str, at: datetime, *, ended: datetime | None = None,
           dispute: str | None = None, account: str = "ADV-1") -> PastCredit:
    return PastCredit(number=number, dispute_id=dispute or f"D-{number}", account_id=account,
                      created_at=at, base_currency="USD", amount_base=D(amount), ended_at=ended)


def test_the_policy_in_force_reproduces_every_recorded_chain() -> None:
    memos = [memo("CM-1", "400", [BM]), memo("CM-2", "6000", [BM, SBM]),
             memo("CM-3", "30000", [BM, SBM, DIR]),
             memo("CM-4", "200", [BM, CTRL], prior_period=True, closed_periods=["2026-09"])]
    result = backtest(policy(), memos, people=PEOPLE)
    assert [c.change for c in result.memos] == ["same"] * 4
    assert result.summary.same == 4 and result.summary.new_sod_conflicts == 0
    assert all(not c.window_recomputed for c in result.memos)


def test_a_raised_threshold_moves_memos_to_fewer_levels_and_off_a_role() -> None:
    tiers = copy.deepcopy(DEFAULT_POLICY_DOCUMENT["tiers"])
    tiers[1]["min"] = "10000"
    memos = [memo("CM-1", "6000", [BM, SBM]), memo("CM-2", "12000", [BM, SBM]),
             memo("CM-3", "300", [BM])]
    result = backtest(policy(tiers=tiers), memos, people=PEOPLE)
    assert [(c.number, c.change, c.level_change) for c in result.memos] == [
        ("CM-1", "fewer", -1), ("CM-2", "same", 0), ("CM-3", "same", 0)]
    assert result.memos[0].chain_proposed == [BM]
    assert "below the 10,000.00 USD tier" in result.memos[0].reasons_proposed[0]
    load = {r.role: (r.recorded, r.proposed, r.change) for r in result.summary.load}
    assert load == {BM: (3, 3, 0), SBM: (2, 1, -1)}
    assert (result.summary.fewer_levels, result.summary.more_levels) == (1, 0)


def test_a_de_minimis_tier_counts_auto_approvals() -> None:
    tiers = copy.deepcopy(DEFAULT_POLICY_DOCUMENT["tiers"])
    tiers.insert(0, {"min": "0", "levels": []})
    tiers[1]["min"] = "500"
    result = backtest(policy(tiers=tiers), [memo("CM-1", "400", [BM]),
                                            memo("CM-2", "600", [BM])], people=PEOPLE)
    assert [c.chain_proposed for c in result.memos] == [[], [BM]]
    assert result.summary.auto_approved_proposed == 1
    assert result.summary.auto_approved_recorded == 0


def test_the_same_window_reuses_the_recorded_total() -> None:
    # The recorded total says 2,000 was in flight; the credits passed in say nothing: reused.
    result = backtest(policy(), [memo("CM-1", "4000", [BM, SBM], window="2000")])
    only = result.memos[0]
    assert not only.window_recomputed and only.window_total_base_proposed == D(2000)
    assert only.change == "same"


def test_a_changed_window_recomputes_from_credits_still_in_flight() -> None:
    at = T0 + timedelta(days=20)
    credits = [
        credit("A", "3000", T0 + timedelta(days=14)),                      # inside 7 days
        credit("B", "2000", T0 + timedelta(days=5)),                       # outside 7 days
        credit("C", "9000", T0 + timedelta(days=15),
               ended=T0 + timedelta(days=16)),                             # rejected before
        credit("E", "500", T0 + timedelta(days=15), ended=at + timedelta(hours=1)),  # later
        credit("F", "7000", T0 + timedelta(days=19), dispute="D-CM-1"),    # its own dispute
        credit("G", "7000", T0 + timedelta(days=19), account="ADV-2"),     # another account
        credit("H", "7000", at + timedelta(minutes=1)),                    # after it
    ]
    recorded = memo("CM-1", "1000", [BM, SBM], at=at, window="14000")
    week = backtest(policy(aggregation_window_days=7), [recorded], credits=credits)
    assert week.memos[0].window_recomputed
    assert week.memos[0].window_total_base_proposed == D(3500)
    assert week.memos[0].chain_proposed == [BM] and week.memos[0].change == "fewer"
    month = backtest(policy(aggregation_window_days=31), [recorded], credits=credits)
    assert month.memos[0].window_total_base_proposed == D(5500)
    assert month.memos[0].chain_proposed == [BM, SBM]


def test_an_unknown_recorded_window_is_recomputed() -> None:
    result = backtest(policy(), [memo("CM-1", "1000", [BM], window=None, days=None)],
                      credits=[credit("A", "4500", T0 - timedelta(days=1))])
    assert result.memos[0].window_recomputed
    assert result.memos[0].chain_proposed == [BM, SBM]


def test_memos_in_another_base_currency_are_skipped_with_the_reason() -> None:
    result = backtest(policy(), [memo("CM-1", "100", [BM], base_currency="EUR")])
    assert result.memos == [] and result.summary.memos == 0
    assert result.skipped[0].number == "CM-1"
    assert "EUR" in result.skipped[0].reason and "USD" in result.skipped[0].reason


def test_a_chain_nobody_outside_the_memo_can_approve_is_a_new_conflict() -> None:
    people = [*PEOPLE[:3], Person(id="u-an", name="Ana", roles=["analyst", CTRL])]
    tiers = copy.deepcopy(DEFAULT_POLICY_DOCUMENT["tiers"])
    tiers[0]["levels"] = [BM, CTRL]
    result = backtest(policy(tiers=tiers), [memo("CM-1", "300", [BM])], people=people)
    assert result.memos[0].new_sod_conflicts == [
        "Level 2 (controller): everyone holding controller is a party to this memo "
        "(Ana prepared it)."]
    assert result.summary.new_sod_conflicts == 1


def test_a_conflict_the_recorded_chain_shares_is_not_new() -> None:
    people = [Person(id="u-bm", name="Bea", roles=[BM])]  # no senior billing manager today
    result = backtest(policy(), [memo("CM-1", "7000", [BM, SBM])], people=people)
    assert result.memos[0].new_sod_conflicts == []
    assert result.summary.new_sod_conflicts == 0


def test_staffing_reassigns_people_before_calling_a_conflict() -> None:
    both = Person(id="u-both", name="Bo", roles=[BM, SBM])
    bea = Person(id="u-bm", name="Bea", roles=[BM])
    # Bo is tried first for billing_manager, then moved to senior so Bea takes level 1.
    assert staffing_conflicts([BM, SBM], [both, bea], preparer_id="p", opener_id="o") == []
    assert staffing_conflicts([BM, SBM], [both], preparer_id="p", opener_id="o") == [
        "Level 2 (senior_billing_manager): Bo would also be needed for another level; one "
        "person may not approve two levels of a memo."]
    assert staffing_conflicts([DIR], [both], preparer_id="p", opener_id="o") == [
        "Level 1 (director_revops): nobody holds director_revops."]
    assert staffing_conflicts([BM], [bea], preparer_id="x", opener_id="u-bm") == [
        "Level 1 (billing_manager): everyone holding billing_manager is a party to this memo "
        "(Bea opened its dispute)."]
