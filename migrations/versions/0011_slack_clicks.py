"""slack clicks, kept until decided

Slack does not redeliver a click it got a 200 for; the API writes each decision click here
before acknowledging it, so a crash between the acknowledgement and the decision loses
nothing (api/routes/slack.py recovers them).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('slack_clicks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('action', sa.JSON(), nullable=False),
    sa.Column('received_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('slack_clicks', schema=None) as batch_op:
        batch_op.create_index('ix_slack_clicks_open', ['done_at', 'lease_until'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('slack_clicks', schema=None) as batch_op:
        batch_op.drop_index('ix_slack_clicks_open')
    op.drop_table('slack_clicks')
