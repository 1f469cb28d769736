"""Every refusal as ``{"error": {"code", "message", "details"?}}`` with the right status.

Codes and statuses are the contract of API.md. Messages are written for the person who
made the request: what was wrong and what to do.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.validation_messages import field_label, plain_message

log = logging.getLogger("disputeflow.api")

STATUS = {
    "unauthenticated": 401,
    "forbidden": 403,
    "sod_violation": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "wrong_state": 409,
    "idempotency_conflict": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "validation_error": 422,
    "rate_limited": 429,
    "internal_error": 500,
    "slack_unavailable": 502,
    "temporal_unavailable": 503,
    "identity_provider_unavailable": 503,
    "worker_unavailable": 503,
    "database_unavailable": 503,
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """Every refusal has this shape (API.md, Errors)."""

    error: ErrorDetail


# Documented on every API route, so clients (and schema-driven tests) know each refusal.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "unauthenticated", 403: "forbidden or sod_violation", 404: "not_found",
        409: "wrong_state or idempotency_conflict", 413: "payload_too_large",
        422: "validation_error", 429: "rate_limited",
        503: "temporal_unavailable, worker_unavailable or database_unavailable",
    }.items()
}


class AppError(Exception):
    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def error_response(err: AppError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if err.code == "unauthenticated" else None
    if err.code == "rate_limited" and isinstance(err.details, dict):
        headers = {"Retry-After": str(err.details.get("retry_after", 60))}
    return JSONResponse(error_body(err.code, err.message, err.details), status_code=err.status,
                        headers=headers)


def describe_validation(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Pydantic's errors as one sentence naming the first field, and a detail per field
    (the API's 422 and the pages' form errors say the same). ``field`` stays the machine
    path (``credit_lines.0.amount``); ``message`` is a plain sentence naming the field as a
    person knows it (:mod:`api.validation_messages`)."""
    details = []
    for e in errors[:20]:
        loc = [p for p in e.get("loc", ()) if p not in ("body", "query", "path", "header")]
        field = ".".join(str(p) for p in loc) or "body"
        if e.get("type") == "json_invalid":
            field = "body"
        details.append({"field": field,
                        "message": plain_message(e, field_label(loc))})
    first = details[0] if details else {"field": "body", "message": "The request is invalid."}
    text = first["message"]
    if len(details) > 1:
        text += f" (And {len(details) - 1} more problem{'s' if len(details) > 2 else ''}.)"
    return text, details


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = describe_validation(list(exc.errors()))
        return error_response(AppError("validation_error", message, details))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthenticated", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 413: "payload_too_large",
                415: "unsupported_media_type"}.get(exc.status_code, "validation_error")
        message = {404: "No such resource; check the path.",
                   405: "This method is not allowed on this path."}.get(
            exc.status_code, str(exc.detail))
        status = exc.status_code
        if status == 400:  # an unparseable body is bad input like any other: 422
            status, message = 422, f"The request could not be read: {exc.detail}"
        return JSONResponse(error_body(code, message), status_code=status)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        from sqlalchemy.exc import OperationalError
        from sqlalchemy.exc import TimeoutError as PoolTimeout

        if isinstance(exc, OperationalError | PoolTimeout):
            log.warning("database unavailable: %s", type(exc).__name__)
            return error_response(AppError(
                "database_unavailable",
                "The database is not answering; nothing was changed. Try again shortly."))
        log.exception("unexpected error")
        return error_response(AppError("internal_error", "Something went wrong on our side; "
                                       "nothing was changed. Try again, and report it if it "
                                       "persists."))
