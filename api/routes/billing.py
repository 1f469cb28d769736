"""Billing data import (admin): the document of API.md, upserted by key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import AdminDep, SessionDep
from api.errors import AppError
from api.schemas import ImportResult
from db import billing
from domain.billing_doc import BillingDocument

router = APIRouter(prefix="/api/v1/billing-data", tags=["billing data"])


@router.post("", response_model=ImportResult)
def import_billing_data(body: BillingDocument, principal: AdminDep, session: SessionDep) -> Any:
    try:
        changed = billing.import_document(session, body, actor=principal.id)
    except billing.ImportProblem as exc:
        raise AppError("validation_error", str(exc)) from None
    return {"changed": changed}
