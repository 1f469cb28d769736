"""The ERP ledger connector: posts an approved credit memo to ``DISPUTEFLOW_LEDGER_URL``.

API.md's request: ``POST`` with ``Idempotency-Key: <memo number>`` and the memo as JSON
(money as decimal strings with the currency's minor units, never floats); a 2xx answers
``{"reference"}``. The memo number as the key makes every retry safe: a retry after a lost
answer finds the ERP's first posting, never books a second one.

How each answer is taken, so that Temporal retries what may pass later and stops on what
will not:

- 2xx with a reference: booked. The posting is recorded in our ledger book (``db.ledger``)
  under the ERP's reference, once per key.
- 5xx, 408, 429, a timeout, a refused connection: the ERP is unavailable; a retryable
  error, retried with the activity's backoff (a ``Retry-After`` of up to a minute is heeded).
- any other 4xx: the ERP refused the memo; a non-retryable :data:`LEDGER_REJECTED` error
  carrying the ERP's reason, which the workflow shows as the memo's ``posting_error``.
- 2xx without a reference: also :data:`LEDGER_REJECTED` — the ERP may have booked it, and
  only a person can tell; a re-post (same key) then learns its reference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.ledger import LEDGER_REJECTED, LEDGER_UNAVAILABLE
from db import ledger
from db.session import session_scope
from domain.models import PostCreditMemo, Posted
from domain.money import quantize, to_minor

RETRYABLE_4XX = frozenset({408, 425, 429})
MAX_RETRY_AFTER_S = 60
MAX_REASON = 1000


def request_body(request: PostCreditMemo) -> dict[str, Any]:
    """The JSON API.md fixes: amounts as strings with the currency's minor units."""
    cur = request.currency
    return {
        "memo_number": request.memo_number, "dispute_id": request.dispute_id,
        "account_id": request.account_id, "invoice_number": request.invoice_number,
        "currency": cur, "total": str(quantize(request.total, cur)),
        "lines": [{"line_id": ln.line_id, "amount": str(quantize(ln.amount, cur))}
                  for ln in request.lines],
    }


def reason_of(response: httpx.Response) -> str:
    """The ERP's own words for a refusal: a JSON ``message``/``detail``/``error`` (as
    problem+json and most ERPs write them), else the body's text; with the status."""
    text = response.text.strip()
    said = text
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            error = error.get("message") or error.get("code")
        found = body.get("message") or body.get("detail") or error or body.get("title")
        if found:
            said = found if isinstance(found, str) else json.dumps(found)
    said = " ".join(said.split()) or response.reason_phrase or "no reason given"
    reason = f"The ERP refused the posting (HTTP {response.status_code}): {said}"
    return reason if len(reason) <= MAX_REASON else reason[:MAX_REASON - 1] + "…"


def _attempt() -> int:
    return activity.info().attempt if activity.in_activity() else 1


def _unavailable(message: str, retry_after: str | None = None) -> ApplicationError:
    delay = None
    if retry_after and retry_after.strip().isdigit():
        delay = timedelta(seconds=min(int(retry_after.strip()), MAX_RETRY_AFTER_S))
    return ApplicationError(message, type=LEDGER_UNAVAILABLE, next_retry_delay=delay)


def _rejected(reason: str, status: int) -> ApplicationError:
    return ApplicationError(reason, {"status": status, "attempt": _attempt()},
                            type=LEDGER_REJECTED, non_retryable=True)


@dataclass(frozen=True)
class HttpLedger:
    """Posts to the ERP over HTTP; keeps what it booked in our ledger book (``db_url``)."""

    db_url: str
    url: str
    timeout_s: float = 10.0
    token: str | None = None

    def post(self, request: PostCreditMemo, *, idempotency_key: str) -> Posted:
        headers = {"Idempotency-Key": request.memo_number, "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
                response = client.post(self.url, json=request_body(request), headers=headers)
        except httpx.TimeoutException:
            raise _unavailable(f"The ERP did not answer within {self.timeout_s:g} s; the "
                               "posting is retried with the same key.") from None
        except httpx.TransportError as exc:
            raise _unavailable(f"The ERP could not be reached ({type(exc).__name__}); the "
                               "posting is retried with the same key.") from None
        status = response.status_code
        if status >= 500 or status in RETRYABLE_4XX:
            raise _unavailable(f"The ERP answered HTTP {status}; the posting is retried with "
                               "the same key.", response.headers.get("Retry-After"))
        if status >= 300:
            raise _rejected(reason_of(response), status)
        reference = _reference(response)
        if reference is None:
            raise _rejected(f"The ERP answered HTTP {status} without a reference: it may have "
                            "booked the memo. Check the ERP, then re-post (the same "
                            "idempotency key) to learn its reference.", status)
        with session_scope(self.db_url) as s:
            row = ledger.record(
                s, idempotency_key=idempotency_key, reference=reference,
                memo_number=request.memo_number, account_id=request.account_id,
                invoice_number=request.invoice_number, currency=request.currency,
                amount_minor=to_minor(request.total, request.currency),
                posted_at=datetime.now(UTC))
            return Posted(reference=row.reference, posted_at=row.posted_at)


def _reference(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    ref = body.get("reference") if isinstance(body, dict) else None
    if isinstance(ref, str | int) and str(ref).strip() and len(str(ref)) <= 120:
        return str(ref).strip()
    return None
