"""limits

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 11:40:00

Spam limits: whether each check-in was shared publicly (one per member per cooldown), the kudos
limit counted by time rather than by the giver's local date, and the limit marks that keep the
times of a member's recent kudos and shared check-in through /me forget, under a hash of their id.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


import bot.db.base

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('limit_marks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=False),
    sa.Column('member', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('at', bot.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['guild_id'], ['guilds.id'], name=op.f('fk_limit_marks_guild_id_guilds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_limit_marks'))
    )
    with op.batch_alter_table('limit_marks', schema=None) as batch_op:
        batch_op.create_index('ix_limit_marks_member', ['guild_id', 'member', 'kind', 'at'], unique=False)

    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('posted', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('kudos', schema=None) as batch_op:
        batch_op.drop_index('ix_kudos_giver_day')
        batch_op.create_index('ix_kudos_giver_recent', ['guild_id', 'from_user_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kudos', schema=None) as batch_op:
        batch_op.drop_index('ix_kudos_giver_recent')
        batch_op.create_index('ix_kudos_giver_day', ['guild_id', 'from_user_id', 'local_date'], unique=False)

    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_column('posted')

    with op.batch_alter_table('limit_marks', schema=None) as batch_op:
        batch_op.drop_index('ix_limit_marks_member')

    op.drop_table('limit_marks')
