"""Approvers' load: levels waiting per role and person, and how long levels take to decide."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from db.analytics_sql import mean_and_longest_seconds
from db.models import ApprovalLevel, User
from db.report_window import Window
from domain.codes import OPEN_LEVEL_STATUSES

__all__ = ["approver_workload", "decision_time"]

Row = dict[str, Any]


def approver_workload(session: Session, w: Window) -> list[Row]:
    """Per approval role and per person holding it: levels waiting now (those the person may
    decide: not on memos they prepared or disputes they opened), overdue among them, and the
    levels each decided in the window."""
    waiting = session.execute(
        select(ApprovalLevel.role, ApprovalLevel.memo_preparer_id,
               ApprovalLevel.dispute_opener_id, func.count(),
               func.sum(case((ApprovalLevel.due_at < w.now, 1), else_=0)))
        .where(ApprovalLevel.status.in_(OPEN_LEVEL_STATUSES))
        .group_by(ApprovalLevel.role, ApprovalLevel.memo_preparer_id,
                  ApprovalLevel.dispute_opener_id)).all()
    decided = session.execute(
        select(ApprovalLevel.role, ApprovalLevel.approver_id, func.count())
        .where(ApprovalLevel.approver_id.is_not(None), ApprovalLevel.decided_at.is_not(None),
               w.in_range(ApprovalLevel.decided_at))
        .group_by(ApprovalLevel.role, ApprovalLevel.approver_id)).all()
    roles = sorted({r for r, *_ in waiting} | {r for r, *_ in decided})
    people = [(uid, name, set(held or [])) for uid, name, held in session.execute(
        select(User.id, User.name, User.roles).where(User.active.is_(True))
        .order_by(User.name, User.id))]
    done = {(role, who): n for role, who, n in decided}
    out: list[Row] = []
    for role in roles:
        mine = [(p, o, n, late) for r, p, o, n, late in waiting if r == role]
        out.append({"role": role, "person_id": None, "person_name": None,
                    "waiting": sum(n for *_, n, _ in mine),
                    "overdue": sum(int(late or 0) for *_, late in mine),
                    "decided": sum(n for (r, _), n in done.items() if r == role)})
        for uid, name, held in people:
            if role not in held and not done.get((role, uid)):
                continue
            can = [(n, int(late or 0)) for p, o, n, late in mine
                   if role in held and uid not in (p, o)]
            out.append({"role": role, "person_id": uid, "person_name": name,
                        "waiting": sum(n for n, _ in can), "overdue": sum(x for _, x in can),
                        "decided": done.get((role, uid), 0)})
    return out


def decision_time(session: Session, w: Window) -> list[Row]:
    """Hours from a level becoming pending (its memo's creation for level 1, the decision on
    the level before it otherwise: ``pending_since``, written with the level) to its
    decision, for levels decided in the window, per level number and role (wall-clock
    hours; the SLA clocks count business time). One pass over the levels, no join."""
    mean, longest = mean_and_longest_seconds(session, ApprovalLevel.pending_since,
                                             ApprovalLevel.decided_at)
    rows = session.execute(
        select(ApprovalLevel.level, ApprovalLevel.role, func.count(), mean, longest)
        .where(ApprovalLevel.decided_at.is_not(None), ApprovalLevel.approver_id.is_not(None),
               # a level decided by a worker of the build before 0021 has none: not timed
               ApprovalLevel.pending_since.is_not(None),
               w.in_range(ApprovalLevel.decided_at))
        .group_by(ApprovalLevel.level, ApprovalLevel.role)).all()
    return [{"level": lv, "role": role, "decisions": n,
             "mean_hours": round(float(mean) / 3600, 2),
             "max_hours": round(float(longest) / 3600, 2)}
            for lv, role, n, mean, longest in sorted(rows, key=lambda r: (r[0], r[1]))]
