"""Reading a past window of credit memos for the policy back-test (``approvals.backtest``).

Nothing is written and no workflow is touched: the memos, their levels, the disputes' openers,
the policy versions that chose each chain and today's approvers are read, handed to the pure
back-test, and the result is returned. Memos are walked in the same keyset batches as the
control test (:func:`db.approval_chains.memo_batches`), each batch loading what it needs with
one query per table.

Voided memos are left out: a voided memo was superseded by its revision (which is in the
window itself) or withdrawn, so counting it would count one credit twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from approvals.backtest import BacktestResult, PastCredit, PastMemo, Person, backtest
from approvals.policy import Policy, parse_policy
from db.approval_chains import levels_by_memo, memo_batches, one_of
from db.models import ApprovalLevel, CreditMemo, Dispute, PolicyVersion, User, table
from domain.money import from_minor

__all__ = ["BACKTESTED_STATUSES", "PolicyBacktest", "run_backtest"]

BACKTESTED_STATUSES = ("pending_approval", "approved", "posted", "rejected")
_MEMOS, _LEVELS, _DISPUTES = table(CreditMemo), table(ApprovalLevel), table(Dispute)


class PolicyBacktest(BacktestResult):
    """The back-test of one proposal over ``[start, end)`` (memo creation times)."""

    start: datetime
    end: datetime


def run_backtest(session: Session, *, document: dict[str, Any], start: datetime,
                 end: datetime) -> PolicyBacktest:
    """Back-test the policy ``document`` (raises :class:`~approvals.policy.PolicyError` if it
    is not a valid policy, as applying it would) over the memos created in ``[start, end)``."""
    if end <= start:
        raise ValueError("the end of the window must be after its start")
    proposal = parse_policy(document)
    window_days: dict[int, int | None] = {}
    memos: list[PastMemo] = []
    credits: dict[str, PastCredit] = {}
    for batch in memo_batches(session, start=start, end=end, statuses=BACKTESTED_STATUSES):
        memos.extend(_past_memos(session, batch, window_days))
        if any(m.window_days != proposal.aggregation_window_days
               or m.window_total_base is None for m in memos[-len(batch):]):
            for credit in _credits(session, proposal, batch):
                credits[credit.number] = credit
    result = backtest(proposal, memos, credits=list(credits.values()),
                      people=_approvers(session, proposal, memos))
    return PolicyBacktest(start=start, end=end, **dict(result))


def _past_memos(session: Session, batch: Sequence[Row[Any]],
                window_days: dict[int, int | None]) -> Iterator[PastMemo]:
    levels = levels_by_memo(session, [m.number for m in batch],
                            columns=[_LEVELS.c.memo_number, _LEVELS.c.role])
    openers = dict(session.execute(select(_DISPUTES.c.id, _DISPUTES.c.opened_by).where(
        one_of(session, _DISPUTES.c.id, sorted({m.dispute_id for m in batch})))).all())
    for memo in batch:
        if memo.policy_version not in window_days:
            window_days[memo.policy_version] = _window_days(session, memo.policy_version)
        chain = memo.chain if isinstance(memo.chain, dict) else {}
        recorded = chain.get("window_total_base")
        yield PastMemo(
            number=memo.number, dispute_id=memo.dispute_id, account_id=memo.account_id,
            status=memo.status, created_at=memo.created_at, base_currency=memo.base_currency,
            amount_base=from_minor(memo.base_total_minor, memo.base_currency),
            policy_version=memo.policy_version, tier_min=memo.tier_min,
            levels=[lv.role for lv in levels.get(memo.number, [])],
            prior_period=memo.prior_period,
            closed_periods=list(chain.get("closed_periods") or []),
            window_total_base=None if recorded is None else Decimal(str(recorded)),
            window_days=window_days[memo.policy_version],
            preparer_id=memo.preparer_id, opener_id=openers.get(memo.dispute_id, ""))


def _window_days(session: Session, version: int) -> int | None:
    """The aggregation window of a stored policy version; ``None`` if it cannot be read (the
    back-test then recomputes the window total rather than trust it)."""
    row = session.get(PolicyVersion, version)
    days = row.document.get("aggregation_window_days", 30) if row is not None else None
    return days if isinstance(days, int) else None


def _credits(session: Session, proposal: Policy,
             batch: Sequence[Row[Any]]) -> list[PastCredit]:
    """Every memo of the batch's accounts that a recomputed window of the batch could hold,
    with when it stopped counting: a rejected memo at its rejection, a voided one when its
    revision was created or, withdrawn, when its dispute closed."""
    since = batch[0].created_at - timedelta(days=proposal.aggregation_window_days)
    rows = session.execute(
        select(_MEMOS.c.number, _MEMOS.c.dispute_id, _MEMOS.c.account_id,
               _MEMOS.c.status, _MEMOS.c.created_at, _MEMOS.c.base_currency,
               _MEMOS.c.base_total_minor)
        .where(one_of(session, _MEMOS.c.account_id, sorted({m.account_id for m in batch})),
               _MEMOS.c.created_at >= since, _MEMOS.c.created_at <= batch[-1].created_at)
    ).all()
    rejected = [r.number for r in rows if r.status == "rejected"]
    voided = [r for r in rows if r.status == "voided"]
    rejected_at = dict(session.execute(
        select(_LEVELS.c.memo_number, func.max(_LEVELS.c.decided_at))
        .where(one_of(session, _LEVELS.c.memo_number, rejected),
               _LEVELS.c.status == "rejected")
        .group_by(_LEVELS.c.memo_number)).all()) if rejected else {}
    voided_at: dict[str, datetime | None] = {}
    if voided:
        disputes = sorted({r.dispute_id for r in voided})
        later = session.execute(select(_MEMOS.c.dispute_id, _MEMOS.c.created_at).where(
            one_of(session, _MEMOS.c.dispute_id, disputes))).all()
        closed = dict(session.execute(select(_DISPUTES.c.id, _DISPUTES.c.closed_at).where(
            one_of(session, _DISPUTES.c.id, disputes))).all())
        for r in voided:
            revisions = [at for d, at in later if d == r.dispute_id and at > r.created_at]
            voided_at[r.number] = min(revisions) if revisions else closed.get(r.dispute_id)
    return [PastCredit(number=r.number, dispute_id=r.dispute_id, account_id=r.account_id,
                       created_at=r.created_at, base_currency=r.base_currency,
                       amount_base=from_minor(r.base_total_minor, r.base_currency),
                       ended_at=rejected_at.get(r.number) or voided_at.get(r.number))
            for r in rows]


def _approvers(session: Session, proposal: Policy, memos: Sequence[PastMemo]) -> list[Person]:
    """Active users holding a role of any chain, recorded or proposed."""
    roles = set(proposal.levels) | {role for m in memos for role in m.levels}
    people = []
    for uid, name, held in session.execute(
            select(User.id, User.name, User.roles).where(User.active.is_(True))
            .order_by(User.id)):
        mine = [r for r in (held or []) if r in roles]
        if mine:
            people.append(Person(id=uid, name=name, roles=mine))
    return people
