"""Managers' numbers over HTTP, after real lifecycles; and the daily digest schedule."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cli.schedules import DIGEST_SCHEDULE_ID, apply_schedules
from config.temporal import connect
from db.models import Notification
from db.session import session_scope
from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body, wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def test_metrics_after_a_few_lifecycles(stack: Stack, people: People) -> None:
    cs, analyst = as_user(stack, people, "cs"), as_user(stack, people, "analyst")
    bm, mgr = as_user(stack, people, "bm"), as_user(stack, people, "mgr")
    ids = [cs.post("/api/v1/disputes", json=dispute_body(disputed_amount=a)).json()["id"]
           for a in ("100.00", "200.00", "300.00")]
    eu = cs.post("/api/v1/disputes", json=dispute_body(
        account_id="ADV-EU", invoice_number="INV-EU1", currency="EUR",
        disputed_amount="1000.00", line_ids=["E1"], reason_code="delivery_shortfall")).json()
    for i in ids[:2]:
        wait_for(cs, i, lambda v: v["findings_ready"])
    # One resolved first time, one resolved after a reject, one still open.
    for i, amount in ((ids[0], "100.00"), (ids[1], "200.00")):
        r = analyst.post(f"/api/v1/disputes/{i}/investigation", json={
            "root_cause": "rate_card", "resolution": "partial_credit",
            "credit_lines": [{"line_id": "L1", "amount": amount}]})
        assert r.status_code == 200, r.text
    bm.post(f"/api/v1/disputes/{ids[0]}/decision", json={"decision": "approve"})
    bm.post(f"/api/v1/disputes/{ids[1]}/decision",
            json={"decision": "reject", "comment": "check delivery"})
    analyst.post(f"/api/v1/disputes/{ids[1]}/investigation", json={
        "root_cause": "delivery_data", "resolution": "partial_credit",
        "credit_lines": [{"line_id": "L1", "amount": "150.00"}]})
    r = as_user(stack, people, "bm2").post(f"/api/v1/disputes/{ids[1]}/decision",
                                           json={"decision": "approve"})
    assert r.json()["status"] == "resolved", r.text

    m = mgr.get("/api/v1/metrics").json()
    assert m["opened"] == 4 and m["resolved"] == 2
    assert m["counts_by_status"]["investigating"] == 2
    assert m["first_time_right_rate"] == 0.5
    assert m["turnaround"]["resolved"] == 2
    assert m["turnaround"]["median_business_hours"] is not None
    # Open: 300.00 USD + 1,000.00 EUR at 1.08 = 1,380.00 USD at risk.
    assert m["revenue_at_risk"] == {
        "amount": "1380.00", "currency": "USD", "currencies_without_fx_rate": [],
        "by_currency": m["revenue_at_risk"]["by_currency"]}
    assert {t["tier_min"] for t in m["credits_by_tier"]} == {"0"}
    assert sum(t["credits"] for t in m["credits_by_tier"]) == 2
    assert {r["root_cause"] for r in m["top_root_causes"]} == {"rate_card", "delivery_data"}
    assert m["top_reason_codes"][0] == {"reason_code": "rate_mismatch", "count": 3}
    assert eu["reason_code"] == "delivery_shortfall"
    r = mgr.get("/api/v1/metrics", params={"from": "2030-01-01T00:00:00Z"})
    assert r.json()["opened"] == 0
    assert mgr.get("/api/v1/metrics", params={"from": "2030-01-02T00:00:00Z",
                                              "to": "2030-01-01T00:00:00Z"}).status_code == 422
    assert cs.get("/api/v1/metrics").status_code == 403
    for bad in ("-4.1e-105", "1700000000", "yesterday"):  # never seconds since 1970
        assert mgr.get("/api/v1/metrics", params={"to": bad}).status_code == 422, bad

    # The tables behind the figures, as JSON and CSV: one set of numbers.
    assert sum(b["count"] for b in m["aging"].values()) == 2
    assert m["aging"]["0-7"] == {"count": 2, "base_amount": "1380.00"}
    assert m["valid_dispute_rate"] == 1.0  # both verdicts were credits
    # The intake stamped INV-1001 and INV-EU1: 3 of the 5 invoices were never disputed.
    assert m["first_time_invoice_accuracy"] == 0.6
    names = [t["name"] for t in mgr.get("/api/v1/analytics").json()["items"]]
    assert {"aging", "revenue_at_risk_by_account", "approver_workload"} <= set(names)
    accounts = mgr.get("/api/v1/analytics/revenue_at_risk_by_account").json()
    assert accounts["base_currency"] == "USD"
    assert [(r["account_id"], r["base_amount"]) for r in accounts["rows"]] == [
        ("ADV-EU", "1080.00"), ("ADV-1", "300.00")]
    # The intake recorded the lines each dispute names (L1: sponsored products; E1: brands).
    products = mgr.get("/api/v1/analytics/revenue_at_risk_by_product").json()["rows"]
    assert [(r["product"], r["base_amount"]) for r in products] == [
        ("sponsored_brands", "1080.00"), ("sponsored_products", "300.00")]
    r = mgr.get("/api/v1/analytics/revenue_at_risk_by_account", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    lines = r.text.splitlines()
    assert lines[0] == ("account_id,account_name,account_type,open_disputes,base_amount,"
                        "base_currency")
    assert lines[1].startswith("ADV-EU,") and lines[1].endswith(",1,1080.00,USD")
    r = mgr.get("/api/v1/analytics/no_such_table")
    assert r.status_code == 404 and "aging" in r.json()["error"]["message"]
    assert cs.get("/api/v1/analytics/aging").status_code == 403
    month = datetime.now(UTC).astimezone(ZoneInfo("America/Los_Angeles")).strftime("%Y-%m")
    close = mgr.get("/api/v1/reports/month-end", params={"period": month})
    assert close.status_code == 200, close.text
    body = close.json()
    assert body["credits_posted"]["credit_memos"] == 2  # both resolved disputes posted
    assert body["open_exposure"]["base_amount"] == "1380.00"
    assert len(body["reserve_backtest"]) == 6
    assert as_user(stack, people, "auditor").get(
        "/api/v1/reports/month-end", params={"period": month}).status_code == 200
    assert cs.get("/api/v1/reports/month-end", params={"period": month}).status_code == 403
    r = mgr.get("/api/v1/reports/month-end", params={"period": "2026/10"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "period"
    assert mgr.get("/api/v1/analytics/aging", params={
        "from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}).status_code == 422


def test_daily_digest_schedule_is_idempotent_and_records_the_digest(stack: Stack) -> None:
    async def apply_twice() -> tuple[str, str]:
        client = await connect(stack.settings)
        first = await apply_schedules(client, stack.settings, "America/Los_Angeles")
        second = await apply_schedules(client, stack.settings, "America/Los_Angeles")
        handle = client.get_schedule_handle(DIGEST_SCHEDULE_ID)
        desc = await handle.describe()
        assert desc.schedule.spec.time_zone_name == "America/Los_Angeles"
        await handle.trigger()
        return first, second

    first, second = asyncio.run(apply_twice())
    assert second == "updated" and first in ("created", "updated")
    deadline = time.time() + 20
    while time.time() < deadline:
        with session_scope(stack.settings.database_url) as s:
            notes = list(s.scalars(select(Notification).where(
                Notification.recipient == "managers")))
        if notes:
            break
        time.sleep(0.1)
    assert notes and notes[0].key.startswith("digest:")
    assert "revenue at risk" in notes[0].message
