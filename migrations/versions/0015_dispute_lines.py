"""dispute lines: the invoice lines each dispute is about

Revenue at risk by product needs to know which lines a dispute contests; they were only in
its view (JSON). The intake now writes them (every line of the invoice when the client named
none), each with its product and its part of the disputed amount; existing disputes take
them from their view, or from their invoice.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 17:55:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from domain.money import allocate

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('dispute_lines',
    sa.Column('dispute_id', sa.String(length=40), nullable=False),
    sa.Column('line_id', sa.String(length=64), nullable=False),
    sa.Column('invoice_number', sa.String(length=64), nullable=False),
    sa.Column('product', sa.String(length=100), nullable=False),
    sa.Column('share_minor', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], ),
    sa.PrimaryKeyConstraint('dispute_id', 'line_id')
    )
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, invoice_number, disputed_minor, view FROM disputes")).all()
    for dispute_id, invoice_number, disputed_minor, view in rows:
        doc = json.loads(view) if isinstance(view, str) else (view or {})
        named = list(dict.fromkeys(str(x) for x in doc.get("line_ids") or []))
        billed = {line: (product, amount) for line, product, amount in bind.execute(sa.text(
            "SELECT line_id, product, amount_minor FROM invoice_lines "
            "WHERE invoice_number = :n ORDER BY position"), {"n": invoice_number})}
        lines = [line for line in (named or list(billed)) if line in billed]
        shares = allocate(int(disputed_minor), [billed[line][1] for line in lines])
        for line, share in zip(lines, shares, strict=True):
            bind.execute(sa.text(
                "INSERT INTO dispute_lines (dispute_id, line_id, invoice_number, product, "
                "share_minor) VALUES (:d, :l, :n, :p, :s)"),
                {"d": dispute_id, "l": line, "n": invoice_number, "p": billed[line][0],
                 "s": share})


def downgrade() -> None:
    op.drop_table('dispute_lines')
