"""CSV billing data over real HTTP: admins import a file of one kind, a bad file answers 422
with every bad row and writes nothing, and a contract that bills by a third party's count
has its dispute's delivery finding judged against that count."""

from __future__ import annotations

import pytest

from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, error_code, wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

CSV = {"content-type": "text/csv"}
INVOICES = ("number,account_id,currency,period,issued_on,line_id,product,campaign_id,units,"
            "unit,rate,rate_basis,amount\n"
            "INV-7,ADV-1,USD,2026-10,2026-11-01,L1,display,C-70,1000,clicks,1.00,1,1000.00\n")


def test_admins_import_csv_files_and_a_bad_one_writes_nothing(stack: Stack, people: People,
                                                              admin_token: str) -> None:
    admin = stack.http(admin_token)
    url = "/api/v1/billing-data/csv"
    r = admin.post(url, params={"kind": "invoices"}, headers=CSV, content=(
        INVOICES + "INV-8,ADV-1,USD,2026-10,2026-11-01,L1,display,,1,clicks,1.00,1,1.001\n"
        "INV-9,ADV-404,EUR,2026-10,2026-11-01,L1,display,,1,clicks,1.00,1,1.00\n").encode())
    assert r.status_code == 422 and error_code(r) == "validation_error", r.text
    error = r.json()["error"]
    assert error["message"].startswith("3 rows read; 1 failed (line 3). Nothing was imported")
    assert error["details"] == [{"line": 3, "column": "amount", "message":
                                 "amount 1.001 has more decimals than USD allows (2)"}]
    # Valid rows, one refused by the database: its rows are named, and nothing is kept.
    r = admin.post(url, params={"kind": "invoices"}, headers=CSV, content=(
        INVOICES + "INV-9,ADV-404,EUR,2026-10,2026-11-01,L1,display,,1,clicks,1.00,1,1.00\n"
    ).encode())
    assert r.status_code == 422
    assert [(d["line"], d["column"]) for d in r.json()["error"]["details"]] == [
        (3, "account_id")]
    cs = as_user(stack, people, "cs")
    assert cs.post("/api/v1/disputes", json=dispute_body(
        invoice_number="INV-7", line_ids=["L1"])).status_code == 422  # INV-7 was not kept

    r = admin.post(url, params={"kind": "invoices"}, headers=CSV, content=INVOICES.encode())
    assert r.status_code == 200, r.text
    assert r.json() == {"kind": "invoices", "rows": 1, "created": 1, "updated": 0,
                        "unchanged": 0}
    r = admin.post(url, params={"kind": "invoices"},
                   headers={"content-type": "text/csv; charset=utf-8"},
                   content=("\ufeff" + INVOICES).encode())
    assert r.json()["unchanged"] == 1

    assert error_code(cs.post(url, params={"kind": "accounts"}, headers=CSV,
                              content=b"id,type,name,currency\n")) == "forbidden"
    r = admin.post(url, params={"kind": "accounts"}, json={"accounts": []})
    assert r.status_code == 415 and error_code(r) == "unsupported_media_type"
    r = admin.post(url, params={"kind": "ledgers"}, headers=CSV, content=b"x\n")
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "kind"
    big = b"id,type,name,currency\n" + b"ADV-X,advertiser,Acme,USD\n" * 50_000
    assert len(big) > stack.settings.disputeflow_max_body_bytes
    r = admin.post(url, params={"kind": "accounts"}, headers=CSV, content=big)
    assert r.status_code == 413 and error_code(r) == "payload_too_large"


def test_a_contract_billing_by_a_third_party_is_judged_by_its_count(
    stack: Stack, people: People, admin_token: str
) -> None:
    """INV-1001 bills C-10 100,000 impressions: our count is 98,000 (within 3 %), the
    third party's 80,000. Once the contract names the third party, the finding is theirs."""
    admin, cs = stack.http(admin_token), as_user(stack, people, "cs")
    url = "/api/v1/billing-data/csv"
    r = admin.post(url, params={"kind": "delivery"}, headers=CSV,
                   content=b"campaign_id,period,units,source\nC-10,2026-10,80000,gcm\n")
    assert r.json()["created"] == 1, r.text
    r = admin.post(url, params={"kind": "contracts"}, headers=CSV, content=(
        b"account_id,campaign_id,rate,rate_basis,valid_from,valid_to,measurement_source\n"
        b"ADV-1,C-10,8.00,1000,2026-01-01,2026-12-31,gcm\n"))
    assert r.json()["updated"] == 1, r.text

    opened = cs.post("/api/v1/disputes", json=dispute_body(
        reason_code="delivery_shortfall", disputed_amount="160.00", line_ids=["L1", "L2", "L3"],
        description="the ad server we bill by counted fewer")).json()
    view = wait_for(cs, opened["id"], lambda v: v["findings_ready"])
    found = {f["campaign_id"]: f for f in view["findings"] if f["kind"] == "delivery_shortfall"}
    assert found["C-10"]["source"] == "gcm" and found["C-10"]["status"] == "discrepancy"
    assert found["C-10"]["implied_credit"] == "160.00"
    assert "80,000 delivered as measured by gcm" in found["C-10"]["message"]
    # C-9's contract names no source: first-party counts, the finding's words as before.
    assert found["C-9"]["source"] == "first_party"
    assert found["C-9"]["message"] == ("Campaign C-9: 100,000 impressions billed, 80,000 "
                                       "delivered (25.0% over). Implies 250.00 USD.")
