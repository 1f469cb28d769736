"""role history and four-eyes changes

The control test judged past decisions by the roles users hold now, and one admin alone
could change the approval policy. Each grant and removal of a role is now a dated row, and a
change that controls money can wait as a proposal for a second admin. Roles held before
this revision become grants dated at the user's creation, granted by whoever created the
user (from the audit trail) or 'unknown'. The access review's "last activity" is the
latest audit event by each user: an index on (actor, at) answers it without a scan.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 21:30:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa

import db.types
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('role_grants',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.Column('granted_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('granted_by', sa.String(length=64), nullable=False),
    sa.Column('grant_reason', sa.Text(), nullable=False),
    sa.Column('change_id', sa.String(length=40), nullable=True),
    sa.Column('removed_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('removed_by', sa.String(length=64), nullable=True),
    sa.Column('removal_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('role_grants', schema=None) as batch_op:
        batch_op.create_index('ix_role_grants_user_role', ['user_id', 'role'], unique=False)
    op.create_table('changes',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('diff', sa.JSON(), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('backtest', sa.JSON(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('proposed_by', sa.String(length=64), nullable=False),
    sa.Column('proposed_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_comment', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_changes_status'), ['status'], unique=False)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_actor_at', ['actor', 'at'], unique=False)
    bind = op.get_bind()
    creators = dict(bind.execute(sa.text(
        "SELECT subject, actor FROM audit_events WHERE action = 'user.created'")).all())
    for user_id, roles, created_at in bind.execute(sa.text(
            "SELECT id, roles, created_at FROM users ORDER BY id")).all():
        held = json.loads(roles) if isinstance(roles, str) else (roles or [])
        for role in sorted(set(held)):
            bind.execute(sa.text(
                "INSERT INTO role_grants (user_id, role, granted_at, granted_by, grant_reason) "
                "VALUES (:u, :r, :at, :by, :why)"),
                {"u": user_id, "r": role, "at": created_at,
                 "by": creators.get(user_id, "unknown"),
                 "why": "held when role history began"})


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_actor_at')
    with op.batch_alter_table('changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_changes_status'))
    op.drop_table('changes')
    with op.batch_alter_table('role_grants', schema=None) as batch_op:
        batch_op.drop_index('ix_role_grants_user_role')
    op.drop_table('role_grants')
