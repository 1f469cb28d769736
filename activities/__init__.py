"""Every side effect of a dispute: database, connectors, ledger, notifications."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.context import ActivityContext
from activities.credit_memo import CreditMemoActivities
from activities.digest import DigestActivities
from activities.investigation import InvestigationActivities
from activities.ledger import LedgerActivities
from activities.readmodel import ReadModelActivities


def all_activities(ctx: ActivityContext) -> list[Callable[..., Any]]:
    """The activity callables a worker registers."""
    rm = ReadModelActivities(ctx)
    return [
        rm.record_snapshot,
        rm.load_policy,
        rm.notify,
        InvestigationActivities(ctx).gather_findings,
        CreditMemoActivities(ctx).prepare_credit_memo,
        LedgerActivities(ctx).post_credit_memo,
        DigestActivities(ctx).compose_daily_digest,
    ]
