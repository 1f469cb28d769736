"""disputes: the product, when a dispute's lines are all one

Revenue at risk by product joined every open dispute to its lines and counted distinct
disputes (about 95 ms at 100,000 disputes). A dispute whose lines are of one product now
carries it, written with its lines at intake, and is summed as it is; only the others are
split over their lines (a partial index finds them). Existing disputes take it from their
lines.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 21:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('product', sa.String(length=100), nullable=True))
        batch_op.create_index('ix_disputes_opened_split', ['opened_at'], unique=False,
                              postgresql_where=sa.text('product IS NULL'),
                              sqlite_where=sa.text('product IS NULL'))
    op.execute(
        "UPDATE disputes SET product = (SELECT min(dl.product) FROM dispute_lines dl "
        "WHERE dl.dispute_id = disputes.id HAVING count(DISTINCT dl.product) = 1)")


def downgrade() -> None:
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index('ix_disputes_opened_split',
                            postgresql_where=sa.text('product IS NULL'),
                            sqlite_where=sa.text('product IS NULL'))
        batch_op.drop_column('product')
