"""credit_memos: approval time, ledger reference and posting error; longer references

Credit memos can be posted to an ERP over HTTP (``DISPUTEFLOW_LEDGER_URL``), which may refuse
one: the memo then stays approved, ``posting_failed``, with the ERP's reason kept until a
re-post succeeds. The reconciliation report sets memos approved in a period against what
was posted and the references kept, so each memo carries when it was approved and the
ledger's reference. ERP references can be longer than the embedded ledger's ``LGR-...``.

Existing memos are filled as the snapshot writes them now: approved at their last level's
decision (at their creation when no level was needed) if they were approved; the reference
of their posting in the ledger book.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 00:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LAST_DECISION = ("(SELECT MAX(lv.decided_at) FROM approval_levels lv "
                  "WHERE lv.memo_number = credit_memos.number)")
_UNAPPROVED_LEVEL = ("EXISTS (SELECT 1 FROM approval_levels lv WHERE lv.memo_number = "
                     "credit_memos.number AND lv.status <> 'approved')")


def upgrade() -> None:
    with op.batch_alter_table('credit_memos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approved_at', db.types.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('ledger_reference', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('posting_error', sa.Text(), nullable=True))
        batch_op.create_index('ix_credit_memos_approved_at', ['approved_at'], unique=False)
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.alter_column('reference', existing_type=sa.String(length=40),
                              type_=sa.String(length=120), existing_nullable=False)
    op.execute(
        f"UPDATE credit_memos SET approved_at = COALESCE({_LAST_DECISION}, created_at) "
        f"WHERE status IN ('approved', 'posted') "
        f"OR (status = 'voided' AND NOT {_UNAPPROVED_LEVEL})")
    op.execute(
        "UPDATE credit_memos SET ledger_reference = (SELECT MIN(p.reference) FROM "
        "ledger_postings p WHERE p.memo_number = credit_memos.number) WHERE status = 'posted'")


def downgrade() -> None:
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.alter_column('reference', existing_type=sa.String(length=120),
                              type_=sa.String(length=40), existing_nullable=False)
    with op.batch_alter_table('credit_memos', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_memos_approved_at')
        batch_op.drop_column('posting_error')
        batch_op.drop_column('ledger_reference')
        batch_op.drop_column('approved_at')
