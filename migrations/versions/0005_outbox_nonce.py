"""outbox nonce

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:05:00

A random nonce per outbox row: the row-id nonce repeated after `/me forget` deleted the highest
rows (SQLite reuses row ids), and Discord then dropped the new message as a repeat. Rows queued
before keep the nonce they may already have been posted with.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nonce', sa.String(length=25), nullable=True))
    op.execute("UPDATE outbox SET nonce = 'shiplog-' || CAST(id AS VARCHAR(20))")


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('nonce')
