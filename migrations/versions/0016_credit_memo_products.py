"""credit memo products: each memo's credit per product

Credits by product joined every memo line to its invoice line and counted distinct memos
(about 100 ms over all time at 100,000 disputes). A memo now records its credit per product
of the lines it credits when it is written; existing memos take it from the billing data, an
invoice line not there counting under the empty product.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('credit_memo_products',
    sa.Column('memo_number', sa.String(length=40), nullable=False),
    sa.Column('product', sa.String(length=100), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['memo_number'], ['credit_memos.number'], ),
    sa.PrimaryKeyConstraint('memo_number', 'product')
    )
    op.execute(
        "INSERT INTO credit_memo_products (memo_number, product, amount_minor) "
        "SELECT l.memo_number, coalesce(il.product, ''), sum(l.amount_minor) "
        "FROM credit_memo_lines l LEFT JOIN invoice_lines il "
        "ON il.invoice_number = l.invoice_number AND il.line_id = l.line_id "
        "GROUP BY l.memo_number, coalesce(il.product, '')")


def downgrade() -> None:
    op.drop_table('credit_memo_products')
