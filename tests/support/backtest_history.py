"""A prepared history of credit memos for the policy back-test, written straight into the read
model (what the workflow would have stored under the default policy, version 1).

October 2026, base currency USD, the default policy's 30-day aggregation window:

======  =====  ============  ======  =========  =====================  ======  ===========
memo    acct   created       base    status     recorded chain         window  note
======  =====  ============  ======  =========  =====================  ======  ===========
CM-0    ADV-1  Sep 20 09:00     500  posted     bm                          0  before window
CM-1    ADV-1  Oct 1 09:00    1,000  posted     bm                        500  by Cy
CM-2    ADV-1  Oct 2 09:00    3,000  rejected   bm                      1,500  rejected Oct 3
CM-3    ADV-1  Oct 2 12:00    1,500  approved   bm, sbm                 4,500
CM-4    ADV-1  Oct 25 09:00   3,000  approved   bm, sbm                 2,500
CM-5    ADV-2  Oct 10 09:00  30,000  posted     bm, sbm, dir                0
CM-6    ADV-3  Oct 12 09:00     200  approved   bm, controller              0  prior period
CM-10   ADV-3  Oct 13 09:00     900  voided     bm                        200  withdrawn Oct 14
CM-7    ADV-3  Oct 14 09:00     800  voided     bm                        200  revised by CM-8
CM-11   ADV-3  Oct 14 12:00     100  approved   bm                      1,000
CM-8    ADV-3  Oct 15 09:00     700  approved   bm                        300  revises CM-7
======  =====  ============  ======  =========  =====================  ======  ===========

Cy (``u-ctrl``) is the only controller and also prepares memos (CM-1), as in a small team.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from db.models import ApprovalLevel, CreditMemo, Dispute, User
from db.session import session_scope

BM, SBM, DIR, CTRL = "billing_manager", "senior_billing_manager", "director_revops", "controller"
START, END = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
USERS = {"u-cs": ("Casey", ["client_services"]), "u-an": ("Ana", ["analyst"]),
         "u-bm": ("Bea", [BM]), "u-sbm": ("Sam", [SBM]), "u-dir": ("Dee", [DIR]),
         "u-ctrl": ("Cy", ["analyst", CTRL])}

# number, dispute, account, created, base USD, status, roles, recorded window, preparer
MEMOS: list[tuple[str, str, str, datetime, int, str, list[str], int, str]] = [
    ("CM-0", "D-0", "ADV-1", datetime(2026, 9, 20, 9, tzinfo=UTC), 500, "posted", [BM], 0,
     "u-an"),
    ("CM-1", "D-1", "ADV-1", datetime(2026, 10, 1, 9, tzinfo=UTC), 1000, "posted", [BM], 500,
     "u-ctrl"),
    ("CM-2", "D-2", "ADV-1", datetime(2026, 10, 2, 9, tzinfo=UTC), 3000, "rejected", [BM], 1500,
     "u-an"),
    ("CM-3", "D-3", "ADV-1", datetime(2026, 10, 2, 12, tzinfo=UTC), 1500, "approved", [BM, SBM],
     4500, "u-an"),
    ("CM-4", "D-4", "ADV-1", datetime(2026, 10, 25, 9, tzinfo=UTC), 3000, "approved", [BM, SBM],
     2500, "u-an"),
    ("CM-5", "D-5", "ADV-2", datetime(2026, 10, 10, 9, tzinfo=UTC), 30000, "posted",
     [BM, SBM, DIR], 0, "u-an"),
    ("CM-6", "D-6", "ADV-3", datetime(2026, 10, 12, 9, tzinfo=UTC), 200, "approved", [BM, CTRL],
     0, "u-an"),
    ("CM-10", "D-10", "ADV-3", datetime(2026, 10, 13, 9, tzinfo=UTC), 900, "voided", [BM], 200,
     "u-an"),
    ("CM-7", "D-7", "ADV-3", datetime(2026, 10, 14, 9, tzinfo=UTC), 800, "voided", [BM], 200,
     "u-an"),
    ("CM-11", "D-11", "ADV-3", datetime(2026, 10, 14, 12, tzinfo=UTC), 100, "approved", [BM],
     1000, "u-an"),
    ("CM-8", "D-7", "ADV-3", datetime(2026, 10, 15, 9, tzinfo=UTC), 700, "approved", [BM], 300,
     "u-an"),
]
CLOSED = {"D-10": datetime(2026, 10, 14, tzinfo=UTC)}  # withdrawn
REJECTED_AT = {"CM-2": datetime(2026, 10, 3, 9, tzinfo=UTC)}
IN_WINDOW = [m[0] for m in sorted(MEMOS, key=lambda m: (m[3], m[0]))
             if START <= m[3] < END and m[5] != "voided"]


def _tier_min(roles: list[str]) -> Decimal:
    return Decimal(25000 if DIR in roles else 5000 if SBM in roles else 0)


def write_history(url: str) -> None:
    """Insert the users and memos above (the default policy, version 1, is migrated in)."""
    with session_scope(url) as s:
        for uid, (name, roles) in USERS.items():
            s.add(User(id=uid, name=name, email=f"{uid}@backtest.example", roles=roles,
                       slack_user_id=None, active=True,
                       created_at=START - timedelta(days=60)))
        for dispute in sorted({m[1] for m in MEMOS}):
            first = min(m for m in MEMOS if m[1] == dispute)
            s.add(Dispute(id=dispute, status="closed" if dispute in CLOSED else "resolved",
                          account_id=first[2], invoice_number="INV-1", currency="USD",
                          disputed_minor=first[4] * 100, reason_code="rate_mismatch",
                          opened_by="u-cs", opened_at=first[3] - timedelta(hours=1),
                          closed_at=CLOSED.get(dispute), breached=False, root_cause=None,
                          revision=1, view={}))
        s.flush()
        for number, dispute, account, at, base, status, roles, window, preparer in MEMOS:
            prior = CTRL in roles
            s.add(CreditMemo(
                number=number, dispute_id=dispute, account_id=account, invoice_number="INV-1",
                status=status, currency="USD", total_minor=base * 100, base_currency="USD",
                base_total_minor=base * 100, fx_rate=Decimal(1), fx_as_of=date(2026, 9, 1),
                prior_period=prior, preparer_id=preparer, policy_version=1,
                tier_min=_tier_min(roles),
                chain={"reasons": [], "closed_periods": ["2026-09"] if prior else [],
                       "window_total_base": f"{window}.00"},
                created_at=at, posted_at=at + timedelta(days=1) if status == "posted" else None))
        s.flush()
        for number, dispute, _, at, _, status, roles, _, preparer in MEMOS:
            for i, role in enumerate(roles, start=1):
                done = {"approved": "approved", "posted": "approved"}.get(status)
                rejected = number in REJECTED_AT
                s.add(ApprovalLevel(
                    memo_number=number, level=i, dispute_id=dispute, role=role,
                    status="rejected" if rejected else done or "voided",
                    approver_id={BM: "u-bm", SBM: "u-sbm", DIR: "u-dir", CTRL: "u-ctrl"}[role]
                    if done or rejected else None,
                    delegate_of=None,
                    decided_at=REJECTED_AT.get(number, at + timedelta(hours=i))
                    if done or rejected else None,
                    channel="api", comment=None, due_at=None, sod_checks=[],
                    memo_preparer_id=preparer, dispute_opener_id="u-cs"))
