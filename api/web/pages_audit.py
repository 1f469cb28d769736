"""The auditors' page: approval chains by month (filters, paging, export links), and on
request the audit-log verification and the approval control test, each with its time.

Why the checks run on request rather than on every visit: both walk everything (the whole
hash chain; every approved memo of the month), which at production size takes far longer
than a page should, and an auditor wants a result they asked for at a time they know —
the page states when it was computed. The export links point at the API, which accepts the
session cookie for reads, so the files download straight from the page.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from api.deps import SettingsDep
from api.web.auth import page_user
from api.web.render import PAGE_ROLES, PageRoute, render
from db import audit
from db.approval_chains import levels_by_memo
from db.control_test import run_control_test
from db.models import CreditMemo
from db.session import session_scope
from db.users import Principal, user_names
from domain.codes import MemoStatus
from domain.money import from_minor

router = APIRouter(route_class=PageRoute, include_in_schema=False)
AuditorPage = Annotated[Principal, Depends(page_user(*PAGE_ROLES["/audit"]))]
PAGE_SIZE = 50
MEMO_STATUSES: tuple[str, ...] = MemoStatus.__args__  # type: ignore[attr-defined]
EXPORT = "/api/v1/audit/approval-chains"


def month_bounds(month: str, now: datetime) -> tuple[str, datetime, datetime, str | None]:
    """``YYYY-MM`` → (month, first instant, first instant of the next month, problem)."""
    problem = None
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        if month:
            problem = "Choose a month (YYYY-MM)."
        start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 \
        else start.replace(month=start.month + 1)
    return start.strftime("%Y-%m"), start, end, problem


def _cursor(row: Any) -> str:
    raw = f"{row.created_at.isoformat()}|{row.number}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _after(cursor: str) -> tuple[datetime, str] | None:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        at, _, number = raw.partition("|")
        parsed = datetime.fromisoformat(at)
    except ValueError:
        return None
    return (parsed, number) if parsed.tzinfo is not None and number else None


def chains(session: Session, *, start: datetime, end: datetime, account_id: str | None,
           status: str | None, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of credit memos created in the month with their approval levels, oldest
    first, keyset-paged on ``(created_at, number)`` like the export."""
    query = select(CreditMemo).where(CreditMemo.created_at >= start, CreditMemo.created_at < end)
    if account_id:
        query = query.where(CreditMemo.account_id == account_id)
    if status:
        query = query.where(CreditMemo.status == status)
    after = _after(cursor) if cursor else None
    if after:
        query = query.where(or_(CreditMemo.created_at > after[0],
                                and_(CreditMemo.created_at == after[0],
                                     CreditMemo.number > after[1])))
    rows = list(session.scalars(query.order_by(CreditMemo.created_at, CreditMemo.number)
                                .limit(PAGE_SIZE + 1)))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    levels = levels_by_memo(session, [r.number for r in rows])
    memos = [{
        "number": r.number, "dispute_id": r.dispute_id, "account_id": r.account_id,
        "invoice_number": r.invoice_number, "status": r.status, "created_at": r.created_at,
        "total": str(from_minor(r.total_minor, r.currency)), "currency": r.currency,
        "base_total": str(from_minor(r.base_total_minor, r.base_currency)),
        "base_currency": r.base_currency, "fx_rate": r.fx_rate, "fx_as_of": r.fx_as_of,
        "policy_version": r.policy_version, "tier_min": r.tier_min,
        "preparer_id": r.preparer_id, "reasons": (r.chain or {}).get("reasons") or [],
        "levels": levels.get(r.number, []),
    } for r in rows]
    return memos, (_cursor(rows[-1]) if more and rows else None)


def _checks(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    verified = audit.verify(session)
    control = run_control_test(session, start=start, end=end)
    return {"verify": verified, "control": control, "checked_at": datetime.now(UTC)}


@router.get("/audit")
def audit_page(request: Request, _: AuditorPage, settings: SettingsDep) -> Response:
    """Chains of a month (default: this one); ``check=1`` also runs the two controls."""
    params = request.query_params
    month, start, end, problem = month_bounds(params.get("month", "").strip(), datetime.now(UTC))
    account_id = params.get("account_id", "").strip()[:64] or None
    status = params.get("status", "").strip()
    errors = {"month": problem} if problem else {}
    if status and status not in MEMO_STATUSES:
        errors["status"] = "Choose a status from the list."
        status = ""
    cursor = params.get("cursor") or None
    with session_scope(settings.database_url, readonly=True) as session:
        memos, next_cursor = chains(session, start=start, end=end, account_id=account_id,
                                    status=status or None, cursor=cursor)
        ids = {m["preparer_id"] for m in memos}
        ids |= {lv.approver_id or "" for m in memos for lv in m["levels"]}
        ids |= {lv.delegate_of or "" for m in memos for lv in m["levels"]}
        names = user_names(session, ids)
        checks = _checks(session, start, end) if params.get("check") == "1" else None
    window = {"from": start.isoformat().replace("+00:00", "Z"),
              "to": end.isoformat().replace("+00:00", "Z")}
    kept = {k: v for k, v in {"month": month, "account_id": account_id or "",
                              "status": status}.items() if v}
    return render(request, "audit.html", {
        "title": "Audit", "month": month, "account_id": account_id or "", "status": status,
        "statuses": MEMO_STATUSES, "errors": errors, "memos": memos, "names": names,
        "checks": checks, "start": start, "end": end,
        "csv_url": f"{EXPORT}?{urlencode({**window, 'format': 'csv'})}",
        "json_url": f"{EXPORT}?{urlencode({**window, 'format': 'json'})}",
        "check_url": f"/audit?{urlencode({**kept, 'check': '1'})}",
        "next_url": f"/audit?{urlencode({**kept, 'cursor': next_cursor})}"
        if next_cursor else None,
        "first_url": f"/audit?{urlencode(kept)}" if cursor else None,
    }, status=422 if errors else 200)
