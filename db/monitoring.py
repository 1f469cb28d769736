"""What the Prometheus gauges read from the database at each scrape: the outboxes' backlogs
(Slack, webhooks, mail),
memos the ledger refused, and open SLA breaches. A few small counts, so a scrape every 15 s
costs the database nothing worth measuring; the truth stays in the tables, not in a
process's memory (any replica answers the same)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import letters, slack_outbox
from db.models import CreditMemo, SlaBreach, WebhookDelivery

POSTING_FAILED = "posting_failed"


def gauges(session: Session) -> dict[str, Any]:
    webhook = dict(session.execute(
        select(WebhookDelivery.status, func.count())
        .where(WebhookDelivery.status.in_(("pending", "failed")))
        .group_by(WebhookDelivery.status)).all())
    return {
        "outbox_backlog": {"slack": slack_outbox.backlog(session),
                           "webhooks": int(webhook.get("pending", 0)),
                           "mail": letters.backlog(session)},
        "webhook_deliveries_failed": int(webhook.get("failed", 0)),
        "postings_failed": int(session.scalar(
            select(func.count()).select_from(CreditMemo)
            .where(CreditMemo.status == POSTING_FAILED)) or 0),
        "breaches_open": int(session.scalar(
            select(func.count()).select_from(SlaBreach)
            .where(SlaBreach.stopped_at.is_(None))) or 0),
        "breaches_total": int(session.scalar(
            select(func.count()).select_from(SlaBreach)) or 0),
    }
