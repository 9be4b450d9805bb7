"""community page

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 20:00:00

A server's community page (`/settings pages community:true`): whether it is published
(guilds.community_enabled, off by default) and the readable slug of its address
(guilds.community_slug, `PUBLIC_URL/c/<slug>`, made from the server's name the first time it is
published and kept from then on). Every server stored before starts with no page. Two indexes on
merged_prs let the page count a server's public merges by repository and by month from the index
alone (bench/pages.py: 100,000 merged PRs).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("guilds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("community_enabled", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("community_slug", sa.String(length=48), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_guilds_community_slug"), ["community_slug"])
    with op.batch_alter_table("merged_prs", schema=None) as batch_op:
        batch_op.create_index("ix_merged_prs_guild_repo_public", ["guild_id", "repo", "private"], unique=False)
        batch_op.create_index("ix_merged_prs_guild_merged_public", ["guild_id", "merged_at", "private"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("merged_prs", schema=None) as batch_op:
        batch_op.drop_index("ix_merged_prs_guild_merged_public")
        batch_op.drop_index("ix_merged_prs_guild_repo_public")
    with op.batch_alter_table("guilds", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_guilds_community_slug"), type_="unique")
        batch_op.drop_column("community_slug")
        batch_op.drop_column("community_enabled")
