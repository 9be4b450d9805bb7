"""node ids

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 20:00:00

github_profiles.node_id: the GitHub user's GraphQL node id, which the radar asks GitHub's GraphQL
API by (bot/services/github/radar_graphql.py). Filled from GitHub's answers as they come; until
then the radar uses the legacy form GitHub derives from the numeric id, so no row needs a value now.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("github_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node_id", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("github_profiles", schema=None) as batch_op:
        batch_op.drop_column("node_id")
