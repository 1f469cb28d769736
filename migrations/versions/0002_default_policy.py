"""Install the default approval policy of API.md as version 1.

A fresh installation must be able to route a credit memo before an admin writes a policy;
the document is frozen here (a later default changes by a new migration, never by editing).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_POLICY = {
    "base_currency": "USD",
    "aggregation_window_days": 30,
    "levels": {
        "billing_manager": {"sla": "P2D", "escalate_to": "senior_billing_manager"},
        "senior_billing_manager": {"sla": "P2D", "escalate_to": "director_revops"},
        "director_revops": {"sla": "P3D", "escalate_to": "controller"},
        "controller": {"sla": "P3D"},
    },
    "tiers": [
        {"min": "0", "levels": ["billing_manager"]},
        {"min": "5000", "levels": ["billing_manager", "senior_billing_manager"]},
        {"min": "25000",
         "levels": ["billing_manager", "senior_billing_manager", "director_revops"]},
        {"min": "100000",
         "levels": ["billing_manager", "senior_billing_manager", "director_revops", "controller"]},
    ],
    "prior_period_requires": "controller",
    "sla": {"acknowledge": "PT8H", "investigate": "P5D", "resolve": "P10D", "remind_at": "0.5"},
    "calendar": {
        "timezone": "America/Los_Angeles",
        "workdays": ["mon", "tue", "wed", "thu", "fri"],
        "holidays": ["2026-11-26", "2026-12-25"],
    },
}


def upgrade() -> None:
    table = sa.table(
        "policy_versions",
        sa.column("version", sa.Integer),
        sa.column("document", sa.JSON),
        sa.column("created_by", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("effective_from", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    op.bulk_insert(table, [{"version": 1, "document": DEFAULT_POLICY, "created_by": "system",
                            "created_at": now, "effective_from": now}])


def downgrade() -> None:
    op.execute("DELETE FROM policy_versions WHERE version = 1")
