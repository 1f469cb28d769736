"""The approval control test: who actually approved each credit memo, against the matrix.

The workflow enforces the delegation-of-authority matrix when a decision is made; an auditor
must not have to trust that. This module re-performs the control from the stored data alone
(the read model, users, delegations, the ledger and the policy version recorded on each memo)
for every credit memo that was approved (posted or not) in a period, and lists each exception as a
sentence a person understands plus the evidence behind it. Rejected and voided memos are
skipped: they were never approved, so no control over an approval applies to them.

Authority is judged at decision time: the roles each approver (and each lender of authority)
held when the level was decided, from the role history (``db.roles``), so a role removed
since is not an exception and a role granted only after the decision is.

Memos are walked in keyset batches (see :func:`db.approval_chains.memo_batches`); each batch
loads its levels, users, delegations, postings and line sums with one query each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from approvals.chain import select_chain
from approvals.policy import Policy, PolicyError, parse_policy
from db.approval_chains import levels_by_memo, memo_batches
from db.models import CreditMemoLine, Delegation, Dispute, LedgerPosting, PolicyVersion
from db.roles import Held, held_at, periods
from domain.codes import APPROVED_MEMO_STATUSES
from domain.money import MoneyError, fmt, from_minor

__all__ = ["CHECKS", "ControlException", "ControlTestResult", "run_control_test"]

CHECKS = ("chain_matches_policy", "all_levels_approved", "approver_authorized",
          "segregation_of_duties", "approved_after_prepared", "posted_equals_approved")


class ControlException(BaseModel):
    """One failed check on one credit memo: what is wrong, in words, and the stored facts."""

    credit_memo: str
    dispute_id: str
    check: str
    message: str
    evidence: dict[str, Any]


class ControlTestResult(BaseModel):
    """The period tested, how many approved/posted memos it held, and every exception."""

    start: datetime | None
    end: datetime | None
    memos_checked: int
    exceptions: list[ControlException]
    ok: bool


_Found = list[tuple[str, str, dict[str, Any]]]  # (check, message, evidence) per failure


@dataclass
class _Facts:
    """What one batch of memos needs from other tables, loaded once per batch."""

    levels: dict[str, list[Row[Any]]]
    openers: dict[str, str]
    held: dict[str, list[Held]]
    delegations: dict[tuple[str, str], list[tuple[datetime, datetime]]]
    postings: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    line_sums: dict[str, int] = field(default_factory=dict)


def run_control_test(
    session: Session, *, start: datetime | None, end: datetime | None
) -> ControlTestResult:
    """Check every approved or posted memo created in ``[start, end)``; ``ok`` if none fail."""
    policies: dict[int, Policy | str] = {}
    exceptions: list[ControlException] = []
    checked = 0
    for memos in memo_batches(session, start=start, end=end, statuses=APPROVED_MEMO_STATUSES):
        facts = _load(session, memos)
        for memo in memos:
            checked += 1
            if memo.policy_version not in policies:
                policies[memo.policy_version] = _policy(session, memo.policy_version)
            exceptions.extend(_check_memo(memo, facts, policies[memo.policy_version]))
    return ControlTestResult(start=start, end=end, memos_checked=checked,
                             exceptions=exceptions, ok=not exceptions)


def _policy(session: Session, version: int) -> Policy | str:
    """The parsed policy, or why it cannot be used (reported, not raised: one bad version
    must not hide the exceptions of every other memo)."""
    row = session.get(PolicyVersion, version)
    if row is None:
        return f"policy version {version} is not in policy_versions"
    try:
        return parse_policy(row.document)
    except PolicyError as err:
        return f"policy version {version} does not parse: {err}"


def _load(session: Session, memos: Sequence[Row[Any]]) -> _Facts:
    numbers = [m.number for m in memos]
    levels = levels_by_memo(session, numbers)
    all_levels = [lv for chain in levels.values() for lv in chain]
    people = {p for lv in all_levels for p in (lv.approver_id, lv.delegate_of) if p}
    delegates = {lv.approver_id for lv in all_levels if lv.delegate_of and lv.approver_id}
    dispute_ids = {m.dispute_id for m in memos}
    facts = _Facts(
        levels=levels,
        openers={i: o for i, o in session.execute(
            select(Dispute.id, Dispute.opened_by).where(Dispute.id.in_(dispute_ids)))},
        held=periods(session, people),
        delegations=defaultdict(list),
    )
    for d in session.execute(select(Delegation.user_id, Delegation.delegate_id,
                                    Delegation.starts_at, Delegation.ends_at)
                             .where(Delegation.delegate_id.in_(delegates))):
        facts.delegations[(d.user_id, d.delegate_id)].append((d.starts_at, d.ends_at))
    posted = [m.number for m in memos if m.status == "posted"]
    for p in session.execute(select(LedgerPosting.memo_number, LedgerPosting.reference,
                                    LedgerPosting.currency, LedgerPosting.amount_minor)
                             .where(LedgerPosting.memo_number.in_(posted))):
        facts.postings[p.memo_number].append(p)
    facts.line_sums = {n: int(s or 0) for n, s in session.execute(
        select(CreditMemoLine.memo_number, func.sum(CreditMemoLine.amount_minor))
        .where(CreditMemoLine.memo_number.in_(posted)).group_by(CreditMemoLine.memo_number))}
    return facts


def _check_memo(memo: Row[Any], facts: _Facts, policy: Policy | str) -> list[ControlException]:
    levels = facts.levels.get(memo.number, [])
    found: _Found = []
    found += _chain_matches_policy(memo, levels, policy)
    pending = [{"level": lv.level, "role": lv.role, "status": lv.status}
               for lv in levels if lv.status != "approved"]
    if pending:
        said = "; ".join(f"level {p['level']} ({p['role']}) is {p['status']}" for p in pending)
        found.append(("all_levels_approved", f"Credit memo {memo.number} is {memo.status} but "
                      f"not every level approved it: {said}.", {"levels": pending}))
    decided = [lv for lv in levels if lv.approver_id or lv.status == "approved"]
    found += _approver_authorized(memo, decided, facts, policy)
    found += _segregation(memo, decided, facts.openers.get(memo.dispute_id))
    late = [{"level": lv.level, "decided_at": _iso(lv.decided_at)} for lv in decided
            if lv.decided_at is None or lv.decided_at < memo.created_at]
    if late:
        said = "; ".join(f"level {x['level']} was decided at {x['decided_at'] or 'no time'}"
                         for x in late)
        found.append(("approved_after_prepared", f"Credit memo {memo.number} was created at "
                      f"{_iso(memo.created_at)}, after its approval ({said}): it changed after "
                      "approval and was not re-approved.",
                      {"memo_created_at": _iso(memo.created_at), "levels": late}))
    if memo.status == "posted":
        found += _posted_equals_approved(memo, facts)
    return [ControlException(credit_memo=memo.number, dispute_id=memo.dispute_id, check=c,
                             message=m, evidence=e) for c, m, e in found]


def _chain_matches_policy(memo: Row[Any], levels: list[Row[Any]], policy: Policy | str) -> _Found:
    actual = [lv.role for lv in levels]
    evidence: dict[str, Any] = {"actual": actual, "tier_min": str(memo.tier_min),
                                "policy_version": memo.policy_version}
    chain = memo.chain if isinstance(memo.chain, dict) else {}
    base = from_minor(memo.base_total_minor, memo.base_currency)
    try:
        if isinstance(policy, str):
            raise ValueError(policy)
        decision = select_chain(
            policy, amount_base=base,
            window_total_base=Decimal(str(chain.get("window_total_base", "0"))),
            prior_period=memo.prior_period,
            closed_periods_hit=list(chain.get("closed_periods") or []))
    except (ValueError, TypeError, ArithmeticError) as err:
        return [("chain_matches_policy", f"The chain of credit memo {memo.number} cannot be "
                 f"recomputed: {err}.", {**evidence, "expected": None, "error": str(err)})]
    if decision.levels == actual:
        return []
    return [("chain_matches_policy", f"Credit memo {memo.number} ({fmt(base, memo.base_currency)}"
             f") went through {', '.join(actual) or 'no approval level'}, but policy version "
             f"{memo.policy_version} requires {', '.join(decision.levels) or 'no level'}.",
             {**evidence, "expected": decision.levels,
              "expected_tier_min": str(decision.tier_min)})]


def _approver_authorized(
    memo: Row[Any], decided: list[Row[Any]], facts: _Facts, policy: Policy | str
) -> _Found:
    """Role held directly when deciding, or lent by a delegation active then by someone who
    held it then; a level's one-step escalation role counts too, as the workflow allows it
    once the level's SLA is breached."""
    problems: list[str] = []
    evidence: list[dict[str, Any]] = []
    for lv in decided:
        allowed = [lv.role]
        if isinstance(policy, Policy) and lv.role in policy.levels:
            allowed += policy.escalation_roles(lv.role)
        at = lv.decided_at
        roles = held_at(facts.held, lv.approver_id or "", at)
        if lv.approver_id and set(roles) & set(allowed):
            continue
        windows = facts.delegations.get((lv.delegate_of or "", lv.approver_id or ""), [])
        principal_roles = held_at(facts.held, lv.delegate_of or "", at)
        if (lv.delegate_of and at is not None and set(principal_roles) & set(allowed)
                and any(s <= at < e for s, e in windows)):
            continue
        who = lv.approver_id or "nobody recorded"
        via = (f" and no delegation from {lv.delegate_of}, holding it then, was active at "
               f"{_iso(at)}" if lv.delegate_of else "")
        then = ", ".join(roles) or "no role (or is not a known user)"
        problems.append(f"level {lv.level} needs {' or '.join(allowed)} but was approved by "
                        f"{who}, who held {then} when deciding{via}")
        evidence.append({"level": lv.level, "required_role": lv.role, "allowed_roles": allowed,
                         "approver_id": lv.approver_id, "approver_roles": roles,
                         "delegate_of": lv.delegate_of, "delegate_of_roles": principal_roles,
                         "role_history": {p: [_period(h) for h in facts.held.get(p, [])]
                                          for p in (lv.approver_id, lv.delegate_of) if p},
                         "decided_at": _iso(at),
                         "delegations": [[_iso(s), _iso(e)] for s, e in windows]})
    if not problems:
        return []
    return [("approver_authorized", f"Credit memo {memo.number} was approved without the "
             f"authority the matrix requires: {'; '.join(problems)}.", {"levels": evidence})]


def _segregation(memo: Row[Any], decided: list[Row[Any]], opener: str | None) -> _Found:
    """Nobody approves what they prepared or opened, lends authority for it, or approves two
    levels of one memo (nor lends authority to a later level after approving an earlier one)."""
    problems: list[str] = []
    approvers: dict[str, int] = {}
    for lv in decided:
        for person, how in ((lv.approver_id, "approved"), (lv.delegate_of, "lent authority for")):
            if person and person == memo.preparer_id:
                problems.append(f"{person} {how} level {lv.level} and prepared the memo")
            if person and person == opener:
                problems.append(f"{person} {how} level {lv.level} and opened the dispute")
        if lv.delegate_of and lv.delegate_of in approvers:
            problems.append(f"{lv.delegate_of} approved level {approvers[lv.delegate_of]} and "
                            f"lent authority for level {lv.level}")
        if lv.approver_id in approvers:
            problems.append(f"{lv.approver_id} approved both level {approvers[lv.approver_id]} "
                            f"and level {lv.level}")
        elif lv.approver_id:
            approvers[lv.approver_id] = lv.level
    if not problems:
        return []
    return [("segregation_of_duties", f"Segregation of duties was broken on credit memo "
             f"{memo.number}: {'; '.join(problems)}.",
             {"preparer_id": memo.preparer_id, "opened_by": opener, "problems": problems,
              "levels": [{"level": lv.level, "approver_id": lv.approver_id,
                          "delegate_of": lv.delegate_of} for lv in decided]})]


def _posted_equals_approved(memo: Row[Any], facts: _Facts) -> _Found:
    total = fmt(from_minor(memo.total_minor, memo.currency), memo.currency)
    postings = facts.postings.get(memo.number, [])
    line_sum = facts.line_sums.get(memo.number, 0)
    problems: list[str] = []
    if len(postings) != 1:
        problems.append(f"the ledger holds {len(postings)} postings for it instead of one")
    for p in postings:
        if p.amount_minor != memo.total_minor or p.currency != memo.currency:
            amount = _money(p.amount_minor, p.currency)
            problems.append(f"posting {p.reference} is {amount}, not the approved {total}")
    if line_sum != memo.total_minor:
        lines = fmt(from_minor(line_sum, memo.currency), memo.currency)
        problems.append(f"its lines add up to {lines}, not the approved {total}")
    if not problems:
        return []
    return [("posted_equals_approved", f"Posted credit memo {memo.number} does not match what "
             f"was approved: {'; '.join(problems)}.",
             {"approved_total": str(from_minor(memo.total_minor, memo.currency)),
              "currency": memo.currency,
              "lines_total": str(from_minor(line_sum, memo.currency)),
              "postings": [{"reference": p.reference, "currency": p.currency,
                            "amount_minor": p.amount_minor}
                           for p in postings]})]


def _money(minor: int, currency: str) -> str:
    """Human amount; a currency the money module refuses is shown raw, never crashes the test."""
    try:
        return fmt(from_minor(minor, currency), currency)
    except MoneyError:
        return f"{minor} minor units of {currency!r}"


def _period(h: Held) -> dict[str, Any]:
    return {"role": h.role, "granted_at": _iso(h.granted_at), "removed_at": _iso(h.removed_at)}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None
