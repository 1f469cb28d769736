"""The demo data set of ``disputeflow load-demo``: realistic enough to walk every path.

Advertisers, an agency and marketplace sellers in USD, EUR, GBP and JPY; September 2026 is a
closed period; invoices whose lines disagree with contract rates, with delivery (outside and
inside tolerance), bill a make-good, or repeat a line.
"""

from __future__ import annotations

from typing import Any

ACCOUNTS = [
    ("ADV-ACME", "advertiser", "Acme Home Goods", "USD"),
    ("ADV-NORD", "advertiser", "Nordlicht Kosmetik GmbH", "EUR"),
    ("ADV-BRIT", "advertiser", "Brit Tea Co.", "GBP"),
    ("AGY-OMNI", "agency", "Omnimedia Agency (for Fresh Foods)", "USD"),
    ("SLR-KAWA", "marketplace_seller", "Kawaguchi Kitchen", "JPY"),
    ("SLR-GRAN", "marketplace_seller", "Granite Outdoor", "USD"),
]


def _line(i: str, product: str, campaign: str, units: int, rate: str, basis: int,
          unit: str = "impressions", makegood: bool = False) -> dict[str, Any]:
    from decimal import Decimal

    amount = Decimal(rate) * units / basis
    places = "1" if rate.isdigit() and basis and "." not in rate else "0.01"
    return {"id": i, "product": product, "campaign_id": campaign, "units": units, "unit": unit,
            "rate": rate, "rate_basis": basis,
            "amount": str(amount.quantize(Decimal(places))), "makegood": makegood}


def document() -> dict[str, Any]:
    invoices = [
        {"number": "INV-2026-1001", "account_id": "ADV-ACME", "currency": "USD",
         "period": "2026-10", "issued_on": "2026-11-01", "lines": [
             _line("L1", "sponsored_products", "C-ACME-SP", 1_000_000, "12.50", 1000),
             _line("L2", "display", "C-ACME-DSP", 2_000_000, "6.00", 1000),
             _line("L3", "video", "C-ACME-VID", 500_000, "22.00", 1000)]},
        {"number": "INV-2026-1002", "account_id": "ADV-ACME", "currency": "USD",
         "period": "2026-09", "issued_on": "2026-10-01", "lines": [
             _line("L1", "sponsored_products", "C-ACME-SP", 800_000, "12.50", 1000)]},
        {"number": "INV-2026-2001", "account_id": "ADV-NORD", "currency": "EUR",
         "period": "2026-10", "issued_on": "2026-11-01", "lines": [
             _line("L1", "sponsored_brands", "C-NORD-SB", 40_000, "0.80", 1, "clicks"),
             _line("L2", "display", "C-NORD-DSP", 3_000_000, "5.00", 1000)]},
        {"number": "INV-2026-3001", "account_id": "ADV-BRIT", "currency": "GBP",
         "period": "2026-10", "issued_on": "2026-11-01", "lines": [
             _line("L1", "video", "C-BRIT-VID", 1_200_000, "18.00", 1000),
             _line("L2", "display", "C-BRIT-MG", 200_000, "4.00", 1000, makegood=True)]},
        {"number": "INV-2026-4001", "account_id": "AGY-OMNI", "currency": "USD",
         "period": "2026-10", "issued_on": "2026-11-01", "lines": [
             _line("L1", "display", "C-OMNI-DSP", 10_000_000, "4.50", 1000),
             _line("L2", "display", "C-OMNI-DSP", 10_000_000, "4.50", 1000),
             _line("L3", "sponsored_products", "C-OMNI-SP", 6_000_000, "11.00", 1000)]},
        {"number": "INV-2026-5001", "account_id": "SLR-KAWA", "currency": "JPY",
         "period": "2026-10", "issued_on": "2026-11-01", "lines": [
             _line("L1", "sponsored_products", "C-KAWA-SP", 300_000, "1800", 1000)]},
        {"number": "INV-2026-6001", "account_id": "SLR-GRAN", "currency": "USD",
         "period": "2026-10", "issued_on": "2026-11-01", "lines": [
             _line("L1", "sponsored_products", "C-GRAN-SP", 25_000_000, "9.00", 1000),
             _line("L2", "video", "C-GRAN-VID", 8_000_000, "20.00", 1000)]},
    ]
    contracts = [
        ("ADV-ACME", "C-ACME-SP", "10.00", 1000), ("ADV-ACME", "C-ACME-DSP", "6.00", 1000),
        ("ADV-ACME", "C-ACME-VID", "22.00", 1000), ("ADV-NORD", "C-NORD-SB", "0.65", 1),
        ("ADV-NORD", "C-NORD-DSP", "5.00", 1000), ("ADV-BRIT", "C-BRIT-VID", "18.00", 1000),
        ("ADV-BRIT", "C-BRIT-MG", "4.00", 1000), ("AGY-OMNI", "C-OMNI-DSP", "4.50", 1000),
        ("AGY-OMNI", "C-OMNI-SP", "11.00", 1000), ("SLR-KAWA", "C-KAWA-SP", "1500", 1000),
        ("SLR-GRAN", "C-GRAN-SP", "9.00", 1000), ("SLR-GRAN", "C-GRAN-VID", "17.50", 1000),
    ]
    delivery = [
        ("C-ACME-SP", "2026-10", 1_000_000, 0), ("C-ACME-DSP", "2026-10", 1_960_000, 0),
        ("C-ACME-VID", "2026-10", 410_000, 0), ("C-ACME-SP", "2026-09", 800_000, 0),
        ("C-NORD-SB", "2026-10", 40_000, 0), ("C-NORD-DSP", "2026-10", 2_500_000, 0),
        ("C-BRIT-VID", "2026-10", 1_200_000, 150_000), ("C-BRIT-MG", "2026-10", 200_000, 0),
        ("C-OMNI-DSP", "2026-10", 20_000_000, 0), ("C-OMNI-SP", "2026-10", 6_000_000, 0),
        ("C-KAWA-SP", "2026-10", 300_000, 0), ("C-GRAN-SP", "2026-10", 24_900_000, 0),
        ("C-GRAN-VID", "2026-10", 8_000_000, 0),
    ]
    return {
        "accounts": [{"id": a, "type": t, "name": n, "currency": c} for a, t, n, c in ACCOUNTS],
        "invoices": invoices,
        "contracts": [{"account_id": a, "campaign_id": c, "rate": r, "rate_basis": b,
                       "valid_from": "2026-01-01", "valid_to": "2026-12-31"}
                      for a, c, r, b in contracts],
        "delivery": [{"campaign_id": c, "period": p, "units": u, "makegood_units": m}
                     for c, p, u, m in delivery],
        "fx_rates": [
            {"currency": "EUR", "base": "USD", "rate": "1.08", "as_of": "2026-11-01"},
            {"currency": "GBP", "base": "USD", "rate": "1.27", "as_of": "2026-11-01"},
            {"currency": "JPY", "base": "USD", "rate": "0.0066", "as_of": "2026-11-01"},
        ],
        "closed_periods": ["2026-08", "2026-09"],
    }


# (name, email, roles, the shell variable its token is exported as)
DEMO_USERS = [
    ("Casey Client", "casey@demo.example", ["client_services"], "CS"),
    ("Ana Analyst", "ana@demo.example", ["analyst"], "AN"),
    ("Bill Manager", "bill@demo.example", ["billing_manager"], "BM"),
    ("Sam Senior", "sam@demo.example", ["senior_billing_manager"], "SAM"),
    ("Dana Director", "dana@demo.example", ["director_revops"], "DIR"),
    ("Carl Controller", "carl@demo.example", ["controller"], "CTRL"),
    ("Mia Manager", "mia@demo.example", ["manager"], "MGR"),
    ("Audrey Auditor", "audrey@demo.example", ["auditor"], "AUD"),
]
