"""The approval-chain export: one row per level, de-minimis rows, filters, safe CSV, streams."""

from __future__ import annotations

import copy
import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from approvals.chain import select_chain
from approvals.policy import DEFAULT_POLICY_DOCUMENT, parse_policy
from db.approval_chains import (
    EXPORT_COLUMNS,
    export,
    iter_csv,
    iter_json,
    iter_records,
)
from db.csv_cells import csv_safe, escaped
from db.models import (
    ApprovalLevel,
    CreditMemo,
    CreditMemoLine,
    Dispute,
    LedgerPosting,
    PolicyVersion,
    User,
)
from db.session import session_scope

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CHECKS = [{"name": "holds_role_or_delegation", "passed": True, "detail": "holds it directly"},
          {"name": "not_preparer", "passed": True, "detail": "did not prepare"}]


def _users(url: str) -> None:
    with session_scope(url) as s:
        for uid, roles in [("u-an", ["analyst"]), ("u-bm", ["billing_manager"]),
                           ("u-sbm", ["senior_billing_manager"])]:
            s.add(User(id=uid, name=f"Name of {uid}", email=f"{uid}@example.com", roles=roles,
                       slack_user_id=None, active=True,
                       created_at=T0))


def _memo(url: str, number: str, *, at: datetime, base: int = 120000,
          levels: list[dict[str, Any]] | None = None, version: int = 1,
          reasons: list[str] | None = None, status: str = "posted") -> None:
    """A memo of ``base`` minor units (EUR 1:1.1 to USD) with the given level rows."""
    dispute_id = "DSP-" + number
    with session_scope(url) as s:
        s.add(Dispute(id=dispute_id, status="resolved", account_id="ADV-EU",
                      invoice_number="INV-9", currency="EUR", disputed_minor=base,
                      reason_code="rate_mismatch", opened_by="u-cs", opened_at=at,
                      closed_at=None, breached=False, root_cause=None, revision=1, view={}))
        s.flush()  # no ORM relationships: insert parents first for the foreign keys
        s.add(CreditMemo(number=number, dispute_id=dispute_id, account_id="ADV-EU",
                         invoice_number="INV-9", status=status, currency="EUR",
                         total_minor=base, base_currency="USD",
                         base_total_minor=base * 11 // 10, fx_rate=Decimal("1.1"),
                         fx_as_of=date(2026, 10, 31), prior_period=False, preparer_id="u-an",
                         policy_version=version, tier_min=Decimal(0),
                         chain={"reasons": ["Credit of 1,320.00 USD.", "Second."] if reasons is None
                                else reasons,
                                "closed_periods": [], "window_total_base": "0",
                                "levels": [lv["role"] for lv in levels or []]},
                         created_at=at, posted_at=at + timedelta(hours=2)))
        s.flush()
        s.add(CreditMemoLine(memo_number=number, line_id="L1", invoice_number="INV-9",
                             amount_minor=base))
        s.add(LedgerPosting(idempotency_key="k-" + number, reference="LGR-" + number,
                            memo_number=number, account_id="ADV-EU", invoice_number="INV-9",
                            currency="EUR", amount_minor=base, posted_at=at))
        for i, lv in enumerate(levels or [], start=1):
            s.add(ApprovalLevel(**{
                "memo_number": number, "level": i, "dispute_id": dispute_id,
                "status": "approved", "approver_id": "u-bm", "delegate_of": None,
                "decided_at": at + timedelta(minutes=i), "channel": "slack", "comment": None,
                "due_at": None, "sod_checks": CHECKS, "memo_preparer_id": "u-an",
                "dispute_opener_id": "u-cs", **lv}))


def _rows(url: str, **kwargs: Any) -> list[dict[str, str]]:
    kwargs.setdefault("start", None)
    kwargs.setdefault("end", None)
    with session_scope(url) as s:
        return [dict(zip(EXPORT_COLUMNS, record, strict=True))
                for records in iter_records(s, **kwargs) for record in records]


def _de_minimis_policy(url: str) -> str:
    """Policy version 2: credits under 100 USD need no approver; returns the rule's reason."""
    document = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    document["tiers"] = [{"min": "0", "levels": []}, *document["tiers"]]
    document["tiers"][1]["min"] = "100"
    with session_scope(url) as s:
        s.add(PolicyVersion(version=2, document=document, created_by="test", created_at=T0,
                            effective_from=T0))
    return " ".join(select_chain(parse_policy(document), amount_base=Decimal("55.00")).reasons)


def test_one_row_per_level_with_every_column(db_url: str) -> None:
    _users(db_url)
    _memo(db_url, "CM-1", at=T0, levels=[
        {"role": "billing_manager", "comment": "ok"},
        {"role": "senior_billing_manager", "approver_id": "u-sbm", "delegate_of": "u-x",
         "channel": "api"}])
    rows = _rows(db_url)
    assert [list(r) for r in rows] == [EXPORT_COLUMNS, EXPORT_COLUMNS]
    first, second = rows
    assert first == {
        "dispute_id": "DSP-CM-1", "account_id": "ADV-EU", "invoice_number": "INV-9",
        "credit_memo": "CM-1", "memo_status": "posted",
        "memo_created_at": "2026-11-02T09:00:00+00:00", "currency": "EUR", "total": "1200.00",
        "base_currency": "USD", "base_total": "1320.00", "fx_rate": "1.1",
        "fx_as_of": "2026-10-31", "policy_version": "1", "tier_min": "0",
        "chain_reasons": "Credit of 1,320.00 USD. Second.", "level": "1",
        "levels_in_chain": "2", "required_role": "billing_manager", "level_status": "approved",
        "approver_id": "u-bm", "delegate_of": "", "decision": "approve", "comment": "ok",
        "channel": "slack", "decided_at": "2026-11-02T09:01:00+00:00",
        "sod_checks": "holds_role_or_delegation=pass; not_preparer=pass",
        "posted_at": "2026-11-02T11:00:00+00:00", "ledger_reference": "LGR-CM-1",
        "preparer_id": "u-an", "preparer_name": "Name of u-an", "approver_name": "Name of u-bm",
        "delegate_of_name": ""}
    assert (second["level"], second["required_role"], second["approver_id"],
            second["delegate_of"], second["channel"]) == (
        "2", "senior_billing_manager", "u-sbm", "u-x", "api")
    # Both: the id for matching, the name for reading; an unknown id has no name.
    assert (second["approver_name"], second["delegate_of_name"]) == ("Name of u-sbm", "")


def test_decision_follows_the_level_status(db_url: str) -> None:
    _memo(db_url, "CM-1", at=T0, status="rejected", levels=[
        {"role": "billing_manager"},
        {"role": "senior_billing_manager", "status": "rejected", "comment": "no"},
        {"role": "director_revops", "status": "voided", "approver_id": None,
         "decided_at": None, "channel": None, "sod_checks": []}])
    rows = _rows(db_url)
    assert [r["decision"] for r in rows] == ["approve", "reject", ""]
    assert rows[2]["approver_id"] == rows[2]["decided_at"] == rows[2]["sod_checks"] == ""


def test_a_de_minimis_memo_has_one_auto_approved_row(db_url: str) -> None:
    reason = _de_minimis_policy(db_url)
    _memo(db_url, "CM-1", at=T0, base=5000, version=2, reasons=[reason])
    (row,) = _rows(db_url)
    assert (row["level"], row["levels_in_chain"], row["required_role"], row["level_status"],
            row["decision"], row["approver_id"]) == (
        "0", "0", "", "auto_approved", "auto_approve", "")
    assert "de-minimis" in row["chain_reasons"] and row["policy_version"] == "2"


def test_a_de_minimis_memo_without_stored_reasons_still_explains_the_rule(db_url: str) -> None:
    _memo(db_url, "CM-1", at=T0, base=5000, reasons=[])
    (row,) = _rows(db_url)
    assert row["chain_reasons"] == ("No approval levels: auto-approved under the de-minimis "
                                    "tier (from 0 USD) of policy version 1.")


def test_from_is_inclusive_and_to_exclusive(db_url: str) -> None:
    for i in range(4):
        _memo(db_url, f"CM-{i}", at=T0 + timedelta(days=i), levels=[{"role": "billing_manager"}])
    rows = _rows(db_url, start=T0 + timedelta(days=1), end=T0 + timedelta(days=3))
    assert [r["credit_memo"] for r in rows] == ["CM-1", "CM-2"]
    assert [r["credit_memo"] for r in _rows(db_url, end=T0 + timedelta(days=1))] == ["CM-0"]
    assert [r["credit_memo"] for r in _rows(db_url, start=T0 + timedelta(days=3))] == ["CM-3"]


def test_batches_cross_boundaries_in_order(db_url: str) -> None:
    # CM-b and CM-c share a created_at and fall on either side of a batch=2 boundary.
    times = {"CM-e": 0, "CM-a": 1, "CM-b": 2, "CM-c": 2, "CM-d": 3}
    for number, day in times.items():
        _memo(db_url, number, at=T0 + timedelta(days=day),
              levels=[{"role": "billing_manager"}, {"role": "senior_billing_manager"}])
    expected = [(n, lv) for n in ["CM-e", "CM-a", "CM-b", "CM-c", "CM-d"] for lv in ("1", "2")]
    for batch in (1, 2, 5, 1000):
        rows = _rows(db_url, batch=batch)
        assert [(r["credit_memo"], r["level"]) for r in rows] == expected, batch


def test_formula_cells_are_escaped() -> None:
    for value in ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-2", "@x", "\tz", "\rz"]:
        assert csv_safe(value) == "'" + value
    for value in ["", "plain", "1.00", "a=b", "'quoted"]:
        assert csv_safe(value) == value


def test_csv_parses_back_to_the_rows(db_url: str) -> None:
    _memo(db_url, "CM-1", at=T0, levels=[
        {"role": "billing_manager", "comment": '=HYPERLINK("http://evil","click")'},
        {"role": "senior_billing_manager", "comment": "+1"},
        {"role": "director_revops", "comment": "-2"},
        {"role": "controller", "comment": '@x, "quoted"\nsecond line'}])
    rows = _rows(db_url)
    with session_scope(db_url) as s:
        chunks = list(export(s, start=None, end=None, format="csv"))
    assert chunks[0] == ",".join(EXPORT_COLUMNS) + "\r\n"
    assert all(c.endswith("\r\n") for c in chunks)
    parsed = list(csv.reader(io.StringIO("".join(chunks), newline="")))
    assert parsed[0] == EXPORT_COLUMNS
    comments = [line[EXPORT_COLUMNS.index("comment")] for line in parsed[1:]]
    assert comments == ["'=HYPERLINK(\"http://evil\",\"click\")", "'+1", "'-2",
                        "'@x, \"quoted\"\nsecond line"]
    unescaped = [{k: v[1:] if v.startswith("'") else v for k, v in zip(parsed[0], line,
                                                                          strict=True)}
                 for line in parsed[1:]]
    assert unescaped == rows


def test_json_stream_is_one_valid_document(db_url: str) -> None:
    _memo(db_url, "CM-1", at=T0, levels=[{"role": "billing_manager", "comment": "é \"q\""}])
    _memo(db_url, "CM-2", at=T0 + timedelta(days=1), levels=[{"role": "billing_manager"}])
    rows = _rows(db_url)
    with session_scope(db_url) as s:
        chunks = list(export(s, start=None, end=None, format="json"))
    assert json.loads("".join(chunks)) == {"items": rows}
    assert json.loads("".join(iter_json([]))) == {"items": []}
    assert json.loads("".join(iter_json([[], []]))) == {"items": []}


def test_streams_one_chunk_per_batch_and_holds_no_more(db_url: str) -> None:
    """An export of 100,000 memos must not sit in memory: the records come in batches of
    the asked size, in order, and the CSV has one chunk per batch after the header."""
    for i in range(5):
        _memo(db_url, f"CM-{i}", at=T0 + timedelta(hours=i),
              levels=[{"role": "billing_manager"}, {"role": "senior_billing_manager"}])
    with session_scope(db_url) as s:
        batches = list(iter_records(s, start=None, end=None, batch=2))
        chunks = list(iter_csv(iter_records(s, start=None, end=None, batch=2, escape=True)))
    assert [len(b) for b in batches] == [4, 4, 2]  # two memos of two levels, then one
    memos = [r[EXPORT_COLUMNS.index("credit_memo")] for b in batches for r in b]
    assert memos == ["CM-0", "CM-0", "CM-1", "CM-1", "CM-2", "CM-2", "CM-3", "CM-3",
                     "CM-4", "CM-4"]
    assert len(chunks) == 1 + 3
    assert [c.count("\r\n") for c in chunks] == [1, 4, 4, 2]


def test_export_refuses_an_unknown_format(db_url: str) -> None:
    with session_scope(db_url) as s, pytest.raises(ValueError, match="csv"):
        export(s, start=None, end=None, format="xlsx")


def test_record_escaping_matches_escaping_each_cell() -> None:
    """Records are escaped in one pass over their joined cells; that must agree with
    :func:`csv_safe` cell by cell, including cells that hold the join separator."""
    from itertools import product


    samples = ["", "plain", "=x", "+1", "-", "@a", "\tt", "\rr", "a=b", "\x1f=z", "=\x1f=", "'q"]
    for cells in product(samples, repeat=3):
        assert escaped(cells) == tuple(csv_safe(c) for c in cells), cells
