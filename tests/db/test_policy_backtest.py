"""The policy back-test over a prepared history in the database (tests/support/
backtest_history.py): the policy in force reproduces it, a longer window recomputes the same
totals from the stored memos, and two proposals give the documented result."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from approvals.policy import DEFAULT_POLICY_DOCUMENT, PolicyError
from db.models import CreditMemo
from db.policy_backtest import PolicyBacktest, run_backtest
from db.session import session_scope
from tests.support.backtest_history import BM, CTRL, DIR, END, IN_WINDOW, SBM, START, write_history


@pytest.fixture
def url(db_url: str) -> str:
    write_history(db_url)
    return db_url


def proposal(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    document.update(changes)
    return document


def run(url: str, document: dict[str, Any]) -> PolicyBacktest:
    with session_scope(url, readonly=True) as s:
        return run_backtest(s, document=document, start=START, end=END)


def test_the_policy_in_force_reproduces_the_window(url: str) -> None:
    result = run(url, proposal())
    assert [m.number for m in result.memos] == IN_WINDOW
    assert {m.change for m in result.memos} == {"same"}
    assert not any(m.window_recomputed for m in result.memos)
    assert (result.start, result.end) == (START, END)
    assert result.summary.memos == 8 and result.summary.same == 8


def test_a_longer_window_recomputes_the_recorded_totals_from_stored_memos(url: str) -> None:
    """31 days holds the same credits as 30 on this history, so every recomputed total must
    equal the recorded one: the rejected CM-2 stops counting at its rejection, the withdrawn
    CM-10 at its dispute's close, the revised CM-7 when CM-8 replaced it."""
    result = run(url, proposal(aggregation_window_days=31))
    assert all(m.window_recomputed for m in result.memos)
    assert [(m.number, m.window_total_base_proposed) for m in result.memos] == [
        (m.number, m.window_total_base_then) for m in result.memos]
    assert {m.change for m in result.memos} == {"same"}


def test_no_aggregation_shows_which_memos_the_window_pushed_up_a_tier(url: str) -> None:
    result = run(url, proposal(aggregation_window_days=0))
    fewer = {m.number: m.window_total_base_proposed
             for m in result.memos if m.change == "fewer"}
    assert fewer == {"CM-3": Decimal(0), "CM-4": Decimal(0)}


def test_raising_the_senior_threshold_takes_two_memos_off_the_senior_manager(url: str) -> None:
    tiers = copy.deepcopy(DEFAULT_POLICY_DOCUMENT["tiers"])
    tiers[1]["min"] = "10000"
    result = run(url, proposal(tiers=tiers))
    fewer = {m.number: m.chain_proposed for m in result.memos if m.change == "fewer"}
    assert fewer == {"CM-3": [BM], "CM-4": [BM]}
    load = {r.role: (r.recorded, r.proposed) for r in result.summary.load}
    assert load == {BM: (8, 8), SBM: (3, 1), DIR: (1, 1), CTRL: (1, 1)}
    assert result.summary.fewer_levels == 2 and result.summary.new_sod_conflicts == 0


def test_a_controller_on_every_memo_finds_the_memo_the_controller_prepared(url: str) -> None:
    tiers = copy.deepcopy(DEFAULT_POLICY_DOCUMENT["tiers"])
    tiers[0]["levels"] = [BM, CTRL]
    result = run(url, proposal(tiers=tiers))
    more = sorted(m.number for m in result.memos if m.change == "more")
    assert more == ["CM-1", "CM-11", "CM-2", "CM-8"]
    conflicts = {m.number: m.new_sod_conflicts for m in result.memos if m.new_sod_conflicts}
    assert conflicts == {"CM-1": ["Level 2 (controller): everyone holding controller is a "
                                  "party to this memo (Cy prepared it)."]}
    load = {r.role: r.change for r in result.summary.load}
    assert load[CTRL] == 4 and result.summary.new_sod_conflicts == 1


def test_the_back_test_writes_nothing(url: str) -> None:
    def memos() -> list[tuple[str, str, int]]:
        with session_scope(url) as s:
            return [(m.number, m.status, m.policy_version)
                    for m in s.query(CreditMemo).order_by(CreditMemo.number)]
    before = memos()
    run(url, proposal(aggregation_window_days=7))
    assert memos() == before


def test_an_invalid_proposal_is_refused_like_applying_it(url: str) -> None:
    with pytest.raises(PolicyError) as err:
        run(url, proposal(aggregation_window_days=400))
    assert any(p.field == "aggregation_window_days" for p in err.value.problems)


def test_amounts_stay_decimal(url: str) -> None:
    result = run(url, proposal())
    assert all(isinstance(m.amount_base, Decimal) for m in result.memos)
    assert result.memos[0].amount_base == Decimal("1000.00")
