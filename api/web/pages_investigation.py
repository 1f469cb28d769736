"""The analyst's form on the dispute page: root cause, resolution and credit lines.

It builds the API's ``InvestigationIn`` from the form and runs the command layer's
``investigate`` on channel "web", so the validation messages and the workflow's checks are
the API's; the form's one-time key makes a double submission one change. Refusals come
back on the form: each message next to the field it concerns (``credit_lines.N.amount`` →
that line's amount; a message naming "line L1" → L1's amount), anything else at the top,
and what the analyst typed is kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api import commands
from api.deps import CommandsDep, SettingsDep, in_db
from api.errors import AppError
from api.schemas import InvestigationIn
from api.web.auth import Posted, form_user
from api.web.forms import KEY_FIELD, flash, from_validation, map_errors, new_form_key
from api.web.pages_disputes import InvestigationForm, detail_context
from api.web.render import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
AnalystForm = Annotated[Posted, Depends(form_user("analyst"))]
MAX_LINES = 500
SIMPLE_FIELDS = ("root_cause", "resolution", "note", "prior_period")


@router.post("/disputes/{dispute_id}/investigation")
async def investigate(dispute_id: str, request: Request, posted: AnalystForm,
                      settings: SettingsDep, cmd: CommandsDep) -> Response:
    """Rows ``line_N``/``amount_N`` hold the credit lines; a blank amount is no line."""
    values = {name: posted.text(name) for name in ("root_cause", "resolution", "note")}
    values["prior_period"] = "on" if posted.text("prior_period") else ""
    values[KEY_FIELD] = posted.key() or ""
    lines: list[dict[str, str]] = []
    field_of_line: dict[str, str] = {}  # invoice line id -> amount field
    field_of_item: list[str] = []  # credit_lines[k] -> amount field
    for i in range(MAX_LINES):
        line_id = posted.text(f"line_{i}")
        if not line_id:
            break
        amount = posted.text(f"amount_{i}")
        values[f"line_{i}"], values[f"amount_{i}"] = line_id, amount
        field_of_line[line_id] = f"amount_{i}"
        if amount:
            lines.append({"line_id": line_id, "amount": amount})
            field_of_item.append(f"amount_{i}")

    def to_field(api_field: str, detail: dict[str, Any]) -> str | None:
        parts = api_field.split(".")
        if parts[0] in SIMPLE_FIELDS:
            return parts[0]
        if parts[0] == "credit_lines":
            if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(field_of_item):
                return field_of_item[int(parts[1])]
            return field_of_line.get(str(detail.get("line_id")), "credit_lines")
        return None

    try:
        body = InvestigationIn.model_validate({
            "root_cause": values["root_cause"], "resolution": values["resolution"],
            "credit_lines": lines, "prior_period": bool(values["prior_period"]),
            "note": values["note"]})
        outcome = await commands.investigate(cmd, principal=posted.principal,
                                             dispute_id=dispute_id, body=body, channel="web",
                                             key=posted.key())
    except (ValidationError, AppError) as exc:
        err = from_validation(exc) if isinstance(exc, ValidationError) else exc
        if err.code == "not_found":
            raise err from None
        # A refused submission is answered the same way for the same key (its Update id),
        # so the form shown again carries a new one: sent again, it is a new request.
        values[KEY_FIELD] = new_form_key()
        form = InvestigationForm(values, map_errors(err, to_field, field_of_line))
        ctx = await in_db(settings, detail_context, readonly=True, principal=posted.principal,
                          dispute_id=dispute_id, form=form)
        return render(request, "dispute_detail.html", ctx, status=err.status)
    response = RedirectResponse(f"/disputes/{dispute_id}", status_code=303)
    flash(response, "Investigation submitted; " + (
        "it is still being processed — reload in a moment." if outcome.processing
        else f"the dispute is now {outcome.view.status.replace('_', ' ')}."))
    return response
