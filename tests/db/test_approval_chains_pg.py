"""On PostgreSQL the database formats the approval-chain export; the Python formatter is the
definition. Over awkward data the two must produce the same records, byte for byte, so an
auditor's file does not depend on which database the deployment runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from db.approval_chains import export, iter_records_python
from db.approval_chains_pg import iter_records_pg
from db.models import ApprovalLevel, CreditMemo, Dispute, LedgerPosting
from db.session import session_scope

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
PASS = {"name": "not_preparer", "passed": True, "detail": "ok"}
FAIL = {"name": "holds_role", "passed": False, "detail": "no"}


@pytest.fixture
def pg_url(db_url: str) -> str:
    if make_url(db_url).get_backend_name() != "postgresql":
        pytest.skip("the database-formatted export runs on PostgreSQL only")
    return db_url


def _memo(url: str, number: str, *, at: datetime, currency: str, total: int,
          levels: list[dict[str, Any]], reasons: Any, postings: list[str],
          posted_at: datetime | None, tier_min: str = "5000", fx: str = "1.1") -> None:
    with session_scope(url) as s:
        s.add(Dispute(id="DSP-" + number, status="resolved", account_id="ADV-" + number,
                      invoice_number="INV-" + number, currency=currency,
                      disputed_minor=total, reason_code="other", opened_by="u-cs",
                      opened_at=at, closed_at=None, breached=False, root_cause=None,
                      revision=1, view={}))
        s.flush()
        s.add(CreditMemo(number=number, dispute_id="DSP-" + number, account_id="=ADV",
                         invoice_number="INV-" + number, status="posted" if posted_at else
                         "pending_approval", currency=currency, total_minor=total,
                         base_currency="USD", base_total_minor=total * 3 + 7,
                         fx_rate=Decimal(fx), fx_as_of=date(2026, 9, 30), prior_period=False,
                         preparer_id="u-an", policy_version=3, tier_min=Decimal(tier_min),
                         chain={"reasons": reasons, "levels": []}, created_at=at,
                         posted_at=posted_at))
        s.flush()
        for reference in postings:
            s.add(LedgerPosting(idempotency_key=f"k-{number}-{reference}", reference=reference,
                                memo_number=number, account_id="ADV", invoice_number="INV",
                                currency=currency, amount_minor=total, posted_at=at))
        for i, lv in enumerate(levels, start=1):
            s.add(ApprovalLevel(**{
                "memo_number": number, "level": i, "dispute_id": "DSP-" + number,
                "role": "billing_manager", "status": "approved", "approver_id": "u-bm",
                "delegate_of": None, "decided_at": at + timedelta(minutes=i),
                "channel": "slack", "comment": None, "due_at": None, "sod_checks": [PASS],
                "memo_preparer_id": "u-an", "dispute_opener_id": "u-cs", **lv}))


def _awkward(url: str) -> None:
    _memo(url, "CM-USD", at=T0, currency="USD", total=123456, reasons=["Credit of 1.00.",
          "Aggregated é 中."], postings=["LGR-2", "LGR-1"], posted_at=T0 + timedelta(hours=1),
          levels=[{"comment": '=HYPERLINK("x")', "sod_checks": [PASS, FAIL]},
                  {"role": "controller", "approver_id": "u-d", "delegate_of": "u-c",
                   "channel": "api", "comment": 'line one\r\nline "two", three',
                   "decided_at": T0 + timedelta(minutes=5, microseconds=7)}])
    _memo(url, "CM-JPY", at=T0 + timedelta(microseconds=123456), currency="JPY", total=-5,
          reasons=[], postings=[], posted_at=None, tier_min="0",
          levels=[{"status": "rejected", "comment": "+1 -2"},
                  {"status": "pending", "approver_id": None, "decided_at": None,
                   "channel": None, "sod_checks": []}])
    _memo(url, "CM-KWD", at=T0 + timedelta(seconds=1), currency="KWD", total=1, reasons=[],
          postings=["LGR-K"], posted_at=T0 + timedelta(days=1, microseconds=1), levels=[],
          tier_min="0.5", fx="3.2500")  # auto-approved, reasons derived
    _memo(url, "CM-BHD", at=T0 + timedelta(seconds=2), currency="BHD", total=9_007_199_254_740_993,
          reasons=["@own reason", 7], postings=[], posted_at=None, levels=[])
    _memo(url, "CM-NOTES", at=T0 + timedelta(seconds=2), currency="EUR", total=100,
          reasons="not a list", postings=[], posted_at=None,
          levels=[{"comment": "\tindented", "sod_checks": [{"passed": True}, "junk", FAIL]}])


@pytest.mark.parametrize("escape", [True, False])
@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_the_database_formats_exactly_as_python_does(pg_url: str, escape: bool,
                                                     batch: int) -> None:
    _awkward(pg_url)
    for start, end in [(None, None), (T0 + timedelta(microseconds=1), None),
                       (None, T0 + timedelta(seconds=2)),
                       (T0, T0 + timedelta(seconds=3))]:
        with session_scope(pg_url) as s:
            ours = list(iter_records_pg(s, start=start, end=end, batch=batch, escape=escape))
            reference = list(iter_records_python(s, start=start, end=end, batch=batch,
                                                 escape=escape))
        assert ours == reference, (start, end)
    assert sum(len(b) for b in reference) == 2 + 2 + 1 + 1 + 1


def test_the_download_on_postgresql_uses_it(pg_url: str) -> None:
    _awkward(pg_url)
    with session_scope(pg_url) as s:
        text = "".join(export(s, start=None, end=None, format="csv"))
        reference = list(iter_records_python(s, start=None, end=None, escape=True))
    assert "'=HYPERLINK" in text and "'=ADV" in text and "LGR-1, LGR-2" in text
    assert text.count("\r\n") >= 1 + sum(len(b) for b in reference)


def test_a_batch_must_hold_a_memo(pg_url: str) -> None:
    with session_scope(pg_url) as s, pytest.raises(ValueError, match="at least 1"):
        list(iter_records_pg(s, start=None, end=None, batch=0))


def test_the_export_is_one_instant_of_the_read_model(pg_url: str) -> None:
    """Two connections format alternate batches from one exported snapshot: a memo (or a
    decision) written while the file is being produced is in the next export, not this one."""
    _awkward(pg_url)
    with session_scope(pg_url) as s:
        batches = iter_records_pg(s, start=None, end=None, batch=1)
        first = next(batches)
        _memo(pg_url, "CM-LATE", at=T0 + timedelta(days=1), currency="USD", total=1,
              levels=[{}], reasons=[], postings=[], posted_at=None)
        with session_scope(pg_url) as w:  # and a level of a memo not yet exported changes
            w.get_one(ApprovalLevel, ("CM-NOTES", 1)).comment = "changed meanwhile"
        rest = [record for batch in batches for record in batch]
    memos = [r[3] for r in [*first, *rest]]
    assert memos == ["CM-USD", "CM-USD", "CM-JPY", "CM-JPY", "CM-KWD", "CM-BHD", "CM-NOTES"]
    assert rest[-1][22] == "\tindented"  # the comment as it was when the export began
    with session_scope(pg_url) as s:
        again = [r[3] for b in iter_records_pg(s, start=None, end=None) for r in b]
    assert again[-1] == "CM-LATE"
