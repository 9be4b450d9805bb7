"""ping

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 10:00:00

Who the weekly ping mentions: everyone with an open goal or only the quiet ones, a cap past which
it names a count, and the role it mentions instead.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('guilds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ping_quiet_only', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('ping_cap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ping_role_id', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('guilds', schema=None) as batch_op:
        batch_op.drop_column('ping_role_id')
        batch_op.drop_column('ping_cap')
        batch_op.drop_column('ping_quiet_only')
