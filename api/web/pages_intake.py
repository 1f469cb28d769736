"""Client services' forms: open a dispute, withdraw one.

Both run the command layer (``open_dispute``, ``withdraw``) on channel "web", so the
validation, the idempotency, the workflow start or Update and the audit are the API's. Each
form carries a one-time idempotency key: submitting it twice (a double click, a reload of
the answer) opens one dispute, or withdraws it once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api import commands
from api.deps import CommandsDep, SettingsDep, in_db
from api.errors import AppError
from api.schemas import DisputeCreate, WithdrawIn
from api.web.auth import Posted, form_user, page_user
from api.web.forms import (
    KEY_FIELD,
    FormErrors,
    flash,
    flash_refusal,
    from_validation,
    map_errors,
    new_form_key,
)
from api.web.render import PageRoute, render
from config.settings import Settings
from db import billing
from db.users import Principal
from domain.codes import REASON_CODES

router = APIRouter(route_class=PageRoute, include_in_schema=False)
OpenerPage = Annotated[Principal, Depends(page_user("client_services"))]
OpenerForm = Annotated[Posted, Depends(form_user("client_services"))]
FIELDS = ("account_id", "invoice_number", "currency", "disputed_amount", "reason_code",
          "description", "line_ids")


def intake_choices(session: Session, *, account_id: str, invoice_number: str
                   ) -> dict[str, Any]:
    """What the form offers: the accounts, the chosen account's invoices, and the chosen
    invoice with its lines — or why the choice does not stand."""
    out: dict[str, Any] = {"accounts": billing.account_choices(session), "invoices": [],
                           "invoice": None, "open_amount": None, "lookup_error": None,
                           "account_name": None}
    if not account_id:
        return out
    out["account_name"] = billing.account_names(session, {account_id}).get(account_id)
    if out["account_name"] is None:
        out["lookup_error"] = f"There is no account {account_id}; choose one from the list."
        return out
    out["invoices"] = billing.invoice_choices(session, account_id)
    if invoice_number:
        invoice = billing.load_invoice(session, invoice_number)
        if invoice is None or invoice.account_id != account_id:
            out["lookup_error"] = (f"Invoice {invoice_number} is not an invoice of "
                                   f"{out['account_name']}; choose one of its invoices.")
        else:
            out["invoice"] = invoice
            out["open_amount"] = next((c.open_amount for c in out["invoices"]
                                       if c.number == invoice.number), invoice.total)
    return out


async def new_form(request: Request, settings: Settings, values: dict[str, Any] | None = None,
                   errors: FormErrors | None = None, status: int = 200) -> Response:
    """The form, empty or as typed with its errors; a fresh idempotency key when new. Step
    one finds the account and the invoice; step two, once the invoice is known, takes its
    currency from it and offers its lines as checkboxes."""
    values = dict(values or {})
    values.setdefault(KEY_FIELD, new_form_key())
    choices = await in_db(settings, intake_choices, readonly=True,
                          account_id=str(values.get("account_id", "")),
                          invoice_number=str(values.get("invoice_number", "")))
    return render(request, "dispute_new.html", {
        "title": "Open a dispute", "values": values, "errors": errors or FormErrors(),
        "reasons": REASON_CODES, **choices}, status=status)


@router.get("/disputes/new")
async def new_page(request: Request, _: OpenerPage, settings: SettingsDep,
                   account_id: str = "", invoice_number: str = "") -> Response:
    """Client services only, like ``POST /api/v1/disputes``."""
    return await new_form(request, settings, {"account_id": account_id.strip()[:64],
                                              "invoice_number": invoice_number.strip()[:64]})


def _to_field(api_field: str, _: dict[str, Any]) -> str | None:
    head = api_field.split(".", 1)[0]
    return head if head in FIELDS else None


@router.post("/disputes/new")
async def open_from_form(request: Request, posted: OpenerForm, settings: SettingsDep,
                         cmd: CommandsDep) -> Response:
    """Open through the command layer; on success go to the new dispute."""
    values: dict[str, Any] = {name: posted.text(name)
                              for name in (*FIELDS, KEY_FIELD) if name != "line_ids"}
    values["line_ids"] = [v for v in posted.all("line_ids") if v][:500]
    body: dict[str, Any] = {k: values[k] for k in FIELDS}
    body["currency"] = body["currency"].upper()
    key = posted.key()
    try:
        created = DisputeCreate.model_validate(body)
        outcome = await commands.open_dispute(cmd, principal=posted.principal, body=created,
                                              channel="web", key=key)
    except ValidationError as exc:
        err = from_validation(exc)
        return await new_form(request, settings, values, map_errors(err, _to_field),
                              status=err.status)
    except AppError as err:
        if err.code == "idempotency_conflict":  # the same form sent again, changed
            values[KEY_FIELD] = new_form_key()
        return await new_form(request, settings, values, map_errors(err, _to_field),
                              status=err.status)
    dispute_id = outcome.view.id
    response = RedirectResponse(f"/disputes/{dispute_id}", status_code=303)
    flash(response, f"Dispute {dispute_id} is open; the automatic investigation is running.")
    return response


@router.post("/disputes/{dispute_id}/withdraw")
async def withdraw_from_form(dispute_id: str, posted: OpenerForm, cmd: CommandsDep) -> Response:
    """Withdraw through the command layer; the outcome is a notice on the page."""
    response = RedirectResponse(f"/disputes/{dispute_id}", status_code=303)
    if posted.text("confirm") != "yes":
        flash(response, "Nothing was withdrawn: tick the box to confirm that the dispute ends "
              "for good.", kind="error")
        return response
    try:
        body = WithdrawIn.model_validate({"comment": posted.text("comment")})
        await commands.withdraw(cmd, principal=posted.principal, dispute_id=dispute_id,
                                body=body, channel="web", key=posted.key())
    except (ValidationError, AppError) as exc:
        flash_refusal(response, exc)
    else:
        flash(response, f"Dispute {dispute_id} is withdrawn.")
    return response
