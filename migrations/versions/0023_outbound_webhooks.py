"""outbound webhooks

Endpoints an admin registers, the events each recorded state change gives them (written in
the change's own transaction), and one delivery per event and endpoint, retried until the
receiver takes it or a day has passed. New tables only: no existing row changes.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 00:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, db.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    _at('created_at'),
    _at('disabled_at', nullable=True),
    sa.Column('disabled_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_table('webhook_events',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('dispute_id', sa.String(length=40), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    _at('created_at'),
    sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_events_dispute_id', ['dispute_id'], unique=False)
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('endpoint_id', sa.String(length=40), nullable=False),
    sa.Column('dispute_id', sa.String(length=40), nullable=True),
    sa.Column('invoice_number', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    _at('created_at'),
    _at('retry_from'),
    _at('next_at'),
    _at('lease_until', nullable=True),
    _at('last_attempt_at', nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    _at('delivered_at', nullable=True),
    _at('failed_at', nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'endpoint_id', name='uq_webhook_delivery'),
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_due', ['status', 'next_at'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_endpoint', ['endpoint_id', 'id'],
                              unique=False)
        batch_op.create_index('ix_webhook_deliveries_order',
                              ['endpoint_id', 'invoice_number', 'status', 'id'], unique=False)


def downgrade() -> None:
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_events')
    op.drop_table('webhook_endpoints')
