"""pages

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 13:00:00

Public pages: a server's admins allow them (guilds.pages_enabled, with the server's random slug
and name), and each member who opts in has a row in member_pages (a random slug and their name).
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('member_pages',
    sa.Column('guild_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('slug', sa.String(length=32), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('created_at', bot.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', bot.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['guild_id'], ['guilds.id'], name=op.f('fk_member_pages_guild_id_guilds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('guild_id', 'user_id', name=op.f('pk_member_pages')),
    sa.UniqueConstraint('slug', name=op.f('uq_member_pages_slug'))
    )
    with op.batch_alter_table('guilds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pages_enabled', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('page_slug', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('page_name', sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_guilds_page_slug'), ['page_slug'])


def downgrade() -> None:
    with op.batch_alter_table('guilds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_guilds_page_slug'), type_='unique')
        batch_op.drop_column('page_name')
        batch_op.drop_column('page_slug')
        batch_op.drop_column('pages_enabled')
    op.drop_table('member_pages')
