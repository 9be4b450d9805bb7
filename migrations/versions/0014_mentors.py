"""mentors

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 19:00:00

Whether a member offers to help in the repositories where they merged (members.mentor, off by
default) and their short note (members.mentor_note): `/me mentor`, read by `/github who-knows` and
`/goal add` (bot/services/github/mentors.py). Everyone starts as not opted in.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mentor", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("mentor_note", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("mentor_note")
        batch_op.drop_column("mentor")
