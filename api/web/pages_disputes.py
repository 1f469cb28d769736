"""Dispute pages: the filtered, cursor-paged list and the dispute page (summary, findings,
investigation, credit memo, approval chain, timeline, and the forms the user may use).

Reads go through ``db.disputes`` (the API's read model queries); the page only adds the
names of the people involved and the invoice lines the analyst's form offers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from api.deps import SettingsDep
from api.errors import AppError
from api.web.auth import page_user
from api.web.forms import FormErrors, new_form_key
from api.web.queue import decision_for
from api.web.render import PAGE_ROLES, PageRoute, render
from db import billing, dispute_list, disputes
from db.session import session_scope
from db.users import Principal, user_names
from domain.codes import REASON_CODES, ROOT_CAUSES, TERMINAL_STATUSES, DisputeStatus
from domain.dispute_view import DisputeView
from domain.findings import implied_by_line
from domain.money import MINOR_UNITS

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Reader = Annotated[Principal, Depends(page_user(*PAGE_ROLES["/disputes"]))]
PAGE_SIZE = 50
STATUSES: tuple[str, ...] = DisputeStatus.__args__  # type: ignore[attr-defined]
RESOLUTIONS = ("full_credit", "partial_credit", "rebill", "deny")
_MAX_PLACES = max(MINOR_UNITS.values())


@dataclass
class ListQuery:
    """The list filters as typed in the form, their parsed values, and their problems."""

    raw: dict[str, str]
    filters: dispute_list.ListFilter = field(default_factory=dispute_list.ListFilter)
    errors: dict[str, str] = field(default_factory=dict)


def _amount(raw: str, name: str, errors: dict[str, str]) -> Decimal | None:
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        errors[name] = "Enter an amount such as 250 or 250.00."
        return None
    if not value.is_finite() or value < 0 or len(raw) > 30:
        errors[name] = "Enter an amount of zero or more."
        return None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > _MAX_PLACES:
        errors[name] = f"Use at most {_MAX_PLACES} decimals."
        return None
    return value


# Filters the dashboard's links set (instants, not typed in the form): shown as a removable
# note above the list, and kept by the filter form.
INSTANT_FILTERS = ("opened_from", "opened_to", "open_at")
INSTANT_LABELS = {"opened_from": "opened from", "opened_to": "opened before",
                  "open_at": "open at"}


def _instant(raw: str, name: str, errors: dict[str, str]) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        errors[name] = f"The link's '{INSTANT_LABELS[name]}' time is not a date and time."
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_list_query(params: dict[str, str]) -> ListQuery:
    """Query string → filters. Problems become messages next to the filter fields (a
    filter form should not answer a typo with an error page)."""
    raw = {k: params.get(k, "").strip()[:100] for k in
           ("q", "status", "account_id", "reason_code", "breached", "min_amount",
            "max_amount", "root_cause", *INSTANT_FILTERS)}
    q = ListQuery(raw)
    if raw["root_cause"] and raw["root_cause"] not in ROOT_CAUSES:
        q.errors["root_cause"] = "Choose a root cause from the list."
    instants = {name: _instant(raw[name], name, q.errors) for name in INSTANT_FILTERS}
    if raw["status"] and raw["status"] not in STATUSES:
        q.errors["status"] = "Choose a status from the list."
    if raw["reason_code"] and raw["reason_code"] not in REASON_CODES:
        q.errors["reason_code"] = "Choose a reason from the list."
    if raw["breached"] not in ("", "yes", "no"):
        q.errors["breached"] = "Choose any, yes or no."
    low = _amount(raw["min_amount"], "min_amount", q.errors)
    high = _amount(raw["max_amount"], "max_amount", q.errors)
    if low is not None and high is not None and high < low:
        q.errors["max_amount"] = "The upper bound must not be below the lower bound."
    q.filters = dispute_list.ListFilter(
        status=raw["status"] or None, account_id=raw["account_id"] or None,
        reason_code=raw["reason_code"] or None,
        breached={"yes": True, "no": False}.get(raw["breached"]),
        min_amount=low, max_amount=high, root_cause=raw["root_cause"] or None,
        text=raw["q"] or None,
        opened_from=instants["opened_from"], opened_to=instants["opened_to"],
        open_at=instants["open_at"])
    return q  # not queried at all while q.errors is not empty


def overdue_by(sla: object, now: datetime) -> str | None:
    """How long the most overdue running clock is past its due time ("2 d 3 h", "5 h 10 min",
    "40 min"); None when no running clock is late."""
    late = []
    for clock in (sla.values() if isinstance(sla, dict) else []):
        if not isinstance(clock, dict) or clock.get("stopped_at") or not clock.get("due_at"):
            continue
        try:
            due = datetime.fromisoformat(str(clock["due_at"]))
        except ValueError:
            continue
        if due < now:
            late.append(now - due)
    if not late:
        return None
    minutes = int(max(late).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


@router.get("/disputes")
def list_page(request: Request, _: Reader, settings: SettingsDep) -> Response:
    """Newest first, 50 a page, keyset-paged by ``db.dispute_list.list_views``."""
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    q = parse_list_query(params)
    cursor = params.get("cursor") or None
    sort = params.get("sort", "newest")
    if sort not in dispute_list.SORTS:
        sort = "newest"
    items: list[dict[str, Any]] = []
    next_cursor = None
    general = None
    if not q.errors:
        try:
            with session_scope(settings.database_url, readonly=True) as session:
                items, next_cursor = dispute_list.list_views(session, filters=q.filters,
                                                         limit=PAGE_SIZE, cursor=cursor,
                                                         sort=sort)
        except ValueError:
            general = "That page link is no longer valid; showing the first page instead."
            with session_scope(settings.database_url, readonly=True) as session:
                items, next_cursor = dispute_list.list_views(session, filters=q.filters,
                                                         limit=PAGE_SIZE, cursor=None,
                                                         sort=sort)
            cursor = None
    filters_only = {k: v for k, v in q.raw.items() if v}
    kept = {**filters_only, **({"sort": sort} if sort != "newest" else {})}
    now = datetime.now(UTC)
    with session_scope(settings.database_url, readonly=True) as session:
        accounts = billing.account_names(session, {str(d.get("account_id")) for d in items})
    return render(request, "disputes_list.html", {
        "title": "Disputes", "items": items, "q": q.raw, "errors": q.errors,
        "accounts": accounts, "overdue": {d["id"]: overdue_by(d.get("sla"), now) for d in items},
        "sort": sort, "sort_url": {name: f"/disputes?{urlencode({**filters_only, 'sort': name})}"
                                   for name in dispute_list.SORTS},
        "general": general, "statuses": STATUSES, "reasons": REASON_CODES,
        "causes": ROOT_CAUSES, "instants": [
            (name, INSTANT_LABELS[name], getattr(q.filters, name),
             f"/disputes?{urlencode({k: v for k, v in kept.items() if k != name})}")
            for name in INSTANT_FILTERS if getattr(q.filters, name) is not None],
        "next_url": f"/disputes?{urlencode({**kept, 'cursor': next_cursor})}"
        if next_cursor else None,
        "first_url": f"/disputes?{urlencode(kept)}" if cursor else None,
    }, status=422 if q.errors else 200)


@dataclass
class InvestigationForm:
    """What the analyst typed, to show it again with the errors next to the fields."""

    values: dict[str, str] = field(default_factory=dict)
    errors: FormErrors = field(default_factory=FormErrors)


def prefill_credits(view: dict[str, Any], invoice: Any) -> dict[str, str]:
    """The credit the automatic findings imply per invoice line (several findings on one
    line add up, never beyond what the line billed): the analyst's form starts from it."""
    lines = {ln.id: ln.amount for ln in (invoice.lines if invoice else ())}
    implied = {line_id: min(amount, lines[line_id])
               for line_id, amount in implied_by_line(view.get("findings") or []).items()
               if line_id in lines}
    return {line_id: str(amount) for line_id, amount in implied.items()}


def rejection(view: dict[str, Any]) -> dict[str, Any] | None:
    """The level that rejected the dispute's credit memo, while it waits for the analyst."""
    memo = view.get("credit_memo") or {}
    if view.get("status") != "investigating" or memo.get("status") != "rejected":
        return None
    level = next((lv for lv in view.get("approvals") or [] if lv.get("status") == "rejected"),
                 None)
    return None if level is None else {"memo": memo.get("number"), **level}


def detail_context(session: Session, principal: Principal, dispute_id: str,
                   form: InvestigationForm | None = None,
                   revision: InvestigationForm | None = None) -> dict[str, Any]:
    """Everything the dispute page shows, and which of its forms this user gets."""
    view = disputes.get_view(session, dispute_id)
    if view is None:
        raise AppError("not_found", f"There is no dispute {dispute_id}.")
    memo = view.get("credit_memo") or {}
    inv = view.get("investigation") or {}
    ids = {view.get("opened_by", ""), memo.get("preparer_id", ""), inv.get("submitted_by", "")}
    ids |= {a.get("approver_id") or "" for a in view.get("approvals") or []}
    ids |= {a.get("delegate_of") or "" for a in view.get("approvals") or []}
    ids |= {t.get("actor", "") for t in view.get("timeline") or []}
    status = view.get("status")
    can_investigate = principal.has("analyst") and status == "investigating"
    can_revise = (principal.has("analyst") and status == "pending_approval"
                  and memo.get("status") == "pending_approval")
    invoice = billing.load_invoice(session, str(view.get("invoice_number"))) \
        if can_investigate or can_revise else None
    return {
        "title": f"Dispute {dispute_id}", "d": view, "memo": memo, "inv": inv,
        "prefill": prefill_credits(view, invoice) if can_investigate else {},
        "rejection": rejection(view),
        "names": user_names(session, ids),
        "account_name": billing.account_names(session, {str(view.get("account_id"))})
        .get(str(view.get("account_id"))),
        "breached": any(c.get("breached") for c in (view.get("sla") or {}).values()),
        "can_investigate": can_investigate, "invoice": invoice,
        "root_causes": ROOT_CAUSES, "resolutions": RESOLUTIONS,
        "form": form or InvestigationForm(),
        "can_revise": can_revise, "revision": revision or InvestigationForm(),
        "memo_lines": {str(ln.get("line_id")): str(ln.get("amount"))
                       for ln in memo.get("lines") or []},
        "decision": decision_for(session, principal, DisputeView.model_validate(view),
                                 datetime.now(UTC)),
        "can_withdraw": principal.has("client_services") and status not in TERMINAL_STATUSES,
        # One-time key of this page's forms: sent twice, a form changes the dispute once.
        "idem": new_form_key(),
    }


@router.get("/disputes/{dispute_id}")
def detail_page(dispute_id: str, request: Request, principal: Reader,
                settings: SettingsDep) -> Response:
    """The dispute page, for every role (the forms depend on the role)."""
    if len(dispute_id) > 40:
        raise AppError("not_found", f"There is no dispute {dispute_id[:40]}….")
    with session_scope(settings.database_url, readonly=True) as session:
        ctx = detail_context(session, principal, dispute_id)
    return render(request, "dispute_detail.html", ctx)
