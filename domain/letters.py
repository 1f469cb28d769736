"""Letters to the disputing account's billing contact: which change sends which letter, what
each letter may say, and rendering an admin's template safely. Pure, so the rules live in one
place and are tested without a database or a mail server.

Templates are Jinja2 text rendered in a sandbox with strict undefined variables: an admin's
template reaches only the letter's own fields (listed in ``FIELDS``), never the application,
and a misspelt field is refused when the template is saved, not when a customer's letter
is due.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from domain.models import AuditEntry, DisputeState
from domain.money import fmt

LetterKind = Literal["acknowledgement", "resolution", "denial"]
KINDS: tuple[LetterKind, ...] = ("acknowledgement", "resolution", "denial")
MAX_TEMPLATE = 20_000

COMMON = ("dispute_id", "account_id", "account_name", "invoice_number", "currency",
          "disputed_amount", "reason", "description", "opened_on", "issuer_name")
FIELDS: dict[str, tuple[str, ...]] = {
    "acknowledgement": COMMON,
    "resolution": (*COMMON, "credit_memo", "credit_total", "ledger_reference"),
    "denial": (*COMMON, "denial_reason"),
}

DEFAULTS: dict[str, tuple[str, str]] = {
    "acknowledgement": (
        "We received your dispute of invoice {{ invoice_number }} ({{ dispute_id }})",
        "Dear {{ account_name }},\n\n"
        "we received your dispute of invoice {{ invoice_number }} over {{ disputed_amount }} "
        "({{ reason }}). Its reference is {{ dispute_id }}; please quote it in any reply.\n\n"
        "Our billing team is looking into it and will write to you with the outcome. While "
        "the dispute is open, the disputed amount is not chased for payment.\n\n"
        "Kind regards,\n{{ issuer_name }}\n"),
    "resolution": (
        "Credit memo {{ credit_memo }} for invoice {{ invoice_number }} ({{ dispute_id }})",
        "Dear {{ account_name }},\n\n"
        "your dispute {{ dispute_id }} of invoice {{ invoice_number }} is resolved: we issued "
        "credit memo {{ credit_memo }} over {{ credit_total }}, attached to this letter"
        "{% if ledger_reference %} (our ledger reference {{ ledger_reference }}){% endif %}."
        "\n\nKind regards,\n{{ issuer_name }}\n"),
    "denial": (
        "Your dispute of invoice {{ invoice_number }} ({{ dispute_id }})",
        "Dear {{ account_name }},\n\n"
        "we looked into your dispute {{ dispute_id }} of invoice {{ invoice_number }} over "
        "{{ disputed_amount }} and found the invoice correct: {{ denial_reason }}\n\n"
        "If you have information we did not consider, reply to this letter quoting "
        "{{ dispute_id }}.\n\nKind regards,\n{{ issuer_name }}\n"),
}

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                            keep_trailing_newline=True)


class TemplateRefused(ValueError):
    """A template that does not parse, or names a field its letter does not have."""


def _words(code: str) -> str:
    return code.replace("_", " ")


@dataclass(frozen=True)
class Letter:
    """A letter a recorded change calls for: its kind, its fields, and the credit memo whose
    PDF goes with it (a resolution's)."""

    kind: LetterKind
    fields: dict[str, str]
    memo_number: str | None = None

    def addressed_to(self, account_name: str) -> Letter:
        """The same letter naming the account it goes to (read only once a letter is due)."""
        return replace(self, fields={**self.fields, "account_name": account_name})


def fields_of(state: DisputeState, *, account_name: str, issuer_name: str) -> dict[str, str]:
    o = state.opened
    return {"dispute_id": o.dispute_id, "account_id": o.account_id,
            "account_name": account_name, "invoice_number": o.invoice_number,
            "currency": o.currency, "disputed_amount": fmt(o.disputed_amount, o.currency),
            "reason": _words(o.reason_code), "description": o.description,
            "opened_on": o.opened_at.date().isoformat(), "issuer_name": issuer_name}


def letters_of(state: DisputeState, audit: Sequence[AuditEntry], before_status: str | None, *,
               account_name: str, issuer_name: str) -> list[Letter]:
    """The letters of one recorded change: an acknowledgement when the dispute opens, a
    resolution (with the memo) when it is resolved, a denial (with why) when denied. A
    withdrawal sends none: the customer withdrew it."""
    common = fields_of(state, account_name=account_name, issuer_name=issuer_name)
    out: list[Letter] = []
    if any(e.action == "dispute.opened" for e in audit):
        out.append(Letter("acknowledgement", common))
    if before_status is None or before_status == state.status:
        return out
    if state.status == "resolved" and state.credit_memo is not None:
        memo = state.credit_memo
        out.append(Letter("resolution", {
            **common, "credit_memo": memo.number,
            "credit_total": fmt(memo.total, memo.currency),
            "ledger_reference": memo.ledger_reference or ""}, memo.number))
    elif state.status == "denied":
        investigation = state.investigation
        reason = (investigation.note.strip() if investigation and investigation.note.strip()
                  else f"the root cause found was {_words(investigation.root_cause)}."
                  if investigation else "")
        out.append(Letter("denial", {**common, "denial_reason": reason}))
    return out


def sample_fields(kind: str) -> dict[str, str]:
    """Every field of ``kind`` with a stand-in value: what a template is checked against."""
    return {name: f"<{name}>" for name in FIELDS[kind]}


def check_template(kind: str, subject: str, body: str) -> None:
    """Refuse a template that would fail on a real letter: unparsable, too long, or naming a
    field its kind lacks (or reaching outside the sandbox)."""
    if kind not in FIELDS:
        raise TemplateRefused(f"There is no letter '{kind}'; letters are {', '.join(KINDS)}.")
    if "\n" in subject.strip() or not subject.strip():
        raise TemplateRefused("The subject must be one line of text.")
    if len(body) > MAX_TEMPLATE or len(subject) > 500:
        raise TemplateRefused(f"A letter's template is at most {MAX_TEMPLATE} characters.")
    for part, text in (("subject", subject), ("body", body)):
        try:
            _ENV.from_string(text).render(sample_fields(kind))
        except TemplateError as exc:
            raise TemplateRefused(f"The {part} cannot be used: {exc}. Fields of this "
                                  f"letter: {', '.join(FIELDS[kind])}.") from None


def render(subject: str, body: str, fields: Mapping[str, Any]) -> tuple[str, str]:
    """The letter's subject (one line) and body, from its template and fields."""
    rendered = _ENV.from_string(subject).render(fields)
    return " ".join(rendered.split()), _ENV.from_string(body).render(fields)
