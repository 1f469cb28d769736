"""letters to billing contacts

An account gets a billing email; letters (acknowledgement, resolution with the credit memo's
PDF, denial) are written with the change that calls for them and sent by the worker over
SMTP; admins may reword each kind. Existing accounts have no billing email until the billing
data gives one: their disputes' letters are recorded as unaddressed, not lost silently.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, db.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billing_email', sa.String(length=254), nullable=True))
    op.create_table('letter_templates',
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    _at('updated_at'),
    sa.PrimaryKeyConstraint('kind'),
    )
    op.create_table('letters',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dispute_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('memo_number', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=True),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    _at('created_at'),
    _at('next_at'),
    _at('lease_until', nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    _at('sent_at', nullable=True),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dispute_id', 'kind', 'memo_number', name='uq_letters_once'),
    )
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.create_index('ix_letters_due', ['status', 'next_at'], unique=False)
        batch_op.create_index('ix_letters_dispute', ['dispute_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_table('letters')
    op.drop_table('letter_templates')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('billing_email')
