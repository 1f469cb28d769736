"""Which approval levels the signed-in user may decide now: the "My approvals" queue.

The workflow's validator is the authority on every decision; this module only finds the
candidates, from the read model, with the same notion of authority: a pending or escalated
level whose role the user holds, or holds through a delegation active now, or — once
escalated — whose backup role (``escalate_to``) the user holds either way. Rows where
segregation of duties will refuse the user stay in the list with the reason, in the
validator's words: the same rule (``approvals/sod.py``) is asked, so the refusal is
explained up front rather than discovered.

Two indexed queries, whatever the size of the backlog: levels by ``(role, status)``, then the
user's own earlier approvals of the listed memos. Only escalated rows read the dispute's
stored view (to learn the level's backup role).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from approvals.sod import DecisionContext, Delegation, check_decision
from db import billing, users
from db.models import ApprovalLevel, CreditMemo, Dispute, PolicyVersion
from db.users import Principal
from domain.codes import OPEN_LEVEL_STATUSES
from domain.dispute_view import DisputeView
from domain.findings import implied_by_line
from domain.money import from_minor

QUEUE_LIMIT = 200


@dataclass(frozen=True)
class Authority:
    """The roles a user can act in now: their own, lent by delegation, and the roles whose
    escalated levels fall back to one of those."""

    own: frozenset[str]
    delegated: dict[str, list[str]]  # role -> names of the users who lent it
    escalation_sources: frozenset[str]
    lent: tuple[users.Lent, ...] = ()  # the delegations themselves, for the SoD rule

    @property
    def roles(self) -> frozenset[str]:
        return self.own | frozenset(self.delegated)

    def acting_as(self, role: str, status: str, escalate_to: str | None) -> str | None:
        """How the user could decide a level (words for the page), or None if they cannot."""
        for candidate, how in ((role, ""), (escalate_to if status == "escalated" else None,
                                            " (escalation backup)")):
            if candidate is None:
                continue
            if candidate in self.own:
                return f"as {candidate.replace('_', ' ')}{how}"
            if candidate in self.delegated:
                return (f"as delegate of {', '.join(self.delegated[candidate])} "
                        f"({candidate.replace('_', ' ')}){how}")
        return None


def authority(session: Session, principal: Principal, now: datetime) -> Authority:
    """The user's roles now: own, lent by delegations active at ``now``, and the roles
    whose escalated levels fall back to one of those (in any policy version)."""
    delegated: dict[str, list[str]] = {}
    lent = users.lent_to(session, delegate_id=principal.id, at=now)
    for lender in lent:
        for role in lender.roles:
            delegated.setdefault(role, []).append(lender.name)
    roles = set(principal.roles) | set(delegated)
    sources: set[str] = set()
    # Every policy version: a memo keeps the version that chose its chain.
    for document in session.scalars(select(PolicyVersion.document)):
        for role, spec in (document.get("levels") or {}).items():
            if isinstance(spec, dict) and spec.get("escalate_to") in roles:
                sources.add(role)
    return Authority(frozenset(principal.roles), delegated, frozenset(sources), tuple(lent))


@dataclass
class QueueItem:
    """One row of the queue: the level, its memo, and how (or whether) the user may act."""

    dispute_id: str
    memo_number: str
    level: int
    levels_in_chain: int
    role: str
    status: str
    due_at: datetime | None
    account_id: str
    account_name: str
    invoice_number: str
    reason_code: str
    root_cause: str | None
    implied_credit: str | None  # what the automatic findings say the credit should be
    chain_reasons: list[str]
    total: str
    currency: str
    base_total: str
    base_currency: str
    acting_as: str
    sod_problems: list[str] = field(default_factory=list)


def sod_problems(principal: Principal, auth: Authority, *, at: datetime, role: str,
                 status: str, escalate_to: str | None, preparer_id: str, opener_id: str,
                 prior_approver_ids: list[str]) -> list[str]:
    """Why segregation of duties would refuse the user's approval of this level, in the
    validator's words (``approvals/sod.py``, the rule itself); empty when it would not."""
    verdict = check_decision(DecisionContext.for_level(
        actor_id=principal.id, actor_roles=list(principal.roles),
        delegations=[Delegation(principal_id=lent.user_id, principal_roles=lent.roles,
                                starts_at=lent.starts_at, ends_at=lent.ends_at)
                     for lent in auth.lent],
        at=at, level_role=role, level_status=status, escalate_to=escalate_to,
        preparer_id=preparer_id, opener_id=opener_id,
        prior_approver_ids=prior_approver_ids, decision="approve"))
    return [verdict.message] if verdict.code == "sod_violation" and verdict.message else []


def implied_credit(view: object) -> str | None:
    """The sum of the credits the automatic findings imply, in the dispute's currency;
    None before the findings are ready."""
    if not isinstance(view, dict) or not view.get("findings_ready"):
        return None
    return str(sum(implied_by_line(view.get("findings") or []).values(), Decimal(0)))


def decidable(session: Session, principal: Principal, now: datetime,
              limit: int = QUEUE_LIMIT) -> tuple[list[QueueItem], bool]:
    """The levels the user may decide, oldest due first; True when more than ``limit``."""
    auth = authority(session, principal, now)
    conditions = [and_(ApprovalLevel.role.in_(sorted(auth.roles)),
                       ApprovalLevel.status.in_(OPEN_LEVEL_STATUSES))]
    if auth.escalation_sources:
        conditions.append(and_(ApprovalLevel.role.in_(sorted(auth.escalation_sources)),
                               ApprovalLevel.status == "escalated"))
    rows = session.execute(
        select(ApprovalLevel, CreditMemo, Dispute.opened_by, Dispute.reason_code,
               Dispute.root_cause, Dispute.view)
        .join(CreditMemo, CreditMemo.number == ApprovalLevel.memo_number)
        .join(Dispute, Dispute.id == ApprovalLevel.dispute_id)
        .where(or_(*conditions), CreditMemo.status == "pending_approval")
        .order_by(ApprovalLevel.due_at.asc().nulls_last(), ApprovalLevel.memo_number)
        .limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    escalated = [row[0].dispute_id for row in rows if row[0].status == "escalated"]
    backups = _backup_roles(session, escalated)
    numbers = [row[1].number for row in rows]
    accounts = billing.account_names(session, {row[1].account_id for row in rows})
    chain_sizes: dict[str, int] = {}
    approvers: dict[str, list[tuple[int, str]]] = {}  # memo -> (level, approver) decided
    if numbers:
        for number, level, approver in session.execute(
                select(ApprovalLevel.memo_number, ApprovalLevel.level,
                       ApprovalLevel.approver_id)
                .where(ApprovalLevel.memo_number.in_(numbers))):
            chain_sizes[number] = chain_sizes.get(number, 0) + 1
            if approver:
                approvers.setdefault(number, []).append((level, approver))
    items = []
    for lv, memo, opener, reason, cause, view in rows:
        acting = auth.acting_as(lv.role, lv.status, backups.get((lv.dispute_id, lv.level)))
        if acting is None:
            continue
        items.append(QueueItem(
            dispute_id=lv.dispute_id, memo_number=memo.number, level=lv.level,
            levels_in_chain=chain_sizes.get(memo.number, lv.level), role=lv.role,
            status=lv.status, due_at=lv.due_at, account_id=memo.account_id,
            account_name=accounts.get(memo.account_id, memo.account_id),
            invoice_number=memo.invoice_number, reason_code=reason, root_cause=cause,
            implied_credit=implied_credit(view), chain_reasons=list(
                (memo.chain or {}).get("reasons") or [] if isinstance(memo.chain, dict) else []),
            total=str(from_minor(memo.total_minor, memo.currency)), currency=memo.currency,
            base_total=str(from_minor(memo.base_total_minor, memo.base_currency)),
            base_currency=memo.base_currency, acting_as=acting,
            sod_problems=sod_problems(
                principal, auth, at=now, role=lv.role, status=lv.status,
                escalate_to=backups.get((lv.dispute_id, lv.level)),
                preparer_id=memo.preparer_id, opener_id=opener,
                prior_approver_ids=[who for n, who in sorted(approvers.get(memo.number, []))
                                    if n < lv.level])))
    return items, more


def _backup_roles(session: Session, dispute_ids: list[str]) -> dict[tuple[str, int], str]:
    """``escalate_to`` of each level of these disputes, from their stored views."""
    if not dispute_ids:
        return {}
    found: dict[tuple[str, int], str] = {}
    for dispute_id, view in session.execute(
            select(Dispute.id, Dispute.view).where(Dispute.id.in_(dispute_ids))):
        for level in view.get("approvals") or []:
            if level.get("escalate_to"):
                found[(dispute_id, int(level["level"]))] = str(level["escalate_to"])
    return found


def decision_for(session: Session, principal: Principal, view: DisputeView,
                 now: datetime) -> dict[str, Any] | None:
    """For the dispute page: the level the user may decide now and how, or None."""
    level = view.pending
    if level is None or view.credit_memo is None:
        return None
    auth = authority(session, principal, now)
    acting = auth.acting_as(level.role, level.status, level.escalate_to)
    if acting is None:
        return None
    return {"level": level, "acting_as": acting, "sod_problems": sod_problems(
        principal, auth, at=now, role=level.role, status=level.status,
        escalate_to=level.escalate_to, preparer_id=view.credit_memo.preparer_id,
        opener_id=view.opened_by,
        prior_approver_ids=[lv.approver_id for lv in view.approvals
                            if lv.level < level.level and lv.approver_id])}
