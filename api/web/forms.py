"""Form feedback: refusals mapped onto the form fields they concern, and one-shot notices.

The pages validate with the API's own models and run the API's own code, so a refusal is an
:class:`~api.errors.AppError` with the API's message. Where its details name a ``field`` (the
API's ``[{"field", "message"}]`` shape, or a ``{"field": ...}`` dict) the message is shown
next to that field; otherwise at the top of the form. Credit-memo refusals from the workflow
carry no details (they cross Temporal as a type and a message), so a message about "line X"
is placed on that line's amount field — the person fixes the field the message names.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request, Response
from pydantic import ValidationError

from api.errors import AppError, describe_validation

# The hidden field of a form's one-time idempotency key (the templates name it too): a form
# sent twice — a double click, a reload of the answer — is one change.
KEY_FIELD = "idem"


def new_form_key() -> str:
    """A fresh one-time key for a form shown to be filled in (or shown again after a
    refusal: the same key would be answered with the same refusal)."""
    return secrets.token_urlsafe(18)

FLASH_COOKIE = "dfl_flash"
_LINE_IN_MESSAGE = re.compile(r"\b[Ll]ine (\S+?)[ ,.:;]")


@dataclass
class FormErrors:
    """Messages per form field, and the ones that belong to no field."""

    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


def from_validation(exc: ValidationError) -> AppError:
    """A pydantic error exactly as the API reports it (message and field details)."""
    message, details = describe_validation([dict(e) for e in exc.errors()])
    return AppError("validation_error", message, details)


def refusal(exc: ValidationError | AppError) -> AppError:
    """Why a form's command was refused, as the API would say it. A dispute or memo that is
    not there is no refusal to show on a form: it stays the 404 it is (raised)."""
    err = from_validation(exc) if isinstance(exc, ValidationError) else exc
    if err.code == "not_found":
        raise err from None
    return err


def flash_refusal(response: Response, exc: ValidationError | AppError) -> None:
    """A refused command of a form that redirects: its reason as an error notice on the next
    page (:func:`refusal`)."""
    flash(response, refusal(exc).message, kind="error")


def _details(err: AppError) -> list[dict[str, Any]]:
    if isinstance(err.details, list):
        return [d for d in err.details if isinstance(d, dict)]
    if isinstance(err.details, dict) and "field" in err.details:
        return [err.details]
    return []


def map_errors(err: AppError, to_field: Callable[[str, dict[str, Any]], str | None],
               lines: dict[str, str] | None = None) -> FormErrors:
    """Place ``err`` on the form. ``to_field(api_field, detail)`` names the form field of an
    API field (None: not on this form); ``lines`` maps invoice line ids to form fields for
    messages that only name a line."""
    out = FormErrors()
    for detail in _details(err):
        target = to_field(str(detail.get("field", "")), detail)
        message = str(detail.get("message") or err.message)
        if target and target not in out.fields:
            out.fields[target] = message
    if not out.fields and lines:
        match = _LINE_IN_MESSAGE.search(err.message)
        if match and match.group(1) in lines:
            out.fields[lines[match.group(1)]] = err.message
    if not out.fields:
        out.general.append(err.message)
    return out


def flash(response: Response, message: str, *, kind: str = "ok") -> None:
    """A notice shown once on the next page (after a redirect that follows a post)."""
    response.set_cookie(FLASH_COOKIE, quote(f"{kind}|{message[:600]}"), max_age=120, path="/",
                        httponly=True, samesite="lax")


def take_flash(request: Request) -> tuple[str, str] | None:
    """The pending notice as (kind, message); render() shows it and clears the cookie."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    kind, _, message = unquote(raw).partition("|")
    return (kind if kind in ("ok", "error") else "ok"), message
