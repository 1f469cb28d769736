"""Which change sends which letter, and what an admin's template may say (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.letters import DEFAULTS, TemplateRefused, check_template, letters_of, render
from domain.models import AuditEntry, DisputeOpened, DisputeState, Investigation

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def state(status: str = "investigating", **more: object) -> DisputeState:
    opened = DisputeOpened(dispute_id="DSP-1", account_id="ADV-1", invoice_number="INV-9",
                           currency="EUR", disputed_amount=Decimal("1200.5"),
                           reason_code="delivery_shortfall", description="", opened_by="U-1",
                           opened_at=AT)
    return DisputeState(opened=opened, status=status, **more)  # type: ignore[arg-type]


def opened() -> list[AuditEntry]:
    return [AuditEntry(actor="U-1", action="dispute.opened", message="", at=AT)]


def kinds(*args: object, **kwargs: object) -> list[str]:
    return [x.kind for x in letters_of(*args, account_name="Acme",  # type: ignore[arg-type]
                                       issuer_name="Billing", **kwargs)]


def test_each_change_sends_its_letter_once() -> None:
    assert kinds(state(), opened(), None) == ["acknowledgement"]
    assert kinds(state("pending_approval"), [], "investigating") == []
    assert kinds(state("withdrawn"), [], "investigating") == []  # the customer withdrew it
    investigation = Investigation(root_cause="customer_misunderstanding", resolution="deny",
                                  submitted_by="U-2", submitted_at=AT)
    (denial,) = letters_of(state("denied", investigation=investigation), [], "investigating",
                           account_name="Acme", issuer_name="Billing")
    assert denial.kind == "denial"
    assert denial.fields["denial_reason"] == "the root cause found was customer misunderstanding."
    assert denial.fields["disputed_amount"] == "1,200.50 EUR"  # the currency's minor units


def test_the_built_in_wording_renders_with_every_letters_fields() -> None:
    for kind, (subject, body) in DEFAULTS.items():
        check_template(kind, subject, body)
    subject, body = render("Dispute {{ dispute_id }}\n  received", "Hi {{ account_name }}",
                           {"dispute_id": "DSP-1", "account_name": "Acme"})
    assert subject == "Dispute DSP-1 received" and body == "Hi Acme"


@pytest.mark.parametrize("body", [
    "{{ credit_memo }}",  # an acknowledgement has no memo yet
    "{% for x in %}",  # does not parse
    "{{ account_name.__class__.__mro__ }}",  # outside the sandbox
    "{{ cycler.__init__.__globals__ }}",
])
def test_a_template_that_would_fail_a_customer_is_refused(body: str) -> None:
    with pytest.raises(TemplateRefused):
        check_template("acknowledgement", "Subject", body)


def test_the_subject_is_one_line() -> None:
    with pytest.raises(TemplateRefused, match="one line"):
        check_template("denial", "two\nlines", "body")
