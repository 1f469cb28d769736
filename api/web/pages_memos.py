"""The credit memo as a document: number, account, invoice, lines, amounts and approvals,
as a page and as a printable version (``?print=1``: no navigation, print stylesheet).

Read from the stored memo tables rather than the dispute's current view, so a memo that was
later voided or replaced still renders exactly as it was — a document must not change
because the dispute moved on.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import SettingsDep
from api.errors import AppError
from api.web.auth import page_user
from api.web.render import PAGE_ROLES, PageRoute, render
from db import billing
from db.approval_chains import levels_by_memo
from db.models import Account, CreditMemo, CreditMemoLine, LedgerPosting
from db.session import session_scope
from db.users import Principal, user_names
from domain.money import from_minor

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Reader = Annotated[Principal, Depends(page_user(*PAGE_ROLES["/disputes"]))]


def memo_document(session: Session, number: str) -> dict[str, Any]:
    """The memo, its lines (with the invoice lines they credit), levels and postings."""
    memo = session.get(CreditMemo, number)
    if memo is None:
        raise AppError("not_found", f"There is no credit memo {number}.")
    invoice = billing.load_invoice(session, memo.invoice_number)
    billed = {ln.id: ln for ln in invoice.lines} if invoice else {}
    lines = [{"line_id": ln.line_id, "amount": str(from_minor(ln.amount_minor, memo.currency)),
              "invoice_line": billed.get(ln.line_id)}
             for ln in session.scalars(select(CreditMemoLine)
                                       .where(CreditMemoLine.memo_number == number)
                                       .order_by(CreditMemoLine.line_id))]
    levels = levels_by_memo(session, [number]).get(number, [])
    account = session.get(Account, memo.account_id)
    refs = list(session.scalars(select(LedgerPosting.reference)
                                .where(LedgerPosting.memo_number == number)))
    names = user_names(session, {memo.preparer_id} | {lv.approver_id or "" for lv in levels}
                       | {lv.delegate_of or "" for lv in levels})
    return {
        "title": f"Credit memo {number}", "memo": memo, "lines": lines, "levels": levels,
        "account": account, "invoice": invoice, "ledger_references": refs, "names": names,
        "total": str(from_minor(memo.total_minor, memo.currency)),
        "base_total": str(from_minor(memo.base_total_minor, memo.base_currency)),
        "reasons": (memo.chain or {}).get("reasons") or [],
    }


@router.get("/credit-memos/{number}")
def memo_page(number: str, request: Request, _: Reader, settings: SettingsDep,
              printable: Annotated[bool, Query(alias="print")] = False) -> Response:
    """Any signed-in role may read a credit memo (as any may read its dispute)."""
    if len(number) > 40:
        raise AppError("not_found", "There is no such credit memo.")
    with session_scope(settings.database_url, readonly=True) as session:
        ctx = memo_document(session, number)
    return render(request, "credit_memo.html", {**ctx, "printable": printable})
