"""A small billing data set for tests: each call can prefix ids so tests never collide."""

from __future__ import annotations

from typing import Any


def document() -> dict[str, Any]:
    return {
        "accounts": [
            {"id": "ADV-1", "type": "advertiser", "name": "Acme", "currency": "USD"},
            {"id": "ADV-EU", "type": "advertiser", "name": "Euro Brands", "currency": "EUR"},
            {"id": "ADV-JP", "type": "advertiser", "name": "Nippon Ads", "currency": "JPY"},
        ],
        "invoices": [
            {"number": "INV-1001", "account_id": "ADV-1", "currency": "USD", "period": "2026-10",
             "issued_on": "2026-11-01",
             "lines": [
                 {"id": "L1", "product": "sponsored_products", "campaign_id": "C-9",
                  "units": 100000, "unit": "impressions", "rate": "12.50", "rate_basis": 1000,
                  "amount": "1250.00"},
                 {"id": "L2", "product": "display", "campaign_id": "C-10", "units": 50000,
                  "unit": "impressions", "rate": "8.00", "rate_basis": 1000, "amount": "400.00"},
                 {"id": "L3", "product": "display", "campaign_id": "C-10", "units": 50000,
                  "unit": "impressions", "rate": "8.00", "rate_basis": 1000, "amount": "400.00"},
             ]},
            {"number": "INV-BIG", "account_id": "ADV-1", "currency": "USD", "period": "2026-10",
             "issued_on": "2026-11-01",
             "lines": [
                 {"id": "B1", "product": "video", "campaign_id": "C-20", "units": 4000000,
                  "unit": "impressions", "rate": "20.00", "rate_basis": 1000,
                  "amount": "80000.00"},
             ]},
            {"number": "INV-OLD", "account_id": "ADV-1", "currency": "USD", "period": "2026-09",
             "issued_on": "2026-10-01",
             "lines": [
                 {"id": "O1", "product": "display", "campaign_id": "C-11", "units": 10000,
                  "unit": "impressions", "rate": "10.00", "rate_basis": 1000,
                  "amount": "100.00"},
             ]},
            {"number": "INV-EU1", "account_id": "ADV-EU", "currency": "EUR", "period": "2026-10",
             "issued_on": "2026-11-01",
             "lines": [
                 {"id": "E1", "product": "sponsored_brands", "campaign_id": "C-30",
                  "units": 20000, "unit": "clicks", "rate": "0.50", "rate_basis": 1,
                  "amount": "10000.00"},
             ]},
            {"number": "INV-JP1", "account_id": "ADV-JP", "currency": "JPY", "period": "2026-10",
             "issued_on": "2026-11-01",
             "lines": [
                 {"id": "J1", "product": "display", "campaign_id": "C-40", "units": 100000,
                  "unit": "impressions", "rate": "1500", "rate_basis": 1000,
                  "amount": "150000"},
             ]},
        ],
        "contracts": [
            {"account_id": "ADV-1", "campaign_id": "C-9", "rate": "10.00", "rate_basis": 1000,
             "valid_from": "2026-01-01", "valid_to": "2026-12-31"},
            {"account_id": "ADV-1", "campaign_id": "C-10", "rate": "8.00", "rate_basis": 1000,
             "valid_from": "2026-01-01", "valid_to": "2026-12-31"},
            {"account_id": "ADV-1", "campaign_id": "C-20", "rate": "20.00", "rate_basis": 1000,
             "valid_from": "2026-01-01", "valid_to": "2026-12-31"},
        ],
        "delivery": [
            {"campaign_id": "C-9", "period": "2026-10", "units": 80000},
            {"campaign_id": "C-10", "period": "2026-10", "units": 98000},
            {"campaign_id": "C-20", "period": "2026-10", "units": 4000000},
        ],
        "fx_rates": [
            {"currency": "EUR", "base": "USD", "rate": "1.08", "as_of": "2026-11-01"},
        ],
        "closed_periods": ["2026-09"],
    }
