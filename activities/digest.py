"""The managers' daily digest: yesterday's numbers and the open breaches, in words."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from activities.context import ActivityContext
from activities.defn import defn
from db import disputes, metrics
from db.session import session_scope
from domain.models import Digest, DigestRequest


class DigestActivities:
    def __init__(self, ctx: ActivityContext) -> None:
        self.ctx = ctx

    @defn(name="compose_daily_digest")
    def compose_daily_digest(self, req: DigestRequest) -> Digest:
        tz = ZoneInfo(req.timezone)
        day = (req.at.astimezone(tz) - timedelta(days=1)).date()
        start = datetime.combine(day, time(0), tzinfo=tz)
        end = start + timedelta(days=1)
        with session_scope(self.ctx.db_url) as s:
            m = metrics.compute(s, start=start, end=end, now=end)
            breaches = disputes.list_breaches(s, open_only=True, clock=None, assignee_role=None,
                                              limit=20)
        risk = m["revenue_at_risk"]
        turn = m["turnaround"]
        lines = [
            f"Disputeflow digest for {day.isoformat()}:",
            f"- opened {m['opened']}, resolved {m['resolved']}, denied {m['denied']}, "
            f"withdrawn {m['withdrawn']}",
            f"- revenue at risk (open disputes): {risk['amount']} {risk['currency']}",
            f"- turnaround median {turn['median_business_hours']} h, "
            f"p90 {turn['p90_business_hours']} h (business time)",
            f"- SLA breaches that day: {m['breaches_total']}; open breaches now: {len(breaches)}",
        ]
        for b in breaches[:10]:
            lines.append(f"  • {b['dispute_id']} {b['clock']} due {b['due_at']} "
                         f"({b['assignee_role']}), {b['amount']} {b['currency']}")
        return Digest(key=f"digest:{day.isoformat()}", text="\n".join(lines),
                      open_breaches=len(breaches))
