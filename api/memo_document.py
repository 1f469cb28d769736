"""The credit memo as a document — one context, rendered by one Jinja2 template
(``_credit_memo_document.html``) into the web page and into the PDF.

Read from the stored memo tables rather than the dispute's current view, so a memo that was
later voided or replaced still renders exactly as it was — a document must not change
because the dispute moved on. The PDF is WeasyPrint's rendering of the same HTML with the
print stylesheet: what a person sees on the page is what the PDF says.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.errors import AppError
from config.settings import Settings
from db import billing, report_window
from db.approval_chains import levels_by_memo
from db.models import Account, CreditMemo, CreditMemoLine, LedgerPosting
from db.session import session_scope
from db.users import user_names
from domain.money import from_minor, minor_units

__all__ = ["memo_document", "memo_pdf", "pdf_response", "render_pdf"]

STATIC_DIR = Path(__file__).resolve().parent / "static"


def memo_document(session: Session, number: str, settings: Settings) -> dict[str, Any]:
    """The memo, its issuer, its account, the original invoice and its lines, the credited
    lines, amounts with tax, the approvals with names, and the ledger's reference."""
    memo = session.get(CreditMemo, number) if len(number) <= 40 else None
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
    refs = sorted(set(session.scalars(select(LedgerPosting.reference)
                                      .where(LedgerPosting.memo_number == number)))
                  | ({memo.ledger_reference} if memo.ledger_reference else set()))
    names = user_names(session, {memo.preparer_id} | {lv.approver_id or "" for lv in levels}
                       | {lv.delegate_of or "" for lv in levels})
    total = from_minor(memo.total_minor, memo.currency)
    # The billing data carries no tax: a credit memo reverses net amounts, tax 0, shown in
    # the currency's minor units like every amount.
    tax = Decimal(0).scaleb(-minor_units(memo.currency))
    return {
        "title": f"Credit memo {number}", "memo": memo, "lines": lines, "levels": levels,
        "account": account, "invoice": invoice, "ledger_references": refs, "names": names,
        "issuer": {"name": settings.disputeflow_issuer_name,
                   "address": settings.disputeflow_issuer_address},
        "subtotal": str(total), "tax": str(tax), "total": str(total + tax),
        "base_total": str(from_minor(memo.base_total_minor, memo.base_currency)),
        "reasons": (memo.chain or {}).get("reasons") or [],
    }


def memo_pdf(html: str) -> bytes:
    """The document's HTML (``credit_memo_pdf.html``) as a PDF, with the pages' stylesheet
    and its print rules. Nothing is fetched: the stylesheets are read from the package, and
    a URL in someone's comment stays text."""
    from weasyprint import CSS, HTML  # loads Pango: only the processes that print need it
    from weasyprint.urls import URLFetcher

    sheets = [CSS(filename=str(STATIC_DIR / name)) for name in ("app.css", "document.css")]
    fetcher = URLFetcher(allowed_protocols=("data",))
    pdf: bytes = HTML(string=html, base_url=str(STATIC_DIR),
                      url_fetcher=fetcher).write_pdf(stylesheets=sheets)
    return pdf


def render_pdf(settings: Settings, number: str, timezone: str | None = None) -> bytes:
    """The memo's PDF: the document read in one transaction, then printed (both blocking:
    callers run it off the event loop). Times in ``timezone`` as the pages show them; by
    default the policy calendar's, read in the same transaction."""
    from api.web.render import templates  # the pages' environment: the same filters

    with session_scope(settings.database_url, readonly=True) as session:
        ctx = memo_document(session, number, settings)
        timezone = timezone or report_window.policy_timezone(session)
    html = templates.get_template("credit_memo_pdf.html").render({**ctx, "timezone": timezone})
    return memo_pdf(html)


def pdf_response(pdf: bytes, number: str) -> Response:
    """The PDF inline (a browser shows it), named for the memo when saved."""
    from api.web.render import SECURITY_HEADERS

    return Response(pdf, media_type="application/pdf", headers={
        **SECURITY_HEADERS, "Content-Disposition": f'inline; filename="{number}.pdf"'})
