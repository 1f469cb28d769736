"""disputes: the description as a column, for the list's text search

Searching the words a client wrote meant reading every dispute's view (JSON). The intake and
every snapshot now write the description beside it; existing rows take it from their view.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 17:35:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.Text(), server_default='',
                                      nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE disputes SET description = coalesce(view->>'description', '')")
    else:
        op.execute("UPDATE disputes SET description = "
                   "coalesce(json_extract(view, '$.description'), '')")


def downgrade() -> None:
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_column('description')
