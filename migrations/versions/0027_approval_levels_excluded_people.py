"""approval_levels: who may not decide each level

Approver workload counts, per person, the levels waiting that they may decide: not on a memo
they prepared, nor on a dispute they opened. It joined every waiting level to its memo and
its dispute, reading both tables whole (60 to 80 ms at 100,000 disputes). A level now carries
its memo's preparer and its dispute's opener, written with it (neither ever changes), so the
workload is one read of the waiting levels, from an index that holds all it needs.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0027'
down_revision: str | None = '0026'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('approval_levels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('memo_preparer_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('dispute_opener_id', sa.String(length=40), nullable=True))
    op.execute(
        "UPDATE approval_levels SET "
        "memo_preparer_id = (SELECT m.preparer_id FROM credit_memos m "
        "WHERE m.number = approval_levels.memo_number), "
        "dispute_opener_id = (SELECT d.opened_by FROM disputes d "
        "WHERE d.id = approval_levels.dispute_id)")
    orphans = op.get_bind().execute(sa.text(
        "SELECT memo_number, level FROM approval_levels WHERE memo_preparer_id IS NULL "
        "OR dispute_opener_id IS NULL ORDER BY memo_number, level LIMIT 10")).all()
    if orphans:  # a level whose dispute row is gone: say which, rather than a NOT NULL error
        raise RuntimeError(
            "approval levels without their credit memo or dispute row, which 0027 cannot "
            "attribute: " + ", ".join(f"{memo} level {level}" for memo, level in orphans))
    with op.batch_alter_table('approval_levels', schema=None) as batch_op:
        batch_op.alter_column('memo_preparer_id', existing_type=sa.String(length=40),
                              nullable=False)
        batch_op.alter_column('dispute_opener_id', existing_type=sa.String(length=40),
                              nullable=False)
        batch_op.create_index('ix_approval_levels_waiting', ['status', 'role', 'due_at',
                                                              'memo_preparer_id',
                                                              'dispute_opener_id'])


def downgrade() -> None:
    with op.batch_alter_table('approval_levels', schema=None) as batch_op:
        batch_op.drop_index('ix_approval_levels_waiting')
        batch_op.drop_column('dispute_opener_id')
        batch_op.drop_column('memo_preparer_id')
