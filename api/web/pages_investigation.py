"""The analyst's forms on the dispute page: the investigation (root cause, resolution and
credit lines) and the change of a memo under approval.

It builds the API's ``InvestigationIn`` from the form and runs the command layer's
``investigate`` on channel "web", so the validation messages and the workflow's checks are
the API's; the form's one-time key makes a double submission one change. Refusals come
back on the form: each message next to the field it concerns (``credit_lines.N.amount`` →
that line's amount; a message naming "line L1" → L1's amount), anything else at the top,
and what the analyst typed is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api import commands
from api.deps import CommandsDep, SettingsDep, in_db
from api.errors import AppError
from api.schemas import InvestigationIn, RevisionIn
from api.web.auth import Posted, form_user
from api.web.forms import KEY_FIELD, flash, map_errors, new_form_key, refusal
from api.web.pages_disputes import InvestigationForm, detail_context
from api.web.render import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
AnalystForm = Annotated[Posted, Depends(form_user("analyst"))]
MAX_LINES = 500
SIMPLE_FIELDS = ("root_cause", "resolution", "note", "prior_period")


@dataclass
class LineFields:
    """The credit-line rows of a form (``line_N``/``amount_N``; a blank amount is no line)
    and where each API field lands on the form, for refusals."""

    values: dict[str, str] = field(default_factory=dict)
    lines: list[dict[str, str]] = field(default_factory=list)
    of_line: dict[str, str] = field(default_factory=dict)  # invoice line id -> amount field
    of_item: list[str] = field(default_factory=list)  # credit_lines[k] -> amount field

    @classmethod
    def read(cls, posted: Posted) -> LineFields:
        out = cls()
        for i in range(MAX_LINES):
            line_id = posted.text(f"line_{i}")
            if not line_id:
                break
            amount = posted.text(f"amount_{i}")
            out.values[f"line_{i}"], out.values[f"amount_{i}"] = line_id, amount
            out.of_line[line_id] = f"amount_{i}"
            if amount:
                out.lines.append({"line_id": line_id, "amount": amount})
                out.of_item.append(f"amount_{i}")
        return out

    def to_field(self, api_field: str, detail: dict[str, Any]) -> str | None:
        parts = api_field.split(".")
        if parts[0] in SIMPLE_FIELDS:
            return parts[0]
        if parts[0] == "credit_lines":
            if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(self.of_item):
                return self.of_item[int(parts[1])]
            return self.of_line.get(str(detail.get("line_id")), "credit_lines")
        return None


@router.post("/disputes/{dispute_id}/investigation")
async def investigate(dispute_id: str, request: Request, posted: AnalystForm,
                      settings: SettingsDep, cmd: CommandsDep) -> Response:
    """Root cause, resolution and the credit lines, through ``commands.investigate``."""
    rows = LineFields.read(posted)
    values = {name: posted.text(name) for name in ("root_cause", "resolution", "note")}
    values["prior_period"] = "on" if posted.text("prior_period") else ""
    values[KEY_FIELD] = posted.key() or ""
    values.update(rows.values)
    try:
        body = InvestigationIn.model_validate({
            "root_cause": values["root_cause"], "resolution": values["resolution"],
            "credit_lines": rows.lines, "prior_period": bool(values["prior_period"]),
            "note": values["note"]})
        outcome = await commands.investigate(cmd, principal=posted.principal,
                                             dispute_id=dispute_id, body=body, channel="web",
                                             key=posted.key())
    except (ValidationError, AppError) as exc:
        return await _refused(request, settings, posted, dispute_id, exc, rows, values,
                              "form")
    response = RedirectResponse(f"/disputes/{dispute_id}", status_code=303)
    flash(response, "Investigation submitted; " + (
        "it is still being processed — reload in a moment." if outcome.processing
        else f"the dispute is now {outcome.view.status.replace('_', ' ')}."))
    return response


@router.post("/disputes/{dispute_id}/credit-memo")
async def revise(dispute_id: str, request: Request, posted: AnalystForm,
                 settings: SettingsDep, cmd: CommandsDep) -> Response:
    """A changed memo under approval, through ``commands.revise``: its approvals so far are
    voided and the chain starts again."""
    rows = LineFields.read(posted)
    values = {"note": posted.text("note"),
              "prior_period": "on" if posted.text("prior_period") else "",
              KEY_FIELD: posted.key() or "", **rows.values}
    try:
        body = RevisionIn.model_validate({"credit_lines": rows.lines, "note": values["note"],
                                          "prior_period": bool(values["prior_period"])})
        outcome = await commands.revise(cmd, principal=posted.principal, dispute_id=dispute_id,
                                        body=body, channel="web", key=posted.key())
    except (ValidationError, AppError) as exc:
        return await _refused(request, settings, posted, dispute_id, exc, rows, values,
                              "revision")
    response = RedirectResponse(f"/disputes/{dispute_id}", status_code=303)
    memo = outcome.view.credit_memo
    flash(response, "Credit memo changed; " + (
        "it is still being processed — reload in a moment." if outcome.processing or not memo
        else f"{memo.number} now goes through its approval chain again."))
    return response


async def _refused(request: Request, settings: Any, posted: Posted, dispute_id: str,
                   exc: ValidationError | AppError, rows: LineFields,
                   values: dict[str, str], which: str) -> Response:
    """The page again with the refusal next to the fields, and what was typed kept."""
    err = refusal(exc)
    # A refused submission is answered the same way for the same key (its Update id), so
    # the form shown again carries a new one: sent again, it is a new request.
    values[KEY_FIELD] = new_form_key()
    form = InvestigationForm(values, map_errors(err, rows.to_field, rows.of_line))
    ctx = await in_db(settings, detail_context, readonly=True, principal=posted.principal,
                      dispute_id=dispute_id, **{which: form})
    return render(request, "dispute_detail.html", ctx, status=err.status)
