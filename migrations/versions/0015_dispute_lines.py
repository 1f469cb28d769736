"""dispute lines: the invoice lines each dispute is about

Revenue at risk by product needs to know which lines a dispute contests; they were only in
its view (JSON). The intake now writes them (every line of the invoice when the client named
none); existing disputes take them from their view, or from their invoice.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 17:55:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('dispute_lines',
    sa.Column('dispute_id', sa.String(length=40), nullable=False),
    sa.Column('line_id', sa.String(length=64), nullable=False),
    sa.Column('invoice_number', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], ),
    sa.PrimaryKeyConstraint('dispute_id', 'line_id')
    )
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, invoice_number, view FROM disputes")).all()
    for dispute_id, invoice_number, view in rows:
        doc = json.loads(view) if isinstance(view, str) else (view or {})
        named = [str(x) for x in doc.get("line_ids") or []]
        lines = named or [r[0] for r in bind.execute(sa.text(
            "SELECT line_id FROM invoice_lines WHERE invoice_number = :n"), {"n": invoice_number})]
        for line_id in dict.fromkeys(lines):
            bind.execute(sa.text("INSERT INTO dispute_lines (dispute_id, line_id, invoice_number) "
                                 "VALUES (:d, :l, :n)"),
                         {"d": dispute_id, "l": line_id, "n": invoice_number})


def downgrade() -> None:
    op.drop_table('dispute_lines')
