"""Billing data for the benchmarks: one advertiser account per dispute.

Credits to one account inside the policy's aggregation window add up for the tier choice
(threshold-splitting control), so a thousand disputes against one account would climb to the
top tier and wait for a controller. Giving each dispute its own account keeps every credit at
the same, two-level tier — the lifecycle the benchmarks claim to measure.
"""

from __future__ import annotations

from typing import Any

CREDIT = "6000.00"  # USD: the default policy's two-level tier (billing + senior billing manager)


def account(i: int) -> str:
    return f"BENCH-{i:06d}"


def invoice(i: int) -> str:
    return f"INV-B{i:06d}"


def billing_document(first: int, count: int) -> dict[str, Any]:
    """Accounts ``first .. first+count-1``, each with one open-period invoice line that the
    contract and the delivery data agree with (so findings are quick and clean)."""
    accounts, invoices, contracts, delivery = [], [], [], []
    for i in range(first, first + count):
        campaign = f"CB-{i:06d}"
        accounts.append({"id": account(i), "type": "advertiser", "name": f"Bench {i}",
                         "currency": "USD"})
        invoices.append({
            "number": invoice(i), "account_id": account(i), "currency": "USD",
            "period": "2026-10", "issued_on": "2026-11-01",
            "lines": [{"id": "L1", "product": "video", "campaign_id": campaign,
                       "units": 4_000_000, "unit": "impressions", "rate": "20.00",
                       "rate_basis": 1000, "amount": "80000.00"}]})
        contracts.append({"account_id": account(i), "campaign_id": campaign, "rate": "20.00",
                          "rate_basis": 1000, "valid_from": "2026-01-01",
                          "valid_to": "2026-12-31"})
        delivery.append({"campaign_id": campaign, "period": "2026-10", "units": 4_000_000})
    return {"accounts": accounts, "invoices": invoices, "contracts": contracts,
            "delivery": delivery, "fx_rates": [], "closed_periods": []}


def dispute_body(i: int) -> dict[str, Any]:
    return {"account_id": account(i), "invoice_number": invoice(i), "currency": "USD",
            "disputed_amount": CREDIT, "reason_code": "other", "description": "benchmark",
            "line_ids": ["L1"]}


INVESTIGATION: dict[str, Any] = {
    "root_cause": "other", "resolution": "full_credit",
    "credit_lines": [{"line_id": "L1", "amount": CREDIT}],
}
