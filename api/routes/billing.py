"""Billing data import (admin): the document of API.md, upserted by key; or one kind of
record as a CSV file (``POST /api/v1/billing-data/csv?kind=``), imported whole or not at
all by the same upsert, refused with every bad row."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from api.deps import AdminDep, SessionDep
from api.errors import AppError, ErrorBody
from api.schemas import ImportResult
from db import billing
from db.billing_csv import import_csv
from domain.billing_csv import CsvRefused
from domain.billing_doc import BillingDocument

router = APIRouter(prefix="/api/v1/billing-data", tags=["billing data"])

CsvKind = Literal["accounts", "invoices", "contracts", "delivery", "fx"]
# What a CSV body may be labelled: spreadsheets and curl send these for a .csv file.
CSV_MEDIA_TYPES = ("text/csv", "application/csv", "text/plain")
# Rows named in one refusal; the message still counts them all.
MAX_DETAILS = 1000


class CsvImportResult(BaseModel):
    """An imported file: its data rows, and the records (for invoices: invoices, whose rows
    are their lines) created, updated and unchanged."""

    kind: CsvKind
    rows: int
    created: int
    updated: int
    unchanged: int


@router.post("", response_model=ImportResult)
def import_billing_data(body: BillingDocument, principal: AdminDep, session: SessionDep) -> Any:
    try:
        changed = billing.import_document(session, body, actor=principal.id)
    except billing.ImportProblem as exc:
        raise AppError("validation_error", str(exc)) from None
    return {"changed": changed}


async def csv_body(request: Request) -> bytes:
    """The raw body of a CSV upload (within DISPUTEFLOW_MAX_BODY_BYTES, which the request
    guard enforces as it is read); anything not sent as CSV is a 415, not a parse error."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CSV_MEDIA_TYPES:
        raise AppError("unsupported_media_type",
                       f"Send the file as text/csv (got {media_type or 'no content type'}).")
    return await request.body()


@router.post(
    "/csv", response_model=CsvImportResult,
    responses={415: {"model": ErrorBody, "description": "unsupported_media_type"}},
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {
        "type": "string",
        "description": "UTF-8 CSV with a header row naming the kind's columns"}}}}},
)
def import_billing_csv(
    principal: AdminDep,
    kind: Annotated[CsvKind, Query(description="what the file's rows are")],
    body: Annotated[bytes, Depends(csv_body)],
    session: SessionDep,
) -> Any:
    """One file of one kind, imported whole or not at all. 422 ``validation_error`` with
    ``details: [{"line", "column", "message"}]`` naming every bad row; nothing is written."""
    try:
        done = import_csv(session, kind=kind, data=body, actor=principal.id)
    except CsvRefused as refused:
        raise AppError("validation_error", refused.summary,
                       [e.as_dict() for e in refused.errors[:MAX_DETAILS]]) from None
    return CsvImportResult(kind=kind, rows=done.rows, created=done.created,
                           updated=done.updated, unchanged=done.unchanged)
