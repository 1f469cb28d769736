"""CSV billing data, parsed and validated without a database: every bad row named by its
line (as a spreadsheet numbers it) and column, and a good file becoming the same document
the JSON import takes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.billing_csv import CsvRefused, RowError, parse, template
from domain.billing_csv_columns import COLUMNS

INVOICE_HEADER = ("number,account_id,currency,period,issued_on,line_id,product,campaign_id,"
                  "units,unit,rate,rate_basis,amount")


def refused(kind: str, text: str | bytes) -> CsvRefused:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(CsvRefused) as caught:
        parse(kind, data)
    return caught.value


def where(exc: CsvRefused) -> list[tuple[int | None, str | None]]:
    return [(e.line, e.column) for e in exc.errors]


def test_accounts_with_a_bom_quoted_commas_and_crlf_become_the_document() -> None:
    data = ("\ufeffid,type,name,currency\r\n"
            'ADV-1,advertiser,"Acme, Inc.",USD\r\n'
            'ADV-2,agency,"The ""Best"" Agency",EUR\r\n'
            ",,,\r\n").encode()  # an empty row, as spreadsheets leave at the end
    parsed = parse("accounts", data)
    assert parsed.rows == 2
    assert [(a.id, a.name, a.currency) for a in parsed.document.accounts] == [
        ("ADV-1", "Acme, Inc.", "USD"), ("ADV-2", 'The "Best" Agency', "EUR")]
    assert parsed.lines == {"ADV-1": (2,), "ADV-2": (3,)}


def test_invoice_rows_are_lines_grouped_into_invoices_with_exact_amounts() -> None:
    data = (f"{INVOICE_HEADER},makegood\n"
            "INV-1,ADV-1,USD,2026-10,2026-11-01,L1,display,C-9,100000,impressions,12.50,1000,"
            "1250.00,\n"
            "INV-2,ADV-1,JPY,2026-10,2026-11-01,J1,display,,100,clicks,15,,1500,no\n"
            "INV-1,ADV-1,USD,2026-10,2026-11-01,L2,display,C-9,5000,impressions,0,1000,0,yes\n")
    parsed = parse("invoices", data.encode())
    assert parsed.rows == 3
    first, second = parsed.document.invoices
    assert (first.number, [ln.id for ln in first.lines], first.total) == (
        "INV-1", ["L1", "L2"], Decimal("1250.00"))
    assert first.issued_on == date(2026, 11, 1) and first.lines[1].makegood
    assert isinstance(first.lines[0].amount, Decimal) and first.lines[0].rate == Decimal("12.50")
    assert second.lines[0].campaign_id is None and second.lines[0].rate_basis == 1
    assert second.total == Decimal("1500")
    assert parsed.lines == {"INV-1": (2, 4), "INV-2": (3,)}


def test_bad_amounts_are_refused_by_the_currency_minor_units_never_rounded() -> None:
    exc = refused("invoices", f"{INVOICE_HEADER}\n"
                  "INV-1,ADV-1,USD,2026-10,2026-11-01,L1,display,,1,clicks,1,,12.345\n"
                  "INV-2,ADV-1,JPY,2026-10,2026-11-01,J1,display,,1,clicks,1,,10.5\n"
                  "INV-3,ADV-1,USD,2026-10,2026-11-01,L1,display,,1,clicks,1,,\"1,250.00\"\n"
                  "INV-4,ADV-1,USD,2026-10,2026-11-01,L1,display,,1,clicks,abc,,1.00\n")
    assert where(exc) == [(2, "amount"), (3, "amount"), (4, "amount"), (5, "rate")]
    assert "more decimals than USD allows (2)" in exc.errors[0].message
    assert "more decimals than JPY allows (0)" in exc.errors[1].message
    assert "not a decimal number" in exc.errors[2].message
    assert exc.rows == 4 and exc.failed_lines == [2, 3, 4, 5]
    assert exc.summary.startswith("4 rows read; 4 failed (lines 2, 3, 4, 5). Nothing was "
                                  "imported")


def test_an_unknown_currency_is_named_in_its_column() -> None:
    exc = refused("invoices", f"{INVOICE_HEADER}\n"
                  "INV-1,ADV-1,XXX,2026-10,2026-11-01,L1,display,,1,clicks,1,,1.00\n")
    assert where(exc) == [(2, "currency")]
    assert "'XXX' is not a supported ISO 4217 code" in exc.errors[0].message
    exc = refused("accounts", "id,type,name,currency\nADV-1,advertiser,Acme,usd\n")
    assert where(exc) == [(2, "currency")]
    assert "three-letter ISO 4217 code" in exc.errors[0].message


def test_missing_unknown_and_repeated_columns_are_refused_by_name() -> None:
    exc = refused("delivery", "campaign_id,units,sorce,units\nC-9,100,gcm,100\n")
    assert where(exc) == [(1, "period"), (1, "sorce"), (1, "units")]
    messages = " ".join(e.message for e in exc.errors)
    assert "column period is missing" in messages and "unknown column 'sorce'" in messages
    assert "appears twice" in messages and exc.rows == 0


def test_a_file_without_a_header_or_with_no_bytes_is_refused() -> None:
    assert where(refused("fx", b"")) == [(1, None)]
    assert "header" in refused("fx", b"\n\n").errors[0].message


def test_duplicate_keys_within_one_file_name_the_first_line() -> None:
    exc = refused("delivery", "campaign_id,period,units,source\n"
                  "C-9,2026-10,80000,\n"
                  "C-9,2026-10,81000,gcm\n"
                  "C-9,2026-10,80000,first_party\n"   # the same as an empty source
                  "C-9,2026-10,79000,GCM\n")          # sources are one name, any case
    assert where(exc) == [(4, "source"), (5, "source")]
    assert exc.errors[0].message.startswith("repeats line 2: the same campaign_id, period "
                                            "and source (C-9, 2026-10, first_party)")
    assert "repeats line 3" in exc.errors[1].message
    exc = refused("invoices", f"{INVOICE_HEADER}\n"
                  "INV-1,ADV-1,USD,2026-10,2026-11-01,L1,display,,1,clicks,1,,1.00\n"
                  "INV-1,ADV-1,USD,2026-10,2026-11-01,L1,display,,2,clicks,1,,2.00\n")
    assert where(exc) == [(3, "line_id")]


def test_rows_of_one_invoice_must_agree_on_the_invoice_fields() -> None:
    exc = refused("invoices", f"{INVOICE_HEADER}\n"
                  "INV-1,ADV-1,USD,2026-10,2026-11-01,L1,display,,1,clicks,1,,1.00\n"
                  "INV-1,ADV-2,USD,2026-10,2026-11-02,L2,display,,1,clicks,1,,1.00\n")
    assert where(exc) == [(3, "account_id"), (3, "issued_on")]
    assert "invoice INV-1 has account_id ADV-1 on line 2" in exc.errors[0].message


def test_every_problem_of_every_row_is_reported_in_plain_words() -> None:
    exc = refused("contracts", "account_id,campaign_id,rate,valid_from,valid_to,"
                  "measurement_source\n"
                  "ADV-1,C-9,10.00,2026-01-01,2026-12-31,gcm\n"
                  "ADV 1,C-9,-1,2026-02-30,2026-12-31,x y\n"
                  "ADV-1,C-10,10.00,2026-06-01,2026-01-01,\n"
                  "ADV-1,C-11,10.00,01/06/2026,2026-12-31\n")
    assert where(exc) == [(3, "account_id"), (3, "measurement_source"), (3, "rate"),
                          (3, "valid_from"), (4, "valid_to"), (5, None)]
    by = {(e.line, e.column): e.message for e in exc.errors}
    assert by[(3, "account_id")].startswith("account_id may hold only letters")
    assert by[(3, "valid_from")] == ("valid_from must be a date written YYYY-MM-DD, such as "
                                     "2026-11-01 (got '2026-02-30')")
    assert by[(4, "valid_to")] == "valid_to is before valid_from"
    assert by[(5, None)] == "the row has 5 cells; the header has 6 columns"
    assert str(exc.errors[0]).startswith("line 3, account_id: ")


def test_units_must_be_whole_numbers_and_flags_yes_or_no() -> None:
    exc = refused("delivery", "campaign_id,period,units,makegood_units\n"
                  "C-9,2026-10,\"80,000\",0\nC-9,2026-11,1.5,-1\nC-9,2026-13,1,0\n")
    assert where(exc) == [(2, "units"), (3, "makegood_units"), (3, "units"), (4, "period")]
    assert "whole number" in exc.errors[0].message
    assert exc.errors[1].message == "makegood_units must be at least 0"
    exc = refused("invoices", f"{INVOICE_HEADER},makegood\n"
                  "INV-1,ADV-1,USD,2026-10,2026-11-01,L1,display,,1,clicks,1,,1.00,maybe\n")
    assert where(exc) == [(2, "makegood")]


def test_a_quote_left_open_is_named_with_the_rows_before_it() -> None:
    exc = refused("fx", 'currency,base,rate,as_of\nEUR,USD,1.08,2026-11-01\n'
                  'GBP,USD,"1.27,2026-11-01\n')
    assert exc.rows == 2 and where(exc) == [(3, None)]
    assert "check its quotes" in exc.errors[0].message


def test_a_quoted_line_break_is_one_spreadsheet_row() -> None:
    exc = refused("accounts", 'id,type,name,currency\nADV-1,advertiser,"Acme\nWest",USD\n'
                  "ADV-2,advertiser,Beta,XXX\n")
    assert where(exc) == [(3, "currency")]


def test_text_that_is_not_utf8_is_refused_with_its_line() -> None:
    exc = refused("accounts", b"id,type,name,currency\nADV-1,advertiser,Caf\xe9,EUR\n")
    assert where(exc) == [(2, None)] and "UTF-8" in exc.errors[0].message


def test_fx_and_delivery_sources_read_as_the_json_document_does() -> None:
    parsed = parse("fx", b"currency,base,rate,as_of\nEUR,USD,1.08,2026-11-01\n")
    assert parsed.document.fx_rates[0].rate == Decimal("1.08")
    parsed = parse("delivery", b"period,campaign_id,units,source\n2026-10,C-9,80000,IAS\n"
                   b"2026-10,C-9,81000,\n")
    assert [(d.source, d.units, d.makegood_units) for d in parsed.document.delivery] == [
        ("ias", 80000, 0), ("first_party", 81000, 0)]
    assert refused("fx", b"currency,base,rate,as_of\nEUR,USD,0,2026-11-01\n").errors == [
        RowError(2, "rate", "rate must be greater than zero")]


def test_templates_name_every_column() -> None:
    assert template("invoices").startswith("number,account_id,currency,period,issued_on,"
                                           "line_id,")
    assert set(COLUMNS) == {"accounts", "invoices", "contracts", "delivery", "fx"}
    assert where(refused("ledgers", b"x\n")) == [(None, None)]
