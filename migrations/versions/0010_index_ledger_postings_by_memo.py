"""index ledger postings by memo number

The approval-chain export reads each memo's ledger references; without this index every
batch of the export scanned the whole ledger table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 15:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_postings_memo_number'), ['memo_number'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_postings_memo_number'))
