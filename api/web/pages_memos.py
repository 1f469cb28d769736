"""The credit memo as a document: number, issuer, account, the original invoice and its
lines, amounts and tax, approvals and the ledger's reference — as a page, a printable page
(``?print=1``: no navigation, print stylesheet) and a PDF (``/credit-memos/{number}.pdf``),
all from one template (``api/memo_document.py``). A memo the ledger refused shows the
ledger's reason and, to those who may, a button that re-posts it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api import commands
from api.deps import CommandsDep, SettingsDep
from api.errors import AppError
from api.memo_document import memo_document, pdf_response, render_pdf
from api.schemas import RepostIn
from api.web.auth import Posted, form_user, page_user
from api.web.forms import flash, flash_refusal, new_form_key
from api.web.render import PAGE_ROLES, PageRoute, render
from db.session import session_scope
from db.users import Principal
from workflows.rules import REPOST_ROLES

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Reader = Annotated[Principal, Depends(page_user(*PAGE_ROLES["/disputes"]))]
Reposter = Annotated[Posted, Depends(form_user(*REPOST_ROLES))]


# Before /credit-memos/{number}: that path would take "CM-1.pdf" as a memo number.
@router.get("/credit-memos/{number}.pdf")
async def memo_pdf_page(number: str, request: Request, _: Reader,
                        settings: SettingsDep) -> Response:
    """Any signed-in role may read a credit memo, on paper too."""
    pdf = await run_in_threadpool(render_pdf, settings, number,
                                  getattr(request.state, "timezone", "UTC"))
    return pdf_response(pdf, number)


@router.get("/credit-memos/{number}")
def memo_page(number: str, request: Request, principal: Reader, settings: SettingsDep,
              printable: Annotated[bool, Query(alias="print")] = False) -> Response:
    """Any signed-in role may read a credit memo (as any may read its dispute)."""
    with session_scope(settings.database_url, readonly=True) as session:
        ctx = memo_document(session, number, settings)
    may_repost = principal.has(*REPOST_ROLES)
    return render(request, "credit_memo.html", {**ctx, "printable": printable,
                                                "may_repost": may_repost,
                                                "form_key": new_form_key()})


@router.post("/credit-memos/{number}/repost")
async def repost_from_form(number: str, posted: Reposter, cmd: CommandsDep) -> Response:
    """Re-post through the command layer; the outcome is a notice on the memo's page."""
    response = RedirectResponse(f"/credit-memos/{number}", status_code=303)
    try:
        body = RepostIn.model_validate({"comment": posted.text("comment")})
        outcome = await commands.repost(cmd, principal=posted.principal, memo_number=number,
                                        comment=body.comment, channel="web",
                                        key=posted.key())
    except (ValidationError, AppError) as exc:
        flash_refusal(response, exc)
    else:
        memo = outcome.view.credit_memo
        refused = memo is not None and memo.status == "posting_failed"
        flash(response, outcome.message, kind="error" if refused else "ok")
    return response
