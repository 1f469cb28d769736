"""CSV billing data into the database: the same upsert as the JSON document, counted per
record, and nothing half-imported — one bad row, or one record the database refuses,
writes nothing at all (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from db import billing
from db.billing_csv import CsvImported, import_csv
from db.models import (
    Account,
    AuditEvent,
    CreditMemo,
    Delivery,
    Dispute,
    Invoice,
    InvoiceLine,
)
from db.session import session_scope
from domain.billing_csv import CsvRefused
from domain.billing_doc import BillingDocument
from tests.support import billing_data

ACCOUNTS = ("id,type,name,currency\n"
            "ADV-7,advertiser,\"Seven, Ltd\",USD\n"
            "ADV-8,agency,Eight,EUR\n")
INVOICES = ("number,account_id,currency,period,issued_on,line_id,product,campaign_id,units,"
            "unit,rate,rate_basis,amount\n"
            "INV-7,ADV-7,USD,2026-10,2026-11-01,L1,display,C-70,100000,impressions,10.00,1000,"
            "1000.00\n"
            "INV-7,ADV-7,USD,2026-10,2026-11-01,L2,video,C-71,1000,views,0.50,1,500.00\n"
            "INV-8,ADV-8,EUR,2026-10,2026-11-01,E1,display,,10,clicks,1.00,1,10.00\n")


def run(url: str, kind: str, text: str) -> CsvImported:
    with session_scope(url) as s:
        return import_csv(s, kind=kind, data=text.encode(), actor="t")


def counts(url: str) -> dict[str, int]:
    with session_scope(url, readonly=True) as s:
        return {model.__tablename__: int(s.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Account, Invoice, InvoiceLine, Delivery, AuditEvent)}


def test_files_are_upserted_and_counted_and_a_reimport_changes_nothing(db_url: str) -> None:
    assert run(db_url, "accounts", ACCOUNTS) == CsvImported("accounts", 2, 2, 0, 0)
    assert run(db_url, "invoices", INVOICES) == CsvImported("invoices", 3, 2, 0, 0)
    before = counts(db_url)
    assert run(db_url, "invoices", INVOICES) == CsvImported("invoices", 3, 0, 0, 2)
    assert counts(db_url) == before  # not even an audit event
    changed = INVOICES.replace("0.50,1,500.00", "0.40,1,400.00")
    assert run(db_url, "invoices", changed) == CsvImported("invoices", 3, 0, 1, 1)
    with session_scope(db_url, readonly=True) as s:
        inv = billing.load_invoice(s, "INV-7")
    assert inv is not None and str(inv.total) == "1400.00"
    assert [ln.id for ln in inv.lines] == ["L1", "L2"]


def test_one_bad_row_writes_nothing(db_url: str) -> None:
    run(db_url, "accounts", ACCOUNTS)
    before = counts(db_url)
    bad = INVOICES + "INV-9,ADV-7,USD,2026-10,2026-11-01,L1,display,,1,clicks,1,1,1.001\n"
    with pytest.raises(CsvRefused) as caught:
        run(db_url, "invoices", bad)
    assert caught.value.rows == 4 and caught.value.failed_lines == [5]
    assert counts(db_url) == before


def test_a_record_the_database_refuses_names_its_rows_and_writes_nothing(db_url: str) -> None:
    """Rows valid on their own, but an invoice of an account the database does not know:
    the earlier invoices of the file, already written in the transaction, go too."""
    run(db_url, "accounts", ACCOUNTS)
    before = counts(db_url)
    text = INVOICES + ("INV-9,ADV-404,USD,2026-10,2026-11-01,X1,display,,1,clicks,1,1,1.00\n"
                       "INV-9,ADV-404,USD,2026-10,2026-11-01,X2,display,,1,clicks,1,1,1.00\n")
    with pytest.raises(CsvRefused) as caught:
        run(db_url, "invoices", text)
    assert [(e.line, e.column) for e in caught.value.errors] == [(5, "account_id"),
                                                                 (6, "account_id")]
    assert "account ADV-404 is not in the billing data" in caught.value.errors[0].message
    assert counts(db_url) == before


def test_lines_of_an_invoice_with_credit_memos_cannot_change(db_url: str) -> None:
    run(db_url, "accounts", ACCOUNTS)
    run(db_url, "invoices", INVOICES)
    with session_scope(db_url) as s:
        s.add(Dispute(id="D-7", status="pending_approval", account_id="ADV-7",
                      invoice_number="INV-7", currency="USD", disputed_minor=100,
                      reason_code="other", opened_by="U-0",
                      opened_at=datetime(2026, 11, 2, tzinfo=UTC), view={}))
        s.flush()
        s.add(CreditMemo(
            number="CM-7", dispute_id="D-7", account_id="ADV-7", invoice_number="INV-7",
            status="approved", currency="USD", total_minor=100, base_currency="USD",
            base_total_minor=100, fx_rate="1", fx_as_of=date(2026, 11, 2), prior_period=False,
            preparer_id="U-1", policy_version=1, tier_min="0", chain={},
            created_at=datetime(2026, 11, 2, tzinfo=UTC)))
    before = counts(db_url)
    # INV-8 changes (and would be written first); INV-7 loses a line it was credited on.
    text = INVOICES.replace("10,clicks,1.00,1,10.00", "20,clicks,1.00,1,20.00")
    text = "\n".join(ln for ln in text.splitlines() if ",L2," not in ln) + "\n"
    with pytest.raises(CsvRefused) as caught:
        run(db_url, "invoices", text)
    assert [(e.line, e.column) for e in caught.value.errors] == [(2, "line_id")]
    assert "already has credit memos" in caught.value.errors[0].message
    assert counts(db_url) == before
    with session_scope(db_url, readonly=True) as s:
        inv = billing.load_invoice(s, "INV-8")
    assert inv is not None and str(inv.total) == "10.00"


def test_a_refusal_leaves_the_callers_transaction_as_it_was(db_url: str) -> None:
    with session_scope(db_url) as s:
        s.add(Account(id="ADV-K", type="advertiser", name="Kept", currency="USD"))
        with pytest.raises(CsvRefused):
            import_csv(s, kind="invoices", actor="t", data=(
                INVOICES.split("\n", 1)[0] + "\n"
                "INV-K,ADV-K,USD,2026-10,2026-11-01,K1,display,,1,clicks,1,1,1.00\n"
                "INV-X,ADV-404,USD,2026-10,2026-11-01,X1,display,,1,clicks,1,1,1.00\n"
            ).encode())
    with session_scope(db_url, readonly=True) as s:
        assert s.get(Account, "ADV-K") is not None and s.get(Invoice, "INV-K") is None


def test_delivery_from_several_sources_and_contracts_naming_theirs(db_url: str) -> None:
    with session_scope(db_url) as s:
        billing.import_document(s, BillingDocument.model_validate(billing_data.document()),
                                actor="t")
    assert run(db_url, "delivery", "campaign_id,period,units,source\n"
               "C-9,2026-10,80000,first_party\n"   # as the JSON document has it already
               "C-9,2026-10,70000,gcm\n") == CsvImported("delivery", 2, 1, 0, 1)
    assert run(db_url, "contracts", "account_id,campaign_id,rate,rate_basis,valid_from,"
               "valid_to,measurement_source\n"
               "ADV-1,C-9,10.00,1000,2026-01-01,2026-12-31,GCM\n") == CsvImported(
                   "contracts", 1, 0, 1, 0)
    with session_scope(db_url, readonly=True) as s:
        records = billing.delivery_for(s, ["C-9"], "2026-10")
        terms = billing.contracts_for(s, "ADV-1", ["C-9"])
    assert sorted((d.source, d.units) for d in records) == [("first_party", 80000),
                                                           ("gcm", 70000)]
    assert [t.measurement_source for t in terms] == ["gcm"]
    # The JSON document carries the same fields, to the same rows.
    doc = {"delivery": [{"campaign_id": "C-9", "period": "2026-10", "units": 71000,
                         "source": "gcm"}]}
    with session_scope(db_url) as s:
        assert billing.import_document(s, BillingDocument.model_validate(doc),
                                       actor="t")["delivery"] == 1
        assert {d.source: d.units for d in billing.delivery_for(s, ["C-9"], "2026-10")} == {
            "first_party": 80000, "gcm": 71000}
