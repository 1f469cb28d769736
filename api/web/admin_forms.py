"""What the access pages' form posts answer: back to the page with a notice, and a refusal
in words that name the field it concerns (the API's own message and details)."""

from __future__ import annotations

from fastapi import Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.errors import AppError
from api.web.forms import flash, from_validation

__all__ = ["back_to", "refusal"]


def back_to(url: str, message: str, *, kind: str = "ok") -> Response:
    """303 to ``url`` (a post is never repeated by a reload), with ``message`` shown once."""
    response = RedirectResponse(url, status_code=303)
    flash(response, message, kind=kind)
    return response


def refusal(exc: AppError | ValidationError) -> str:
    """The API's message, followed by the fields its details name when it does not."""
    err = from_validation(exc) if isinstance(exc, ValidationError) else exc
    fields = "; ".join(f"{d.get('field', '')}: {d.get('message', '')}"
                       for d in (err.details or []) if isinstance(d, dict))
    return err.message + (f" ({fields})" if fields and fields not in err.message else "")
