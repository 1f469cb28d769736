"""Billing data import: validated whole, upserted by key, re-import changes nothing."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from db import billing
from db.session import session_scope
from domain.billing_doc import BillingDocument
from tests.support import billing_data


def test_reimport_changes_nothing_and_a_change_is_applied(db_url: str) -> None:
    doc = billing_data.document()
    with session_scope(db_url) as s:
        first = billing.import_document(s, BillingDocument.model_validate(doc), actor="t")
    with session_scope(db_url) as s:
        again = billing.import_document(s, BillingDocument.model_validate(doc), actor="t")
    assert sum(first.values()) > 0
    assert sum(again.values()) == 0
    changed = copy.deepcopy(doc)
    changed["contracts"][0]["rate"] = "11.00"
    with session_scope(db_url) as s:
        result = billing.import_document(s, BillingDocument.model_validate(changed), actor="t")
        assert result["contracts"] == 1
        terms = billing.contracts_for(s, "ADV-1", ["C-9"])
    assert str(terms[0].rate) == "11.00"


@pytest.mark.parametrize("mutate", [
    lambda d: d["invoices"][0]["lines"][0].update(amount=12.5),
    lambda d: d["invoices"][0]["lines"][0].update(amount="1.001"),
    lambda d: d["invoices"][0].update(period="2026-13"),
    lambda d: d["accounts"][0].update(currency="XXX"),
    lambda d: d["fx_rates"][0].update(rate="0"),
    lambda d: d["contracts"][0].update(valid_to="2025-01-01"),
])
def test_bad_documents_are_refused_whole(mutate: object) -> None:
    doc = billing_data.document()
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(ValidationError):
        BillingDocument.model_validate(doc)


def test_invoice_for_unknown_account_writes_nothing(db_url: str) -> None:
    doc = {"invoices": [billing_data.document()["invoices"][0]]}
    with session_scope(db_url) as s, pytest.raises(billing.ImportProblem):
        billing.import_document(s, BillingDocument.model_validate(doc), actor="t")
    with session_scope(db_url) as s:
        assert billing.load_invoice(s, "INV-1001") is None
