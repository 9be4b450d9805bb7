"""radar since

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:45:00

When a server turned its radar back on: merges from while it was off are not celebrated there,
even when another server's radar found them meanwhile.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


import bot.db.base

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('guilds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('radar_since', bot.db.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('guilds', schema=None) as batch_op:
        batch_op.drop_column('radar_since')
