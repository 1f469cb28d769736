"""slack outbox

Slack steps used to be a Temporal activity per state change: a task and a wake-up of the
workflow each, most of a decision's engine cost. They are now written beside the snapshot,
in its transaction, and sent by the worker's dispatcher (activities/slack_dispatch.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('slack_outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dispute_id', sa.String(length=40), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dispute_id', 'revision', name='uq_slack_outbox_revision')
    )
    with op.batch_alter_table('slack_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_slack_outbox_due', ['next_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('slack_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_slack_outbox_due')
    op.drop_table('slack_outbox')
