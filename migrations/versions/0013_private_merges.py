"""private merges

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 14:00:00

Whether a merge comes from a private repository (merged_prs.private, github_merges.private): such a
merge is celebrated in the server but never published (bot/services/audience.py). Merges stored
before are public, as they were treated until now.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("merged_prs", "github_merges"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("private", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    for table in ("github_merges", "merged_prs"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("private")
