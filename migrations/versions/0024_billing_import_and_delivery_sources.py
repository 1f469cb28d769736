"""billing data: delivery measured by source, contracts name the source they bill by

Ad servers disagree on units, and a contract may bill by a third party's count (Google
Campaign Manager, IAS, ...) rather than ours. Delivery records now say who counted them
(``source``) and a contract may name the source it bills by (``measurement_source``), so
the delivery findings compare billed units against the count the contract names.

The delivery key becomes (campaign_id, period, source): one campaign's month may be
counted by several sources and each count is kept, so a re-import of one source never
overwrites another's. ``source`` is NOT NULL with the server default ``first_party``:
every existing record is our own count (the only one there was), and a writer that names
no source — an import from before this change, during a rolling deploy — still writes a
first-party record under the same key as before. ``measurement_source`` is nullable and
stays NULL on existing contracts: they name no source, so their findings compare
first-party counts exactly as they did.

SQLite cannot change a primary key in place: the table is copied (batch mode) with its
rows; PostgreSQL alters it.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 00:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _delivery(*key: str) -> sa.Table:
    """The delivery table as it is before (key campaign_id, period) or after (and source):
    what batch mode copies from on SQLite, whose reflection would lose the key's name."""
    columns = [
        sa.Column('campaign_id', sa.String(length=64), nullable=False),
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('units', sa.BigInteger(), nullable=False),
        sa.Column('makegood_units', sa.BigInteger(), nullable=False),
    ]
    if 'source' in key:
        columns.append(sa.Column('source', sa.String(length=40), nullable=False,
                                 server_default='first_party'))
    return sa.Table('delivery', sa.MetaData(), *columns,
                    sa.PrimaryKeyConstraint(*key, name='delivery_pkey'))


def upgrade() -> None:
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('measurement_source', sa.String(length=40),
                                      nullable=True))
    with op.batch_alter_table('delivery', schema=None,
                              copy_from=_delivery('campaign_id', 'period')) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=40), nullable=False,
                                      server_default='first_party'))
        batch_op.drop_constraint('delivery_pkey', type_='primary')
        batch_op.create_primary_key('delivery_pkey', ['campaign_id', 'period', 'source'])


def downgrade() -> None:
    # Only first-party counts fit the old key; the others' records go with their column.
    op.execute("DELETE FROM delivery WHERE source <> 'first_party'")
    with op.batch_alter_table('delivery', schema=None,
                              copy_from=_delivery('campaign_id', 'period', 'source')) as batch_op:
        batch_op.drop_constraint('delivery_pkey', type_='primary')
        batch_op.create_primary_key('delivery_pkey', ['campaign_id', 'period'])
        batch_op.drop_column('source')
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.drop_column('measurement_source')
