"""Auditors over HTTP: export a month of chains, run the control test, detect tampering."""

from __future__ import annotations

import csv
import io

import pytest

from db.models import AuditEvent
from db.session import session_scope
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def _resolve_one(stack: Stack, people: People, comment: str) -> str:
    cs = as_user(stack, people, "cs")
    dispute_id = cs.post("/api/v1/disputes", json=dispute_body()).json()["id"]
    wait_for(cs, dispute_id, lambda v: v["findings_ready"])
    r = as_user(stack, people, "analyst").post(
        f"/api/v1/disputes/{dispute_id}/investigation",
        json={"root_cause": "rate_card", "resolution": "partial_credit",
              "credit_lines": [{"line_id": "L1", "amount": "250.00"}]})
    assert r.status_code == 200, r.text
    r = as_user(stack, people, "bm").post(f"/api/v1/disputes/{dispute_id}/decision",
                                          json={"decision": "approve", "comment": comment})
    assert r.json()["status"] == "resolved", r.text
    return dispute_id


def test_export_control_test_and_tamper_detection(stack: Stack, people: People) -> None:
    dispute_id = _resolve_one(stack, people, "=HYPERLINK(\"http://evil\")")
    auditor = as_user(stack, people, "auditor")

    r = auditor.get("/api/v1/audit/approval-chains",
                    params={"from": "2020-01-01T00:00:00Z", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["dispute_id"] == dispute_id and row["required_role"] == "billing_manager"
    assert row["approver_id"] == people.ids["bm"] and row["decision"] == "approve"
    assert row["policy_version"] == "1" and row["total"] == "250.00"
    assert row["base_total"] == "250.00" and row["channel"] == "api"
    assert row["comment"].startswith("'=")  # no formula injection in a spreadsheet
    assert "not_preparer=pass" in row["sod_checks"]
    assert "tier" in row["chain_reasons"]

    r = auditor.get("/api/v1/audit/approval-chains", params={"format": "json"})
    assert r.json()["items"][0]["comment"].startswith("=")  # JSON keeps the exact text
    r = auditor.get("/api/v1/audit/approval-chains", params={"to": "2020-01-01T00:00:00Z"})
    assert list(csv.DictReader(io.StringIO(r.text))) == []

    r = auditor.get("/api/v1/audit/control-test")
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True and r.json()["memos_checked"] == 1

    assert auditor.get("/api/v1/audit/verify").json()["ok"] is True
    with session_scope(stack.settings.database_url) as s:
        row_ = s.get(AuditEvent, 3)
        assert row_ is not None
        row_.message = "rewritten history"
    result = auditor.get("/api/v1/audit/verify").json()
    assert result["ok"] is False and result["first_bad_event"] == 3

    assert as_user(stack, people, "cs").get("/api/v1/audit/verify").status_code == 403
    bad = auditor.get("/api/v1/audit/control-test",
                      params={"from": "2026-12-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"})
    assert bad.status_code == 422
