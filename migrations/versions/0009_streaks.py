"""streaks

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00

The stored per-member streak the leaderboard reads (member_streaks), backfilled here from the
activity and rests already stored, and the goal indexes the digest's queries filter by.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


import bot.db.base

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('member_streaks',
    sa.Column('guild_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('cadence', sa.String(length=8), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('current', sa.Integer(), nullable=False),
    sa.Column('best', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('freezes', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('updated_at', bot.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['guild_id'], ['guilds.id'], name=op.f('fk_member_streaks_guild_id_guilds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('guild_id', 'user_id', name=op.f('pk_member_streaks'))
    )
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.create_index('ix_goals_guild_created', ['guild_id', 'created_at'], unique=False)
        batch_op.create_index('ix_goals_guild_status_closed', ['guild_id', 'status', 'closed_at'], unique=False)
    _backfill()


def _backfill() -> None:
    """Compute every member's stored streak from their activity, with the rules of today's code."""
    from bot.services.rhythm.streaks import DEFAULT_CADENCE, snapshot_streak

    bind = op.get_bind()
    guilds = sa.table('guilds', sa.column('id', sa.BigInteger()), sa.column('cadence', sa.String()))
    activity = sa.table('activity', sa.column('guild_id', sa.BigInteger()), sa.column('user_id', sa.BigInteger()),
                        sa.column('local_date', sa.Date()))
    rests = sa.table('rest_periods', sa.column('guild_id', sa.BigInteger()), sa.column('user_id', sa.BigInteger()),
                     sa.column('start', sa.Date()), sa.column('end', sa.Date()))
    streaks = sa.table('member_streaks', *(sa.column(name) for name in (
        'guild_id', 'user_id', 'cadence', 'period', 'current', 'best', 'total', 'freezes', 'progress')),
        sa.column('updated_at', bot.db.base.UTCDateTime()))
    now = datetime.now(UTC)
    for guild_id, cadence in bind.execute(sa.select(guilds.c.id, guilds.c.cadence)).all():
        cadence = cadence or DEFAULT_CADENCE
        dates_of = defaultdict(list)
        for user_id, day in bind.execute(
            sa.select(activity.c.user_id, activity.c.local_date).where(activity.c.guild_id == guild_id).distinct()
        ):
            dates_of[user_id].append(day)
        rests_of = defaultdict(list)
        for user_id, start, end in bind.execute(
            sa.select(rests.c.user_id, rests.c.start, rests.c.end).where(rests.c.guild_id == guild_id)
        ):
            rests_of[user_id].append((start, end))
        rows = []
        for user_id, days in dates_of.items():
            snap = snapshot_streak(days, rests_of.get(user_id, ()), cadence=cadence)
            rows.append({'guild_id': guild_id, 'user_id': user_id, 'cadence': cadence, 'period': snap.period,
                         'current': snap.current, 'best': snap.best, 'total': snap.total,
                         'freezes': snap.freezes, 'progress': snap.progress, 'updated_at': now})
        for at in range(0, len(rows), 1000):
            bind.execute(sa.insert(streaks), rows[at:at + 1000])


def downgrade() -> None:
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.drop_index('ix_goals_guild_status_closed')
        batch_op.drop_index('ix_goals_guild_created')

    op.drop_table('member_streaks')
