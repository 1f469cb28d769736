"""The one read a command makes before its Update: the dispute as the read model has it
(without its timeline) and, for a decision, the delegations the person acts under."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.errors import AppError
from db import disputes, users
from db.models import CreditMemo
from db.users import Principal
from domain.codes import TERMINAL_STATUSES
from domain.dispute_view import DisputeView
from domain.models import DelegationGrant


def dispute(session: Session, *, dispute_id: str) -> DisputeView:
    stored = disputes.get_view(session, dispute_id, with_timeline=False)
    if stored is None:
        raise AppError("not_found", f"There is no dispute {dispute_id}.")
    return DisputeView.model_validate(stored)


def memo_dispute(session: Session, *, number: str) -> DisputeView:
    """The dispute a credit memo belongs to, as the read model has it (a re-post names the
    memo, not the dispute)."""
    dispute_id = session.scalar(select(CreditMemo.dispute_id).where(CreditMemo.number == number))
    if dispute_id is None:
        raise AppError("not_found", f"There is no credit memo {number}.")
    return dispute(session, dispute_id=dispute_id)


def closed(view: DisputeView) -> str | None:
    """Why a closed dispute takes no command (its workflow has ended), or None."""
    if view.status in TERMINAL_STATUSES:
        return f"Dispute {view.id} is {view.status}; it takes no more changes."
    return None


def grants(session: Session, *, principal: Principal, at: datetime) -> list[DelegationGrant]:
    """Authority lent to ``principal`` by delegations active at ``at``, for the validator
    (which has no database) to weigh."""
    return [DelegationGrant(principal_id=lent.user_id, principal_roles=lent.roles,
                            starts_at=lent.starts_at, ends_at=lent.ends_at)
            for lent in users.lent_to(session, delegate_id=principal.id, at=at)]


def decision_inputs(session: Session, *, dispute_id: str, principal: Principal,
                    at: datetime) -> tuple[DisputeView, list[DelegationGrant]]:
    """Both, in one transaction: a decision's only read."""
    return dispute(session, dispute_id=dispute_id), grants(session, principal=principal, at=at)
