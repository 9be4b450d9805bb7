"""departures

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 15:00:00

When Shiplog is removed from a server (guilds.left_at) or a member leaves one (members.left_at):
set while gone, cleared on a re-invite or a rejoin. Nothing else is deleted, so both can come back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("guilds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("left_at", bot.db.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("left_at", bot.db.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("left_at")
    with op.batch_alter_table("guilds", schema=None) as batch_op:
        batch_op.drop_column("left_at")
