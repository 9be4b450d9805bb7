"""The tables. Everything belongs to a guild: one process serves many servers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, RowId, Snowflake, UTCDateTime, utcnow

CHANNEL_PURPOSES = ("goals", "celebrations", "accountability", "digest", "github")


class Guild(Base):
    """A Discord server and its settings."""

    __tablename__ = "guilds"

    id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    goals_channel_id: Mapped[int | None] = mapped_column(Snowflake)
    celebrations_channel_id: Mapped[int | None] = mapped_column(Snowflake)
    accountability_channel_id: Mapped[int | None] = mapped_column(Snowflake)
    digest_channel_id: Mapped[int | None] = mapped_column(Snowflake)
    github_channel_id: Mapped[int | None] = mapped_column(Snowflake)
    # The last goal number handed out; goal numbers are unique and never reused within a guild.
    last_goal_number: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def channel_for(self, purpose: str) -> int | None:
        """Return the channel id configured for `purpose`, if any."""
        return getattr(self, f"{purpose}_channel_id")


class Member(Base):
    """A member's own preferences within one guild."""

    __tablename__ = "members"

    guild_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Goal(Base):
    """A public goal a member set for themselves."""

    __tablename__ = "goals"
    __table_args__ = (
        UniqueConstraint("guild_id", "number"),
        Index("ix_goals_owner_status", "guild_id", "user_id", "status"),
        Index("ix_goals_link", "link_repo", "link_number"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Snowflake)
    text: Mapped[str] = mapped_column(String(300))
    due: Mapped[date | None] = mapped_column(Date)
    # A linked GitHub issue or pull request, normalised: "owner/repo" in lower case and the number.
    link_repo: Mapped[str | None] = mapped_column(String(200))
    link_number: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def link(self) -> str | None:
        """Return the link as owner/repo#number."""
        if self.link_repo is None or self.link_number is None:
            return None
        return f"{self.link_repo}#{self.link_number}"


class OutboxMessage(Base):
    """A message the bot owes to a channel, written in the same transaction as what caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int | None] = mapped_column(Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(Snowflake)
    # What to render: a kind that a cog knows how to draw, and a snapshot of the data to draw it with.
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Set when the same message must never be queued twice (say, one celebration per merged PR).
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(Snowflake)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppState(Base):
    """Small key/value facts the process keeps between runs (such as the synced command hash)."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
