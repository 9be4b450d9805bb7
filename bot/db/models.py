"""The tables. Everything belongs to a guild: one process serves many servers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false, true

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
    # Streak periods: "weekly" (ISO weeks, Monday to Sunday) or "daily", in each member's own zone.
    cadence: Mapped[str] = mapped_column(String(8), default="weekly", server_default="weekly")
    # When the weekly ping and digest go out: weekday 0 = Monday, "HH:MM", an IANA zone.
    schedule_weekday: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    schedule_time: Mapped[str] = mapped_column(String(5), default="09:00", server_default="09:00")
    schedule_timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # The radar: linked members' merges anywhere on GitHub are celebrated (admins can turn it off).
    radar_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # When the radar was last turned back on: what merged before, while it was off, is not celebrated.
    radar_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A merge into the member's own repository counts for streaks and stats but is not celebrated.
    celebrate_own_repos: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # An open PR with no review for this many days gets a review-wait nudge (for members who chose one).
    review_wait_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    # Who the weekly ping mentions: every member with an open goal (false), or only those of them
    # with no check-in since the previous ping (true).
    ping_quiet_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # At most this many members are mentioned; the rest are named as a count (and ping_role_id, if
    # set, is mentioned instead). None: no cap.
    ping_cap: Mapped[int | None] = mapped_column(Integer)
    ping_role_id: Mapped[int | None] = mapped_column(Snowflake)
    # Public pages (/settings pages): off until an admin allows them. The slug is the server's part
    # of every page's address, random and kept when pages are turned off and on again; the name is
    # the server's, stored when pages are turned on (the bot stores no other names).
    pages_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    page_slug: Mapped[str | None] = mapped_column(String(32), unique=True)
    page_name: Mapped[str | None] = mapped_column(String(100))
    # The community page (/settings pages community:true), off until an admin publishes it. Its slug
    # is readable, made from the server's name the first time it is published (unique), and kept
    # from then on, so an address once shared keeps working when the page is turned back on.
    community_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    community_slug: Mapped[str | None] = mapped_column(String(48), unique=True)
    # Set while Shiplog is not in the server (removed, kicked): no runs, no posts, pages answer 404.
    # A re-invite clears it; everything else is kept for that.
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
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
    # Mentioned in the weekly accountability ping (members can opt out).
    reminders: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # A direct message a day before a period ends while the streak is at risk (members opt in).
    streak_dms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Review-wait nudges for their open PRs: "off", "ping" (a line in the weekly ping) or "dm".
    review_nudges: Mapped[str] = mapped_column(String(8), default="off", server_default="off")
    # The weekly recap (a ready-to-post draft about their week) by DM after the digest (members opt in).
    recap_dms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Named by /github who-knows and /goal add as someone who can help in the repositories where they
    # merged (members opt in), with their own short note ("ask me about the docs").
    mentor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    mentor_note: Mapped[str | None] = mapped_column(String(100))
    # Set while the member is not in the server (seen only with MEMBERS_INTENT): not mentioned, no DMs.
    # Rejoining clears it; their goals and history stay (/me forget is for erasing).
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemberPage(Base):
    """A member's public page (/me page), where their server allows pages: the row exists while they opt in.

    The slug is random and is the member's part of the address; the display name is theirs, as it
    was when they last ran /me page. Opting out deletes the row, so the address is dead for good.
    """

    __tablename__ = "member_pages"

    guild_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Goal(Base):
    """A public goal a member set for themselves."""

    __tablename__ = "goals"
    __table_args__ = (
        UniqueConstraint("guild_id", "number"),
        Index("ix_goals_owner_status", "guild_id", "user_id", "status"),
        Index("ix_goals_link", "link_repo", "link_number"),
        # The digest's queries: goals finished in a window, and goals set in a window.
        Index("ix_goals_guild_status_closed", "guild_id", "status", "closed_at"),
        Index("ix_goals_guild_created", "guild_id", "created_at"),
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
    # None for actions that post nothing (granting a milestone role, say).
    channel_id: Mapped[int | None] = mapped_column(Snowflake)
    # What to render: a kind that a cog knows how to draw, and a snapshot of the data to draw it with.
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Set when the same message must never be queued twice (say, one celebration per merged PR).
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # Rows with the same fold key that are due together are posted as one message (relay bursts).
    fold_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(Snowflake)
    # Sent with the post: Discord answers a repeated nonce with the message it already made. Random,
    # not the row id, so it is never reused, whatever is deleted or restored from a backup.
    nonce: Mapped[str | None] = mapped_column(String(25))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppState(Base):
    """Small key/value facts the process keeps between runs (such as the synced command hash)."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """A GitHub webhook delivery, stored before it is acknowledged and processed from here."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status", "status", "id"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(100), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    headers: Mapped[dict[str, str]] = mapped_column(JSON)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GitHubAccount(Base):
    """A member's GitHub account: one per member, one member per account, within a guild."""

    __tablename__ = "github_accounts"
    __table_args__ = (
        UniqueConstraint("guild_id", "user_id"),
        UniqueConstraint("guild_id", "github_id"),
        UniqueConstraint("guild_id", "login_lower"),
        Index("ix_github_accounts_github_id", "github_id"),
        Index("ix_github_accounts_login_lower", "login_lower"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Snowflake)
    # GitHub's numeric id survives a renamed login; it is None until known (an admin's link by login).
    github_id: Mapped[int | None] = mapped_column(BigInteger)
    login: Mapped[str] = mapped_column(String(39))
    login_lower: Mapped[str] = mapped_column(String(39))
    linked_by: Mapped[int | None] = mapped_column(Snowflake)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GitHubProfile(Base):
    """A linked GitHub account as the radar knows it: one row per GitHub user, shared by every guild.

    The merged-PR history is imported once, on linking: `history_total` is GitHub's count then, of
    which `history_read` PRs were read (a large history is capped, and its counts are then "500+").
    `checked_through` is the radar's cursor: merges up to then have been seen.
    """

    __tablename__ = "github_profiles"
    __table_args__ = (Index("ix_github_profiles_checked", "last_checked_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # GitHub's numeric id
    login: Mapped[str] = mapped_column(String(39))
    history_status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    history_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    history_read: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_through: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    open_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when GitHub no longer knows the account (deleted); the radar then leaves it alone.
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The user's GraphQL node id, as GitHub last gave it (None: not yet; the radar uses the legacy form).
    node_id: Mapped[str | None] = mapped_column(String(100))


class GitHubMerge(Base):
    """A merged PR of a GitHub user, wherever it was seen first: the history import, the radar or a webhook."""

    __tablename__ = "github_merges"
    __table_args__ = (
        UniqueConstraint("github_id", "repo", "number"),
        Index("ix_github_merges_user_merged", "github_id", "merged_at"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    github_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("github_profiles.id", ondelete="CASCADE"))
    repo: Mapped[str] = mapped_column(String(200))  # owner/name in lower case
    number: Mapped[int] = mapped_column(Integer)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))  # history, radar, webhook
    # From a private repository (or one not known to be public): counted, never published (audience.py).
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class GitHubOpenPR(Base):
    """An open PR of a linked GitHub user, as the radar last saw it (for /github prs and review nudges)."""

    __tablename__ = "github_open_prs"
    __table_args__ = (UniqueConstraint("github_id", "repo", "number"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    github_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("github_profiles.id", ondelete="CASCADE"))
    repo: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(String(300))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # True while GitHub's search says the PR has no review at all (review:none).
    unreviewed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReviewNudge(Base):
    """When a member was last nudged about one of their PRs waiting for review (never twice in a week)."""

    __tablename__ = "review_nudges"

    guild_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    repo: Mapped[str] = mapped_column(String(200), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    nudged_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GitHubLinkRequest(Base):
    """A pending link: the code the member must show on their GitHub profile or in a gist."""

    __tablename__ = "github_link_requests"

    guild_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    login: Mapped[str] = mapped_column(String(39))
    code: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MergedPullRequest(Base):
    """A linked member's merged pull request, recorded once per guild, repo and number."""

    __tablename__ = "merged_prs"
    __table_args__ = (
        UniqueConstraint("guild_id", "repo", "number"),
        Index("ix_merged_prs_member", "guild_id", "user_id", "merged_at"),
        Index("ix_merged_prs_guild_merged", "guild_id", "merged_at"),
        # The community page's counts, read from the index alone: by repository, and by month. `private`
        # comes last: first, it made SQLite take these for a member's own merges (guild, private) over
        # ix_merged_prs_member (guild, member), and read the whole server's (7 ms became 470 ms).
        Index("ix_merged_prs_guild_repo_public", "guild_id", "repo", "private"),
        Index("ix_merged_prs_guild_merged_public", "guild_id", "merged_at", "private"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Snowflake)
    github_id: Mapped[int | None] = mapped_column(BigInteger)
    repo: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(String(300))
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # From a private repository: celebrated in the server, never on a public page or in a share draft.
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Subscription(Base):
    """A repository whose events are relayed into a channel."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("guild_id", "repo", "channel_id"), Index("ix_subscriptions_repo", "repo"))

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"))
    repo: Mapped[str] = mapped_column(String(200))
    channel_id: Mapped[int] = mapped_column(Snowflake)
    # A comma list of pulls, issues, releases, good-first-issues.
    events: Mapped[str] = mapped_column(String(100))
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    include_bots: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by: Mapped[int | None] = mapped_column(Snowflake)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MilestoneRole(Base):
    """A role granted when a member reaches a milestone (say, their 5th merged PR)."""

    __tablename__ = "milestone_roles"

    guild_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    milestone: Mapped[str] = mapped_column(String(32), primary_key=True)
    role_id: Mapped[int] = mapped_column(Snowflake)


class Activity(Base):
    """Something that counts for a streak period: a check-in, a merged PR, a finished goal.

    `local_date` is the member's own date when it happened, fixed then: a later change of time
    zone does not move past activity into another period.
    """

    __tablename__ = "activity"
    __table_args__ = (
        UniqueConstraint("guild_id", "user_id", "kind", "ref"),
        Index("ix_activity_member_date", "guild_id", "user_id", "local_date"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Snowflake)
    kind: Mapped[str] = mapped_column(String(16))  # checkin, pr, goal
    ref: Mapped[str] = mapped_column(String(200))
    local_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemberStreak(Base):
    """A member's streak as of their last active period, kept up to date as activity is recorded.

    It depends on no "today": the leaderboard works out from it, with arithmetic, whether the run is
    still alive in the member's current period (see streaks.state_from_snapshot). `cadence` is the
    one it was computed with: a row of another cadence than the guild's is stale and recomputed.
    """

    __tablename__ = "member_streaks"

    guild_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    cadence: Mapped[str] = mapped_column(String(8))
    period: Mapped[date] = mapped_column(Date)  # the first day of the last active period
    current: Mapped[int] = mapped_column(Integer)  # the run through that period
    best: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    freezes: Mapped[int] = mapped_column(Integer)
    progress: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CheckIn(Base):
    """A member's progress note."""

    __tablename__ = "checkins"
    __table_args__ = (Index("ix_checkins_member", "guild_id", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Snowflake)
    note: Mapped[str] = mapped_column(String(1000))
    link: Mapped[str | None] = mapped_column(String(300))
    local_date: Mapped[date] = mapped_column(Date)
    # Shared in the accountability channel; a member's check-ins are shared at most once per cooldown.
    posted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RestPeriod(Base):
    """A break a member announced: periods inside it freeze the streak instead of breaking it."""

    __tablename__ = "rest_periods"
    __table_args__ = (Index("ix_rest_periods_member", "guild_id", "user_id"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Snowflake)
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)  # inclusive
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Kudos(Base):
    """A public thank-you from one member to another."""

    __tablename__ = "kudos"
    __table_args__ = (
        Index("ix_kudos_receiver", "guild_id", "to_user_id"),
        Index("ix_kudos_giver_recent", "guild_id", "from_user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"))
    from_user_id: Mapped[int] = mapped_column(Snowflake)
    to_user_id: Mapped[int] = mapped_column(Snowflake)
    reason: Mapped[str] = mapped_column(String(300))
    local_date: Mapped[date] = mapped_column(Date)  # the giver's date (the limit counts by created_at)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LimitMark(Base):
    """When a member who has since used /me forget last did something rate-limited: a time, no more.

    `/me forget` deletes the member's kudos and check-ins, which the limits count; their recent times
    are kept here so the limits still hold, without the reason, the recipient or the note. `member` is
    a SHA-256 of the guild and user ids, so the table names nobody outright, and each row is deleted
    once its limit's window (24 hours for kudos, the cooldown for check-in posts) has passed.
    """

    __tablename__ = "limit_marks"
    __table_args__ = (Index("ix_limit_marks_member", "guild_id", "member", "kind", "at"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"))
    member: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # kudos, checkin (a check-in shared publicly)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """A scheduled job's run for one server and period, recorded with the messages it queued."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("guild_id", "job", "period"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("guilds.id", ondelete="CASCADE"))
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="done", server_default="done")  # done, skipped
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
