"""api tokens with names, expiry, last use and revocation

Each user had one token, kept as a hash on the user row, that could be neither reissued nor
revoked. Tokens become rows of their own. Each existing token is kept, named "initial
token", with no expiry (an admin reissues it to give it one), so no client is locked out by
the upgrade.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

import db.types
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('expires_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)
    bind = op.get_bind()
    for user_id, token_hash, created_at in bind.execute(sa.text(
            "SELECT id, token_hash, created_at FROM users ORDER BY id")).all():
        bind.execute(sa.text(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, created_by) "
            "VALUES (:id, :u, 'initial token', :h, :at, 'migration')"),
            {"id": "TOK-" + user_id.removeprefix("U-")[:36], "u": user_id, "h": token_hash,
             "at": created_at})
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('token_hash')  # its unique constraint goes with it


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_hash', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    # Each user gets back their newest live token (older ones cannot be kept on one row).
    for user_id, token_hash in bind.execute(sa.text(
            "SELECT user_id, token_hash FROM api_tokens WHERE revoked_at IS NULL "
            "ORDER BY created_at")).all():
        bind.execute(sa.text("UPDATE users SET token_hash = :h WHERE id = :u"),
                     {"h": token_hash, "u": user_id})
    bind.execute(sa.text("UPDATE users SET token_hash = 'revoked-' || id "
                         "WHERE token_hash IS NULL"))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('token_hash', nullable=False)
        batch_op.create_unique_constraint('uq_users_token_hash', ['token_hash'])
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))
    op.drop_table('api_tokens')
