"""Credit memo routes: the document as a PDF, and the re-post of a memo the ledger refused.

``GET /api/v1/credit-memos/{number}.pdf`` (any role that reads disputes) is the web's
``/credit-memos/{number}.pdf`` for API clients: the same template, the same PDF.
``POST /api/v1/credit-memos/{number}/repost`` (manager, controller, admin) sends it to the
ledger again through the command layer, answered like every dispute command: 200 with the
dispute (the memo ``posted``, or ``posting_failed`` again with the ledger's new reason), or
202 when the ledger is still being asked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api import commands
from api.deps import CommandsDep, ReaderDep, SettingsDep, require
from api.memo_document import pdf_response, render_pdf
from api.routes.disputes import answer
from api.schemas import DisputeOut, RepostIn
from db.users import Principal
from workflows.rules import REPOST_ROLES

router = APIRouter(prefix="/api/v1/credit-memos", tags=["credit memos"])
ReposterDep = Annotated[Principal, Depends(require(*REPOST_ROLES))]
IdemHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@router.get("/{number}.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}},
                             "description": "The credit memo document as a PDF"}})
async def memo_pdf(number: str, _: ReaderDep, settings: SettingsDep) -> Response:
    """Times are written in the policy calendar's zone, as on the pages."""
    pdf = await run_in_threadpool(render_pdf, settings, number)
    return pdf_response(pdf, number)


@router.post("/{number}/repost", response_model=DisputeOut)
async def repost(number: str, principal: ReposterDep, cmd: CommandsDep,
                 body: RepostIn | None = None, idempotency_key: IdemHeader = None) -> Any:
    """Post a credit memo the ledger refused (``posting_failed``) again, with the same
    idempotency key (its number); 409 ``wrong_state`` for any other memo."""
    return answer(await commands.repost(cmd, principal=principal, memo_number=number,
                                        comment=body.comment if body else "", channel="api",
                                        key=idempotency_key))
