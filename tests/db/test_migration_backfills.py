"""Migrations that add a derived column or table fill it for the rows already there: a
database upgraded in place answers like one whose rows were written by today's code."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from db.migrate import upgrade
from db.session import dispose_engine, get_engine
from db.types import UTCDateTime
from tests.support.databases import PG_URL

T0 = datetime(2026, 10, 2, 17, tzinfo=UTC)


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, on the backend under test."""
    if not PG_URL:
        url = f"sqlite:///{tmp_path / 'old.db'}"
        yield url
        dispose_engine(url)
        return
    admin_url = make_url(PG_URL).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"dfl_mig_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose_engine(url)
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


ACCOUNTS = sa.table("accounts", sa.column("id"), sa.column("type"), sa.column("name"),
                    sa.column("currency"))
INVOICES = sa.table("invoices", sa.column("number"), sa.column("account_id"),
                    sa.column("currency"), sa.column("period"), sa.column("issued_on"),
                    sa.column("total_minor"))
LINES = sa.table("invoice_lines", *(sa.column(c) for c in (
    "invoice_number", "line_id", "position", "product", "campaign_id", "units", "unit", "rate",
    "rate_basis", "amount_minor", "makegood")))
DISPUTES = sa.table("disputes", *(sa.column(c) for c in (
    "id", "status", "account_id", "invoice_number", "currency", "disputed_minor",
    "reason_code", "opened_by", "breached", "root_cause", "turnaround_s", "rejections",
    "revision")), sa.column("opened_at", UTCDateTime()), sa.column("closed_at", UTCDateTime()),
    sa.column("view", sa.JSON()))
MEMOS = sa.table("credit_memos", *(sa.column(c) for c in (
    "number", "dispute_id", "account_id", "invoice_number", "status", "currency",
    "total_minor", "base_currency", "base_total_minor", "fx_rate", "fx_as_of", "prior_period",
    "preparer_id", "policy_version", "tier_min")), sa.column("chain", sa.JSON()),
    sa.column("created_at", UTCDateTime()), sa.column("posted_at", UTCDateTime()))
MEMO_LINES = sa.table("credit_memo_lines", *(sa.column(c) for c in (
    "memo_number", "line_id", "invoice_number", "amount_minor")))


def write_account_and_invoice(c: sa.Connection) -> None:
    c.execute(sa.insert(ACCOUNTS), [{"id": "ADV-1", "type": "advertiser", "name": "Acme",
                                     "currency": "USD"}])
    c.execute(sa.insert(INVOICES), [{
        "number": "INV-1", "account_id": "ADV-1", "currency": "USD", "period": "2026-10",
        "issued_on": date(2026, 10, 1), "total_minor": 50000}])


def _memo_waiting(c: sa.Connection, number: str, *, dispute_id: str, level: int,
                  level_dispute_id: str, at: datetime) -> None:
    """A memo prepared by U-2 with one level waiting, written as the releases before 0027
    wrote them (the level names only its dispute)."""
    c.execute(sa.insert(MEMOS), [{
        "number": number, "dispute_id": dispute_id, "account_id": "ADV-1",
        "invoice_number": "INV-1", "status": "pending_approval", "currency": "USD",
        "total_minor": 700, "base_currency": "USD", "base_total_minor": 700,
        "fx_rate": "1", "fx_as_of": date(2026, 10, 2), "prior_period": False,
        "preparer_id": "U-2", "policy_version": 1, "tier_min": "0", "chain": {},
        "created_at": at, "posted_at": None}])
    c.execute(sa.text(
        "INSERT INTO approval_levels (memo_number, level, dispute_id, role, status, "
        "sod_checks) VALUES (:memo, :level, :dispute, 'billing_manager', 'pending', '[]')"),
        {"memo": number, "level": level, "dispute": level_dispute_id})


def test_rows_written_before_0013_to_0017_are_filled_in(empty_url: str) -> None:
    upgrade(empty_url, "0012")
    with get_engine(empty_url).begin() as c:
        c.execute(sa.insert(ACCOUNTS), [{"id": "ADV-1", "type": "advertiser", "name": "Acme",
                                         "currency": "USD"}])
        c.execute(sa.insert(INVOICES), [
            {"number": n, "account_id": "ADV-1", "currency": "USD", "period": "2026-10",
             "issued_on": date(2026, 10, 1), "total_minor": 50000} for n in ("INV-1", "INV-2")])
        c.execute(sa.insert(LINES), [
            {"invoice_number": "INV-1", "line_id": line, "position": i, "product": "display",
             "campaign_id": None, "units": 1, "unit": "impressions", "rate": "1",
             "rate_basis": 1, "amount_minor": 25000, "makegood": False}
            for i, line in enumerate(("L1", "L2"))])
        c.execute(sa.insert(DISPUTES), [
            {"id": did, "status": "investigating", "account_id": "ADV-1",
             "invoice_number": "INV-1", "currency": "USD", "disputed_minor": 1000,
             "reason_code": "other", "opened_by": "U-1", "breached": False, "root_cause": None,
             "turnaround_s": None, "rejections": 0, "revision": 1,
             "opened_at": T0.replace(hour=hour), "closed_at": None,
             "view": {"id": did, "description": words, "line_ids": lines}}
            for did, hour, words, lines in (("D-1", 17, "billed twice", ["L2"]),
                                            ("D-2", 9, "wrong rate", []))])
        c.execute(sa.insert(MEMOS), [{
            "number": "CM-1", "dispute_id": "D-1", "account_id": "ADV-1",
            "invoice_number": "INV-1", "status": "posted", "currency": "USD",
            "total_minor": 700, "base_currency": "USD", "base_total_minor": 700,
            "fx_rate": "1", "fx_as_of": date(2026, 10, 2), "prior_period": False,
            "preparer_id": "U-2", "policy_version": 1, "tier_min": "0", "chain": {},
            "created_at": T0, "posted_at": T0}])
        # L9 is not on the invoice as the billing data has it.
        c.execute(sa.insert(MEMO_LINES), [
            {"memo_number": "CM-1", "line_id": line, "invoice_number": "INV-1",
             "amount_minor": amount} for line, amount in (("L2", 500), ("L9", 200))])
    upgrade(empty_url)
    with get_engine(empty_url).connect() as c:
        stamped = dict(c.execute(sa.text(
            "SELECT number, first_disputed_at FROM invoices ORDER BY number")).all())
        described = dict(c.execute(sa.text("SELECT id, description FROM disputes")).all())
        of_product = dict(c.execute(sa.text("SELECT id, product FROM disputes")).all())
        lines = sorted(c.execute(sa.text(
            "SELECT dispute_id, line_id, product, share_minor FROM dispute_lines")).all())
        credited = dict(c.execute(sa.text(
            "SELECT product, amount_minor FROM credit_memo_products "
            "WHERE memo_number = 'CM-1'")).all())
    first = stamped["INV-1"]
    assert first is not None and str(first).startswith("2026-10-02 09:00")  # the earliest
    assert stamped["INV-2"] is None  # never disputed
    assert described == {"D-1": "billed twice", "D-2": "wrong rate"}
    # D-2 named no line: both of its invoice's, the amount split as they billed.
    assert lines == [("D-1", "L2", "display", 1000), ("D-2", "L1", "display", 500),
                     ("D-2", "L2", "display", 500)]
    assert credited == {"display": 500, "": 200}
    assert of_product == {"D-1": "display", "D-2": "display"}  # their lines: one product each


def test_users_before_0018_keep_their_roles_dated_and_their_tokens(empty_url: str) -> None:
    """Roles held before role history began become grants dated at the user's creation by
    whoever created them; each user's one token becomes a named token that still signs in."""
    from db.tokens import hash_token
    from db.users import authenticate

    upgrade(empty_url, "0017")
    users = sa.table("users", *(sa.column(c) for c in (
        "id", "name", "email", "slack_user_id", "token_hash", "active")),
        sa.column("roles", sa.JSON()), sa.column("created_at", UTCDateTime()))
    with get_engine(empty_url).begin() as c:
        c.execute(sa.insert(users), [
            {"id": uid, "name": uid, "email": f"{uid}@example.com", "slack_user_id": None,
             "token_hash": hash_token(f"secret-{uid}"), "active": True, "roles": roles,
             "created_at": T0} for uid, roles in (("U-A", ["analyst", "billing_manager"]),
                                                  ("U-B", ["auditor"]))])
        c.execute(sa.text(
            "INSERT INTO audit_events (seq, at, actor, action, subject, message, data, "
            "prev_hash, hash) VALUES (1, :at, 'U-ADMIN', 'user.created', 'U-A', 'm', '{}', "
            "'0', '1')"), {"at": T0})
    upgrade(empty_url)
    with get_engine(empty_url).connect() as c:
        grants = sorted(c.execute(sa.text(
            "SELECT user_id, role, granted_by, removed_at FROM role_grants")).all())
        named = sorted(c.execute(sa.text(
            "SELECT user_id, name, expires_at, revoked_at FROM api_tokens")).all())
        columns = {col["name"] for col in sa.inspect(c).get_columns("users")}
    assert grants == [("U-A", "analyst", "U-ADMIN", None), ("U-A", "billing_manager",
                                                             "U-ADMIN", None),
                      ("U-B", "auditor", "unknown", None)]
    assert named == [("U-A", "initial token", None, None), ("U-B", "initial token", None, None)]
    assert "token_hash" not in columns
    from db.session import session_scope
    with session_scope(empty_url) as s:
        who = authenticate(s, token="secret-U-A", admin_token=None)
    assert who is not None and who.id == "U-A" and who.roles == ("analyst", "billing_manager")


def test_levels_before_0021_learn_when_they_became_pending(empty_url: str) -> None:
    """Level 1 since its memo's creation, a later level since the approval of the one before
    it, none for a level whose turn never came; a decided level keeps the start decision
    time counted from before (the decision before it, or else its memo's creation), so the
    figures read the same after the upgrade."""
    from db import analytics, report_window
    from db.session import session_scope

    upgrade(empty_url, "0020")
    levels = sa.table("approval_levels", *(sa.column(c) for c in (
        "memo_number", "level", "dispute_id", "role", "status", "approver_id", "delegate_of",
        "channel", "comment")), sa.column("decided_at", UTCDateTime()),
        sa.column("due_at", UTCDateTime()), sa.column("sod_checks", sa.JSON()),
        sa.column("pending_since", UTCDateTime()))
    hours = [T0 + timedelta(hours=h) for h in range(40)]
    # memo: created, [(level, status, decided)]
    chains = {
        "CM-1": (hours[0], [(1, "approved", hours[24]), (2, "approved", hours[30]),
                            (3, "pending", None)]),
        # revised while its level 2 was pending: 2 had its turn, 3 never did
        "CM-2": (hours[1], [(1, "approved", hours[3]), (2, "voided", None),
                            (3, "voided", None)]),
        "CM-3": (hours[2], [(1, "rejected", hours[7]), (2, "voided", None)]),
        # a decision on level 2 with none recorded on level 1: from the memo's creation
        "CM-4": (hours[4], [(1, "escalated", None), (2, "approved", hours[10])]),
    }
    with get_engine(empty_url).begin() as c:
        write_account_and_invoice(c)
        c.execute(sa.insert(DISPUTES), [{
            "id": "D-1", "status": "pending_approval", "account_id": "ADV-1",
            "invoice_number": "INV-1", "currency": "USD", "disputed_minor": 1000,
            "reason_code": "other", "opened_by": "U-1", "breached": False,
            "root_cause": None, "turnaround_s": None, "rejections": 0, "revision": 1,
            "opened_at": T0, "closed_at": None, "view": {"id": "D-1"}}])
        c.execute(sa.insert(MEMOS), [{
            "number": number, "dispute_id": "D-1", "account_id": "ADV-1",
            "invoice_number": "INV-1", "status": "pending_approval", "currency": "USD",
            "total_minor": 700, "base_currency": "USD", "base_total_minor": 700,
            "fx_rate": "1", "fx_as_of": date(2026, 10, 2), "prior_period": False,
            "preparer_id": "U-2", "policy_version": 1, "tier_min": "0", "chain": {},
            "created_at": created, "posted_at": None} for number, (created, _) in chains.items()])
        c.execute(sa.insert(levels), [  # every column but pending_since, not there yet
            {"memo_number": number, "level": level, "dispute_id": "D-1",
             "role": f"role_{level}", "status": status,
             "approver_id": "U-3" if decided else None, "delegate_of": None,
             "decided_at": decided, "channel": "api" if decided else None, "comment": None,
             "due_at": None, "sod_checks": []}
            for number, (_, chain) in chains.items() for level, status, decided in chain])
    upgrade(empty_url)
    with get_engine(empty_url).connect() as c:
        since = {(m, lv): at for m, lv, at in c.execute(
            sa.select(levels.c.memo_number, levels.c.level, levels.c.pending_since))}
    assert since == {
        ("CM-1", 1): hours[0], ("CM-1", 2): hours[24], ("CM-1", 3): hours[30],
        ("CM-2", 1): hours[1], ("CM-2", 2): hours[3], ("CM-2", 3): None,
        ("CM-3", 1): hours[2], ("CM-3", 2): None,
        ("CM-4", 1): hours[4], ("CM-4", 2): hours[4]}
    with session_scope(empty_url, readonly=True) as s:
        rows = analytics.TABLES["decision_time"](s, report_window.window_for(
            s, start=None, end=None, now=hours[39]))
    # level 1: 24, 2 and 5 hours; level 2: 6 and 6 hours
    assert [(r["level"], r["decisions"], r["mean_hours"], r["max_hours"]) for r in rows] == [
        (1, 3, 10.33, 24.0), (2, 2, 6.0, 6.0)]


def test_disputes_before_0026_are_tallied_and_levels_learn_who_may_not_decide(
        empty_url: str) -> None:
    """The day tallies start from the disputes already there, and every level from before
    0027 names its memo's preparer and its dispute's opener, so the metrics and the approver
    workload read the same after the upgrade."""
    from db.models import ApprovalLevel, DisputeDayCount, OpenDisputeDay
    from db.session import session_scope

    upgrade(empty_url, "0025")
    late = datetime(2026, 10, 3, 23, 59, 59, 999999, tzinfo=UTC)
    rows = [  # id, status, opened, closed, root cause, rejections, opener
        ("D-1", "investigating", T0, None, None, 0, "U-1"),
        ("D-2", "pending_approval", late, None, "rate_card", 0, "U-5"),
        ("D-3", "resolved", T0, T0 + timedelta(hours=8), "rate_card", 1, "U-1"),
        ("D-4", "withdrawn", late, late + timedelta(hours=1), None, 0, "U-1")]
    with get_engine(empty_url).begin() as c:
        write_account_and_invoice(c)
        c.execute(sa.insert(DISPUTES), [{
            "id": did, "status": status, "account_id": "ADV-1", "invoice_number": "INV-1",
            "currency": "USD", "disputed_minor": 1000 * (i + 1), "reason_code": "other",
            "opened_by": opener, "breached": False, "root_cause": cause, "turnaround_s": None,
            "rejections": rejections, "revision": 1, "opened_at": opened, "closed_at": closed,
            "view": {"id": did}}
            for i, (did, status, opened, closed, cause, rejections, opener) in enumerate(rows)])
        _memo_waiting(c, "CM-2", dispute_id="D-2", level=1, level_dispute_id="D-2", at=late)
    upgrade(empty_url)
    day1, day2 = T0.date(), late.date()
    with session_scope(empty_url, readonly=True) as s:
        counts = {(d, k, label): n for d, k, label, n in s.execute(
            sa.select(DisputeDayCount.day, DisputeDayCount.kind, DisputeDayCount.label,
                      DisputeDayCount.n))}
        open_days = s.execute(sa.select(OpenDisputeDay.day, OpenDisputeDay.n,
                                        OpenDisputeDay.amount_minor, OpenDisputeDay.offset_us)
                              .order_by(OpenDisputeDay.day)).all()
        level = s.execute(sa.select(ApprovalLevel.memo_preparer_id,
                                    ApprovalLevel.dispute_opener_id)).one()
    # D-3 closed at 01:00 on day 2 after a rejection; D-4 just after midnight on day 3
    assert counts == {
        (day1, "status", "investigating"): 1, (day1, "status", "resolved"): 1,
        (day2, "status", "pending_approval"): 1, (day2, "status", "withdrawn"): 1,
        (day1, "reason_code", "other"): 2, (day2, "reason_code", "other"): 2,
        (day1, "root_cause", "rate_card"): 1, (day2, "root_cause", "rate_card"): 1,
        (day2, "closed", "resolved"): 1, (day2 + timedelta(days=1), "closed", "withdrawn"): 1,
        (day2 + timedelta(days=1), "first_time", "withdrawn"): 1}
    # D-1 opened at 17:00 UTC; D-2 a microsecond before midnight
    assert [tuple(r) for r in open_days] == [
        (day1, 1, 1000, 17 * 3600 * 10**6), (day2, 1, 2000, 86_400 * 10**6 - 1)]
    assert tuple(level) == ("U-2", "U-5")


def test_0027_names_levels_whose_dispute_row_is_gone(empty_url: str) -> None:
    """A level is attributed through its dispute row; one without it stops the upgrade with
    the levels named, not with a bare NOT NULL error."""
    upgrade(empty_url, "0026")
    with get_engine(empty_url).begin() as c:
        write_account_and_invoice(c)
        c.execute(sa.insert(DISPUTES), [{
            "id": "D-1", "status": "pending_approval", "account_id": "ADV-1",
            "invoice_number": "INV-1", "currency": "USD", "disputed_minor": 1000,
            "reason_code": "other", "opened_by": "U-1", "breached": False, "root_cause": None,
            "turnaround_s": None, "rejections": 0, "revision": 1, "opened_at": T0,
            "closed_at": None, "view": {}}])
        _memo_waiting(c, "CM-1", dispute_id="D-1", level=2, level_dispute_id="D-GONE", at=T0)
    with pytest.raises(RuntimeError, match="CM-1 level 2"):
        upgrade(empty_url)
