"""A month of disputes with known figures, for the analytics (tests/db/test_analytics.py) and
the dashboard's browser check, written straight into the read model.

The window is October 2026 in the default policy's time zone (America/Los_Angeles):
``[2026-10-01T07:00Z, 2026-11-01T07:00Z)``, so positions are taken as of Nov 1 07:00 UTC.
EUR converts at 1.10 (from Sep 1).

====  =====  =====  ========  ===============  ===============  ==========================
id    acct   inv    amount    opened (UTC)     closed (UTC)     status, cause
====  =====  =====  ========  ===============  ===============  ==========================
D1    ADV-1  INV-1  1000 USD  Oct 2 17:00      -                investigating
D2    ADV-1  INV-1   500 USD  Oct 28 17:00     -                pending_approval, rate_card
D3    ADV-2  INV-3   200 EUR  Aug 25 17:00     -                investigating
D4    ADV-2  INV-3   300 EUR  Oct 10 17:00     Oct 20 17:00     resolved, rate_card
D5    ADV-1  INV-1   400 USD  Oct 19 03:00     Oct 25 17:00     denied, customer_misund.
D6    ADV-1  INV-1   100 USD  Oct 5 17:00      Oct 6 17:00      withdrawn
D7    ADV-1  INV-2   250 USD  Sep 20 17:00     Nov 10 17:00     resolved, rate_card
D8    ADV-1  INV-2    50 USD  Nov 5 17:00      -                investigating
====  =====  =====  ========  ===============  ===============  ==========================

D5 opened on Sunday Oct 18 in Los Angeles (Monday in UTC): its week is the one of Oct 12.
Lines disputed (``LINES``): D1 L1 (Sponsored Products), D3 E1 and D7 L2 (Display); D2 named
none, so both lines of INV-1 (one of each product, billed alike).
Memos: M2 (D2, 500 USD on L1, pending: level 1 billing_manager due Oct 30, prepared by Ana,
who holds billing_manager too); M4 (D4, 300 EUR = 330 USD on E1, approved by Bea 24 h after
it was created, posted Oct 20); M7 (D7, 250 USD: 150 on L1, 100 on L2; Ben approved level 1
after 24 h, Sam level 2 six hours later; posted Nov 10). Breaches: D1 acknowledge (stopped)
and investigate (open), D2 approval_1 (open), D5 resolve (stopped), and D3 investigate in
September (outside).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from db import billing, disputes
from db.models import (
    Account,
    ApprovalLevel,
    CreditMemo,
    CreditMemoLine,
    CreditMemoProduct,
    Dispute,
    FxRate,
    Invoice,
    InvoiceLine,
    SlaBreach,
    User,
)
from db.session import session_scope

START = datetime(2026, 10, 1, 7, tzinfo=UTC)
END = datetime(2026, 11, 1, 7, tzinfo=UTC)
SP, DISPLAY = "Sponsored Products", "Display"


def _at(month: int, day: int, hour: int = 17) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


# id, account, invoice, currency, minor, opened, closed, status, reason, root cause
DISPUTES = [
    ("D1", "ADV-1", "INV-1", "USD", 100000, _at(10, 2), None, "investigating",
     "rate_mismatch", None),
    ("D2", "ADV-1", "INV-1", "USD", 50000, _at(10, 28), None, "pending_approval",
     "delivery_shortfall", "rate_card"),
    ("D3", "ADV-2", "INV-3", "EUR", 20000, _at(8, 25), None, "investigating",
     "rate_mismatch", None),
    ("D4", "ADV-2", "INV-3", "EUR", 30000, _at(10, 10), _at(10, 20), "resolved",
     "rate_mismatch", "rate_card"),
    ("D5", "ADV-1", "INV-1", "USD", 40000, _at(10, 19, 3), _at(10, 25), "denied",
     "contract_terms", "customer_misunderstanding"),
    ("D6", "ADV-1", "INV-1", "USD", 10000, _at(10, 5), _at(10, 6), "withdrawn", "other", None),
    ("D7", "ADV-1", "INV-2", "USD", 25000, _at(9, 20), _at(11, 10), "resolved",
     "rate_mismatch", "rate_card"),
    ("D8", "ADV-1", "INV-2", "USD", 5000, _at(11, 5), None, "investigating", "other", None),
]


LINES = {"D1": ["L1"], "D3": ["E1"], "D4": ["E1"], "D5": ["L1"], "D6": ["L2"], "D7": ["L2"],
         "D8": ["L1"]}


def write_history(url: str) -> None:
    with session_scope(url) as s:
        for uid, name, roles in (("u-an", "Ana", ["analyst", "billing_manager"]),
                                 ("u-bm", "Bea", ["billing_manager"]),
                                 ("u-bm2", "Ben", ["billing_manager"]),
                                 ("u-sbm", "Sam", ["senior_billing_manager"]),
                                 ("u-cs", "Casey", ["client_services"])):
            s.add(User(id=uid, name=name, email=f"{uid}@analytics.example", roles=roles,
                       slack_user_id=None,
                       active=True, created_at=_at(1, 5)))
        s.add_all([Account(id="ADV-1", type="advertiser", name="Acme Foods", currency="USD"),
                   Account(id="ADV-2", type="agency", name="Brio Media", currency="EUR"),
                   FxRate(currency="EUR", base="USD", as_of=date(2026, 9, 1),
                          rate=Decimal("1.10"))])
        s.flush()
        for number, account, currency, issued in (
                ("INV-1", "ADV-1", "USD", date(2026, 10, 5)),
                ("INV-2", "ADV-1", "USD", date(2026, 10, 20)),
                ("INV-3", "ADV-2", "EUR", date(2026, 10, 10)),
                ("INV-4", "ADV-2", "EUR", date(2026, 9, 15)),
                ("INV-5", "ADV-1", "USD", date(2026, 10, 31))):
            s.add(Invoice(number=number, account_id=account, currency=currency,
                          period=issued.strftime("%Y-%m"), issued_on=issued,
                          total_minor=500000))
        s.flush()
        products = {("INV-1", "L1"): SP, ("INV-1", "L2"): DISPLAY, ("INV-2", "L1"): SP,
                    ("INV-2", "L2"): DISPLAY, ("INV-3", "E1"): DISPLAY,
                    ("INV-4", "E1"): DISPLAY, ("INV-5", "L1"): SP}
        for (invoice, line), product in products.items():
            s.add(InvoiceLine(invoice_number=invoice, line_id=line, position=1,
                              product=product, campaign_id=None, units=1000, unit="impressions",
                              rate=Decimal("2.50"), rate_basis=1000, amount_minor=250000,
                              makegood=False))
        first = {inv: min(d[5] for d in DISPUTES if d[2] == inv)
                 for inv in {d[2] for d in DISPUTES}}
        for (did, account, invoice, currency, minor, opened, closed, status, reason,
             cause) in DISPUTES:
            s.add(Dispute(id=did, status=status, account_id=account, invoice_number=invoice,
                          currency=currency, disputed_minor=minor, reason_code=reason,
                          opened_by="u-cs", opened_at=opened, closed_at=closed,
                          breached=did in ("D1", "D2", "D3", "D5"), root_cause=cause,
                          turnaround_s=None, rejections=0, revision=1, view={"id": did}))
        s.flush()
        for invoice, at in first.items():  # as the intake stamps them
            billing.mark_disputed(s, invoice_number=invoice, at=at)
        for d in DISPUTES:  # the lines named at intake; D2 named none: all of INV-1's
            disputes.record_lines(s, dispute_id=d[0], invoice_number=d[2],
                                  line_ids=LINES.get(d[0], []), disputed_minor=d[4])
        memos = [("M2", "D2", "INV-1", "pending_approval", "USD", 50000, Decimal(1), _at(10, 29),
                  [("L1", 50000)]),
                 ("M4", "D4", "INV-3", "posted", "EUR", 30000, Decimal("1.10"), _at(10, 15, 12),
                  [("E1", 30000)]),
                 ("M7", "D7", "INV-2", "posted", "USD", 25000, Decimal(1), _at(10, 25, 0),
                  [("L1", 15000), ("L2", 10000)])]
        posted = {"M4": _at(10, 20), "M7": _at(11, 10)}  # when their disputes resolved
        for number, did, invoice, status, currency, minor, rate, created, lines in memos:
            account = next(d[1] for d in DISPUTES if d[0] == did)
            s.add(CreditMemo(number=number, dispute_id=did, account_id=account, status=status,
                             invoice_number=invoice, currency=currency, total_minor=minor,
                             base_currency="USD", base_total_minor=int(minor * rate),
                             fx_rate=rate, fx_as_of=date(2026, 9, 1), prior_period=False,
                             preparer_id="u-an", policy_version=1, tier_min=Decimal(0),
                             chain={"reasons": [], "closed_periods": [],
                                    "window_total_base": "0"},
                             created_at=created, posted_at=posted.get(number)))
            s.flush()
            credited: dict[str, int] = defaultdict(int)
            for line, amount in lines:  # as a memo is written: its lines, its products
                s.add(CreditMemoLine(memo_number=number, line_id=line, invoice_number=invoice,
                                     amount_minor=amount))
                credited[products[invoice, line]] += amount
            s.add_all(CreditMemoProduct(memo_number=number, product=product, amount_minor=minor)
                      for product, minor in credited.items())
        # Each level pending since its memo's creation (level 1) or the approval of the one
        # before it, as the snapshot writes them.
        pending_since: dict[str, datetime | None] = {
            number: created for number, *_, created, _ in memos}
        for memo, did, level, role, status, who, decided, due in (
                ("M2", "D2", 1, "billing_manager", "pending", None, None, _at(10, 30)),
                ("M4", "D4", 1, "billing_manager", "approved", "u-bm", _at(10, 16, 12), None),
                ("M7", "D7", 1, "billing_manager", "approved", "u-bm2", _at(10, 26, 0), None),
                ("M7", "D7", 2, "senior_billing_manager", "approved", "u-sbm", _at(10, 26, 6),
                 None)):
            s.add(ApprovalLevel(memo_number=memo, level=level, dispute_id=did, role=role,
                                status=status, approver_id=who, delegate_of=None,
                                decided_at=decided, channel="api" if who else None,
                                comment=None, due_at=due, sod_checks=[],
                                pending_since=pending_since[memo], memo_preparer_id="u-an",
                                dispute_opener_id="u-cs"))
            pending_since[memo] = decided  # the next level's turn comes with this approval
        for did, clock, breached, stopped, role in (
                ("D1", "acknowledge", _at(10, 3), _at(10, 3, 20), "analyst"),
                ("D1", "investigate", _at(10, 8), None, "analyst"),
                ("D2", "approval_1", _at(10, 30), None, "billing_manager"),
                ("D5", "resolve", _at(10, 22), _at(10, 25), "analyst"),
                ("D3", "investigate", _at(9, 5), None, "analyst")):
            s.add(SlaBreach(dispute_id=did, clock=clock, due_at=breached - timedelta(hours=1),
                            breached_at=breached, stopped_at=stopped, assignee_role=role,
                            amount_minor=10000, currency="USD", escalated_to=None))
