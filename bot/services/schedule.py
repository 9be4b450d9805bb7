"""The weekly rhythm: when a server's accountability ping and digest go out, what they say, and the
streak-at-risk direct messages.

Exactly once per server and period: a run is recorded as a JobRun row (guild, job, period) in the
same transaction as the outbox rows it queues. The run works its messages out in a read (no write
lock), then writes in one short transaction that first looks at the JobRun rows again and leaves out
any job recorded meanwhile. The unique (guild_id, job, period) constraint is the lock: on SQLite
every write transaction is BEGIN IMMEDIATE, so a second run (a restart, a misfire, another process)
waits for the first's write and then sees its rows; on PostgreSQL the second insert fails, the run
is rolled back and tried once more, and then it sees the rows.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import CheckIn, Goal, Guild, JobRun, Kudos, Member, MergedPullRequest, OutboxMessage
from bot.db.session import chunks, reading, transaction
from bot.errors import UserError
from bot.services import audience, messages, outbox
from bot.services.audience import departed
from bot.services.dates import TimezoneError, member_today, parse_timezone
from bot.services.github import nudges
from bot.services.github.nudges import WaitingPR
from bot.services.guilds import ensure_guild, ensure_member
from bot.services.messages import STREAK_MARK, WAITING_MARK, ping_token
from bot.services.rhythm import streaks
from bot.services.rhythm.streaks import StreakState
from bot.services.sharing import recap

log = logging.getLogger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
JOBS = ("ping", "digest")
# A run missed while the bot was down is still made this long after its time, and skipped after.
CATCH_UP_WINDOW = timedelta(hours=12)
# The streak-at-risk DM goes out once the member's period ends within this long.
DM_LEAD = timedelta(hours=24)
# A daily period always ends within a day: warn in its evening instead, not at its midnight.
DAILY_DM_LEAD = timedelta(hours=6)

MESSAGE_LIMIT = 2000
# The review-wait nudge in the ping is a marker; the first few waiting PRs count as nudged.
NUDGES_SHOWN = 3
DIGEST_LISTED = 5
DIGEST_TOP_KUDOS = 3

_TIME_RE = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


# --- When: pure schedule arithmetic -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schedule:
    """A weekly wall-clock time in a zone: weekday 0 = Monday."""

    weekday: int
    at: time
    zone: ZoneInfo

    @classmethod
    def of(cls, guild: Guild) -> Schedule:
        """Read a guild's schedule."""
        return cls.read(guild.schedule_weekday, guild.schedule_time, guild.schedule_timezone)

    @classmethod
    def read(cls, weekday: int, at: str, timezone: str | None) -> Schedule:
        """Read a schedule as stored: a weekday number, 'HH:MM' and a zone name."""
        return cls(weekday, parse_time(at), _zone(timezone))

    @property
    def key(self) -> str:
        """Return a stable text form, to tell whether a scheduled job still matches the database."""
        return f"{self.weekday} {self.at:%H:%M} {self.zone.key}"

    def describe(self) -> str:
        """Say 'Mondays at 09:00 (UTC)'."""
        return f"{WEEKDAYS[self.weekday].capitalize()}s at {self.at:%H:%M} ({self.zone.key})"


DEFAULT_SCHEDULE = Schedule(0, time(9, 0), ZoneInfo("UTC"))


def scheduled_on(schedule: Schedule, day: date) -> datetime:
    """Return the UTC instant of the schedule's wall time on `day`.

    An ambiguous time (clocks going back) is its first occurrence; a time that does not exist
    (clocks going forward) is read with the offset before the jump, so 02:30 on a day that skips
    02:00-03:00 happens at 03:30. APScheduler's CronTrigger picks the same instants.
    """
    return datetime.combine(day, schedule.at, tzinfo=schedule.zone).astimezone(UTC)


def previous_run(schedule: Schedule, now: datetime) -> datetime:
    """Return the most recent scheduled instant at or before the aware instant `now`, in UTC."""
    today = member_today(now, schedule.zone)
    day = today - timedelta(days=(today.weekday() - schedule.weekday) % 7)
    instant = scheduled_on(schedule, day)
    return instant if instant <= now else scheduled_on(schedule, day - timedelta(days=7))


def next_run(schedule: Schedule, now: datetime) -> datetime:
    """Return the first scheduled instant strictly after the aware instant `now`, in UTC."""
    today = member_today(now, schedule.zone)
    day = today + timedelta(days=(schedule.weekday - today.weekday()) % 7)
    instant = scheduled_on(schedule, day)
    return instant if instant > now else scheduled_on(schedule, day + timedelta(days=7))


def week_closed_by(schedule: Schedule, scheduled_for: datetime) -> tuple[datetime, datetime]:
    """Return the week a run at the scheduled instant `scheduled_for` closes: [previous instant, it).

    This is what "the week" means everywhere Shiplog counts one (the digest, /me recap, the recap
    DM): digest to digest, in the server's schedule, so a merge on Monday at 08:00 before a 09:00
    digest is in the week that digest shows, for the server and for the member alike. It is taken
    from the previous scheduled instant, not 7 x 24 h back: a DST week is 167 or 169 hours.
    """
    return previous_run(schedule, scheduled_for - timedelta(microseconds=1)), scheduled_for


def digest_week(schedule: Schedule, now: datetime, weeks_back: int = 0) -> tuple[datetime, datetime]:
    """Return the week (see `week_closed_by`) that `now` is in, or the one `weeks_back` weeks earlier."""
    end = next_run(schedule, now)
    for _ in range(weeks_back):
        end = previous_run(schedule, end - timedelta(microseconds=1))
    return week_closed_by(schedule, end)


def period_of(schedule: Schedule, scheduled_for: datetime) -> str:
    """Return the ISO week of a scheduled instant in the schedule's zone, such as '2026-W48'."""
    year, week, _ = scheduled_for.astimezone(schedule.zone).isocalendar()
    return f"{year}-W{week:02d}"


def parse_time(text: str) -> time:
    """Read a 24-hour 'HH:MM' time of day, or raise a UserError."""
    match = _TIME_RE.fullmatch(text.strip())
    if match is None:
        shown = text.strip()[:20].replace("`", "'")
        raise UserError(f"`{shown}` isn't a time I can use. Give a 24-hour time as HH:MM, such as 09:00 or 17:30.")
    return time(int(match[1]), int(match[2]))


def parse_weekday(text: str) -> int:
    """Return 0 for 'monday' through 6 for 'sunday', or raise a UserError."""
    cleaned = text.strip().lower()
    for number, name in enumerate(WEEKDAYS):
        if cleaned in (name, name[:3]):
            return number
    raise UserError("Pick a day of the week, from Monday to Sunday.")


@cache
def _zone(name: str | None) -> ZoneInfo:
    """Return a stored zone; an unreadable name falls back to UTC rather than stopping a run."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        log.warning("unknown time zone %r in the database; using UTC", name)
        return ZoneInfo("UTC")


# --- Settings --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleChange:
    """A server's new schedule, when it next posts, and which of its channels are still unset."""

    schedule: Schedule
    next_run: datetime
    unset_channels: tuple[str, ...]


async def set_schedule(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    weekday: str,
    at: str,
    timezone: str | None,
    now: datetime,
) -> ScheduleChange:
    """Set when the server's weekly ping and digest go out; leaving out `timezone` keeps the current one.

    The new schedule applies from its next instant: a time that already passed this week does not
    post late (a restart's catch-up would), and a week whose run already went out does not get another.
    """
    day = parse_weekday(weekday)
    local_time = parse_time(at)
    try:
        zone = parse_timezone(timezone) if timezone is not None else None
    except TimezoneError as exc:
        raise UserError(str(exc)) from None
    async with transaction(sessionmaker) as session:
        guild = await ensure_guild(session, guild_id)
        schedule = Schedule(day, local_time, zone or _zone(guild.schedule_timezone))
        guild.schedule_weekday, guild.schedule_time = day, f"{local_time:%H:%M}"
        guild.schedule_timezone = schedule.zone.key
        last = previous_run(schedule, now)
        last_period = period_of(schedule, last)
        for job in await _missing_jobs(session, guild_id, last_period):
            session.add(JobRun(guild_id=guild_id, job=job, period=last_period, status="skipped", ran_at=now))
        upcoming = next_run(schedule, now)
        if not await _missing_jobs(session, guild_id, period_of(schedule, upcoming)):
            upcoming = next_run(schedule, upcoming)
        unset = tuple(purpose for purpose in ("accountability", "digest") if guild.channel_for(purpose) is None)
    log.info("guild %s: weekly schedule is now %s", guild_id, schedule.key)
    return ScheduleChange(schedule, upcoming, unset)


async def get_schedule(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int) -> Schedule:
    """Return the server's schedule (the default until it has a row)."""
    async with transaction(sessionmaker) as session:
        guild = await session.get(Guild, guild_id)
        return Schedule.of(guild) if guild is not None else DEFAULT_SCHEDULE


async def all_schedules(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[int, Schedule]:
    """Return the schedule of every server Shiplog is in (none for a server it was removed from)."""
    async with transaction(sessionmaker) as session:
        present = await session.scalars(select(Guild).where(audience.guild_present()))
        return {guild.id: Schedule.of(guild) for guild in present}


async def set_cadence(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, cadence: str, now: datetime
) -> str:
    """Set whether the server's streaks count weeks or days."""
    if cadence not in streaks.CADENCES:
        raise UserError(f"Pick one of: {', '.join(streaks.CADENCES)}.")
    async with transaction(sessionmaker) as session:
        guild = await ensure_guild(session, guild_id)
        changed = guild.cadence != cadence
        guild.cadence = cadence
        if changed:
            await session.flush()
            await streaks.refresh_streaks(session, guild_id, now=now)  # the stored streaks count the new periods
    return cadence


async def set_reminders(
    sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, user_id: int, enabled: bool
) -> None:
    """Choose whether the member is mentioned in the weekly accountability ping."""
    async with transaction(sessionmaker) as session:
        (await ensure_member(session, guild_id, user_id)).reminders = enabled


async def set_streak_dms(
    sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, user_id: int, enabled: bool
) -> None:
    """Choose whether the member gets a direct message the day before their streak would break."""
    async with transaction(sessionmaker) as session:
        (await ensure_member(session, guild_id, user_id)).streak_dms = enabled


async def _missing_jobs(session: AsyncSession, guild_id: int, period: str) -> list[str]:
    """Return the weekly jobs that have no recorded run for the period."""
    done = set(
        await session.scalars(
            select(JobRun.job).where(JobRun.guild_id == guild_id, JobRun.period == period, JobRun.job.in_(JOBS))
        )
    )
    return [job for job in JOBS if job not in done]


# --- What: the accountability ping -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PingSettings:
    """Who the ping mentions: members with an open goal, or only those of them with no check-in since
    the previous ping (`quiet_only`); at most `cap` of them (None: all), the rest named as a count and,
    if set, through `role_id`."""

    quiet_only: bool = False
    cap: int | None = None
    role_id: int | None = None

    @classmethod
    def of(cls, guild: Guild) -> PingSettings:
        """Read a guild's ping settings."""
        return cls(bool(guild.ping_quiet_only), guild.ping_cap, guild.ping_role_id)


async def set_ping(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    quiet_only: bool | None = None,
    cap: int | None = None,
    role_id: int | None = None,
    clear_role: bool = False,
) -> PingSettings:
    """Change the given ping settings (None keeps one; a cap of 0 removes the cap) and return them all."""
    if cap is not None and not 0 <= cap <= 1_000_000:
        raise UserError("Pick a cap between 1 and 1,000,000 members, or 0 for no cap.")
    async with transaction(sessionmaker) as session:
        guild = await ensure_guild(session, guild_id)
        if quiet_only is not None:
            guild.ping_quiet_only = quiet_only
        if cap is not None:
            guild.ping_cap = cap or None
        if clear_role:
            guild.ping_role_id = None
        elif role_id is not None:
            guild.ping_role_id = role_id
        return PingSettings.of(guild)


async def get_ping(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int) -> PingSettings:
    """Return the server's ping settings (the defaults until it has a row)."""
    async with transaction(sessionmaker) as session:
        guild = await session.get(Guild, guild_id)
        return PingSettings.of(guild) if guild is not None else PingSettings()


@dataclass(frozen=True, slots=True)
class DueMember:
    """A member the ping may mention, their streak if it is at risk, and their PRs waiting for a first
    review (for members who chose nudges in the ping)."""

    user_id: int
    open_goals: int = 0
    streak_at_risk: int = 0
    waiting: tuple[WaitingPR, ...] = ()


@dataclass(frozen=True, slots=True)
class PingMessage:
    """One message of the ping and exactly the members (and role) it mentions."""

    content: str
    user_ids: tuple[int, ...]
    role_ids: tuple[int, ...] = ()


def streak_words(length: int, cadence: str) -> str:
    """Say '3-week' or '1-day'."""
    return f"{length}-{'week' if cadence == 'weekly' else 'day'}"


def ping_header(cadence: str = "weekly", *, quiet_only: bool = False) -> str:
    """Write the ping's first lines: what it asks, where the goals are, and what its marks mean."""
    period = "week" if cadence == "weekly" else "day"
    asks = (
        "No check-in since the last ping from the members below: how are your goals going?"
        if quiet_only
        else "How are your goals going?"
    )
    return (
        f"📣 **Weekly check-in!** {asks} Share progress with `/checkin`; your goals are in `/goal list`, "
        f"the week is in the digest.\n-# {STREAK_MARK}N: your N-{period} streak is at risk, check in this "
        f"{period} · {WAITING_MARK}: a PR waits for a review (`/github prs`) · `/me reminders` turns these off."
    )


PING_HEADER = ping_header()


def member_token(member: DueMember) -> str:
    """Write one member's part of the ping: the mention, and the review-wait mark if they chose it."""
    return ping_token(member.user_id, waiting=bool(member.waiting))


def overflow_line(count: int, *, quiet_only: bool, role_id: int | None) -> str:
    """Name the members past the cap as a count, and mention the role if one is set."""
    who = "who haven't checked in since the last ping" if quiet_only else "with open goals"
    line = f"…and **{count:,}** more member{'' if count == 1 else 's'} {who}"
    return line + (f": <@&{role_id}>" if role_id else ".")


def pack_ping(
    members: Sequence[DueMember],
    *,
    header: str = PING_HEADER,
    overflow: str = "",
    role_ids: Sequence[int] = (),
    limit: int = MESSAGE_LIMIT,
) -> list[PingMessage]:
    """Lay the ping out in as few messages as fit, members in the order given.

    Members whose streak is at risk share a line that starts with its length ("🔥3 <@a> <@b>"), the
    rest share lines of mentions. Each message is filled before the next is opened, so every message
    but the last has less room left than one member's part. The header opens the first message; the
    `overflow` line (naming who is past the cap, and mentioning `role_ids`) closes the last.
    """
    messages: list[PingMessage] = []
    lines: list[str] = [header] if header else []
    size = len(header)
    users: list[int] = []
    group: int | None = None  # the streak the last line is for, None before a line of members

    def close() -> None:
        nonlocal lines, size, users, group
        if lines:
            messages.append(PingMessage("\n".join(lines), tuple(users)))
        lines, size, users, group = [], 0, [], None

    for member in members:
        token = member_token(member)
        if member.streak_at_risk == group:
            piece = " " + token
        else:
            prefix = f"{STREAK_MARK}{member.streak_at_risk} " if member.streak_at_risk else ""
            piece = ("\n" if lines else "") + prefix + token
        if size + len(piece) > limit:
            close()
            prefix = f"{STREAK_MARK}{member.streak_at_risk} " if member.streak_at_risk else ""
            piece = prefix + token
            if len(piece) > limit:
                raise ValueError(f"a member's part of {len(piece)} characters does not fit in a message")
        if member.streak_at_risk == group:
            lines[-1] += piece
        else:
            lines.append(piece.lstrip("\n"))
        size += len(piece)
        users.append(member.user_id)
        group = member.streak_at_risk
    if overflow:
        if lines and size + 1 + len(overflow) > limit:
            close()
        lines.append(overflow)
        messages.append(PingMessage("\n".join(lines), tuple(users), tuple(role_ids)))
    else:
        close()
    return messages


def plan_ping(
    members: Sequence[DueMember], settings: PingSettings, *, cadence: str = "weekly", limit: int = MESSAGE_LIMIT
) -> tuple[list[PingMessage], list[DueMember]]:
    """Return the ping's messages and the members they mention: at most the cap of them, the rest named
    as a count (and through the role). No members due: no messages."""
    if not members:
        return [], []
    shown = list(members if settings.cap is None else members[: settings.cap])
    rest = len(members) - len(shown)
    overflow = overflow_line(rest, quiet_only=settings.quiet_only, role_id=settings.role_id) if rest else ""
    role_ids = (settings.role_id,) if rest and settings.role_id else ()
    header = ping_header(cadence, quiet_only=settings.quiet_only)
    return pack_ping(shown, header=header, overflow=overflow, role_ids=role_ids, limit=limit), shown


async def due_members(
    session: AsyncSession,
    guild_id: int,
    *,
    now: datetime,
    states: dict[int, StreakState],
    quiet_since: datetime | None = None,
) -> list[DueMember]:
    """Return the members the ping mentions: open goals or a streak at risk, and reminders on; with
    `quiet_since`, only those with no check-in since then.

    Members whose streak is at risk come first (longest streak first), then the rest by id.
    """
    # Members who turned reminders off, and members who left the server (MEMBERS_INTENT).
    opted_out = await audience.unreachable(session, guild_id, messages.OptIn.REMINDERS)
    # Streamed in chunks: a big server has tens of thousands of members with open goals.
    open_count: dict[int, int] = {}
    open_goals = (
        select(Goal.user_id, func.count())
        .where(Goal.guild_id == guild_id, Goal.status == "open")
        .group_by(Goal.user_id)
    )
    async for rows in chunks(session, open_goals):
        open_count.update(rows)
    at_risk = {user_id: state.current for user_id, state in states.items() if state.at_risk}
    waiting = await nudges.waiting(session, guild_id, now=now, mode="ping")
    checked_in: set[int] = set()
    if quiet_since is not None:
        recent = (
            select(CheckIn.user_id).where(CheckIn.guild_id == guild_id, CheckIn.created_at >= quiet_since).distinct()
        )
        async for rows in chunks(session, recent):
            checked_in.update(user_id for (user_id,) in rows)
    due: list[DueMember] = []
    for done, user_id in enumerate(open_count.keys() | at_risk.keys() | waiting.keys(), 1):
        if user_id not in opted_out and user_id not in checked_in:
            due.append(
                DueMember(
                    user_id=user_id,
                    open_goals=open_count.get(user_id, 0),
                    streak_at_risk=at_risk.get(user_id, 0),
                    waiting=tuple(waiting.get(user_id, ())),
                )
            )
        if done % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    due.sort(key=lambda m: (-m.streak_at_risk, m.user_id))
    return due


# --- What: the weekly digest -----------------------------------------------------------------------


async def build_digest(
    session: AsyncSession, guild_id: int, *, start: datetime, end: datetime, states: dict[int, StreakState]
) -> dict[str, Any]:
    """Return the digest of the week from `start` to `end` (excluded) as plain data for the outbox."""
    merged = (
        MergedPullRequest.guild_id == guild_id,
        # Dated by when they merged, not when Shiplog heard of them: a backlog stays in its week.
        MergedPullRequest.merged_at >= start,
        MergedPullRequest.merged_at < end,
    )
    pr_count, authors = (
        await session.execute(select(func.count(), func.count(func.distinct(MergedPullRequest.user_id))).where(*merged))
    ).one()
    prs = await session.execute(
        select(
            MergedPullRequest.user_id,
            MergedPullRequest.repo,
            MergedPullRequest.number,
            MergedPullRequest.title,
            MergedPullRequest.url,
        )
        .where(*merged)
        .order_by(MergedPullRequest.merged_at.desc(), MergedPullRequest.id.desc())
        .limit(DIGEST_LISTED)
    )

    finished = and_(Goal.status == "done", Goal.closed_at >= start, Goal.closed_at < end)
    # Two range counts, each answered from its index (goals by creation, goals by closing).
    goals_set = await session.scalar(
        select(func.count()).where(Goal.guild_id == guild_id, Goal.created_at >= start, Goal.created_at < end)
    )
    goals_finished = await session.scalar(select(func.count()).where(Goal.guild_id == guild_id, finished))
    done_goals = await session.execute(
        select(Goal.user_id, Goal.number, Goal.text)
        .where(Goal.guild_id == guild_id, finished)
        .order_by(Goal.closed_at.desc(), Goal.number.desc())
        .limit(DIGEST_LISTED)
    )

    given = (Kudos.guild_id == guild_id, Kudos.created_at >= start, Kudos.created_at < end)
    kudos_count = await session.scalar(select(func.count()).where(*given))
    received = func.count().label("received")
    top_kudos = await session.execute(
        select(Kudos.to_user_id, received)
        .where(*given)
        .group_by(Kudos.to_user_id)
        .order_by(received.desc(), Kudos.to_user_id)
        .limit(DIGEST_TOP_KUDOS)
    )

    # The week's PRs and goals are history and stay listed; the longest streaks are of members still here.
    gone = await departed(session, guild_id)
    longest = sorted(
        (
            (state.current, user_id, state.cadence)
            for user_id, state in states.items()
            if state.current > 0 and user_id not in gone
        ),
        key=lambda item: (-item[0], item[1]),
    )[:DIGEST_LISTED]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "prs": {
            "count": pr_count,
            "authors": authors,
            "latest": [
                {"user_id": u, "repo": repo, "number": n, "title": title, "url": url} for u, repo, n, title, url in prs
            ],
        },
        "goals": {
            "set": goals_set,
            "finished": goals_finished,
            "latest_finished": [{"user_id": u, "number": n, "text": text} for u, n, text in done_goals],
        },
        "streaks": [{"user_id": u, "current": current, "cadence": cadence} for current, u, cadence in longest],
        "kudos": {"count": kudos_count or 0, "top": [{"user_id": u, "count": n} for u, n in top_kudos]},
    }


# --- Running: exactly once per server and period ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What one job of a run did: 'done' (messages queued, maybe none), 'skipped' (recorded as not
    posted, for `reason`) or 'already' (an earlier run recorded it; nothing done now)."""

    job: str
    status: str
    messages: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RunResult:
    """A server's weekly run for one period."""

    guild_id: int
    period: str
    scheduled_for: datetime
    outcomes: tuple[JobOutcome, ...]

    @property
    def queued(self) -> int:
        """Return how many messages the run queued."""
        return sum(outcome.messages for outcome in self.outcomes)

    def outcome(self, job: str) -> JobOutcome | None:
        """Return what `job` did in this run."""
        return next((outcome for outcome in self.outcomes if outcome.job == job), None)


async def run_weekly(
    sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, *, scheduled_for: datetime, now: datetime
) -> RunResult:
    """Queue the server's ping and digest for the period of `scheduled_for`, unless already done.

    More than CATCH_UP_WINDOW after `scheduled_for`, a job not yet done is recorded as skipped instead.
    The messages are worked out in a read (no write lock; the event loop gets a turn every
    YIELD_EVERY members), then one short transaction looks at the JobRun rows again and records the
    runs with their outbox rows: a job another run recorded in between is left to it.
    """
    for attempt in (1, 2):
        try:
            return await _run_weekly(sessionmaker, guild_id, scheduled_for=scheduled_for, now=now)
        except IntegrityError:
            # Another process recorded the same period between our check and our insert (PostgreSQL);
            # the next attempt sees its rows.
            if attempt == 2:
                raise
            log.info("guild %s: another process ran the weekly jobs at the same time; checking again", guild_id)
    raise AssertionError("unreachable")


# The streak walk gives the event loop a turn after this many members.
YIELD_EVERY = 200


@dataclass(frozen=True, slots=True)
class _Planned:
    """A job of a run as worked out in the read: its messages (outbox data), or why it is skipped."""

    job: str
    channel_id: int | None
    reason: str = ""
    payloads: tuple[messages.Message, ...] = ()
    nudged: tuple[DueMember, ...] = ()  # mentioned members whose waiting PRs the ping marks
    dms: tuple[messages.RecapDM, ...] = ()  # recap DMs sent after the digest (one per member)


async def _run_weekly(
    sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, *, scheduled_for: datetime, now: datetime
) -> RunResult:
    async with reading(sessionmaker) as session:
        guild = await session.get(Guild, guild_id)
        if guild is None or guild.left_at is not None:  # Shiplog was removed: nothing runs, nothing is recorded
            return RunResult(guild_id, "", scheduled_for, ())
        schedule = Schedule.of(guild)
        period = period_of(schedule, scheduled_for)
        missing = await _missing_jobs(session, guild_id, period)
        if not missing:
            return RunResult(guild_id, period, scheduled_for, tuple(JobOutcome(job, "already") for job in JOBS))
        plans = await _plan_jobs(session, guild, schedule, period, missing, scheduled_for=scheduled_for, now=now)

    # The write: short, whatever the server's size. BEGIN IMMEDIATE waits for a concurrent run's
    # write, and then this look sees its rows (on PostgreSQL a race ends in IntegrityError, retried).
    async with transaction(sessionmaker) as session:
        still_missing = set(await _missing_jobs(session, guild_id, period))
        outcomes = [JobOutcome(job, "already") for job in JOBS if job not in still_missing or job not in missing]
        rows: list[dict[str, Any]] = []
        for plan in plans:
            if plan.job not in still_missing:
                continue
            status = "skipped" if plan.reason else "done"
            session.add(JobRun(guild_id=guild_id, job=plan.job, period=period, status=status, ran_at=now))
            if plan.reason:
                outcomes.append(JobOutcome(plan.job, "skipped", reason=plan.reason))
                continue
            for member in plan.nudged:  # nudged in the transaction of the ping: never twice in a week
                await nudges.mark_nudged(
                    session, guild_id, member.user_id, list(member.waiting[:NUDGES_SHOWN]), now=now
                )
            rows += [
                outbox.values_for(
                    message,
                    guild_id=guild_id,
                    channel_id=plan.channel_id,
                    now=now,
                    dedupe_key=f"rhythm:{guild_id}:{period}:{plan.job}:{n}",
                )
                for n, message in enumerate(plan.payloads)
            ]
            # After the digest: the same transaction, so each opted-in member gets it once a week.
            rows += [
                outbox.values_for(
                    dm,
                    guild_id=guild_id,
                    channel_id=None,
                    now=now,
                    dedupe_key=f"rhythm:{guild_id}:{period}:recap:{dm.user_id}",
                )
                for dm in plan.dms
            ]
            outcomes.append(JobOutcome(plan.job, "done", messages=len(plan.payloads)))
        await session.flush()
        if rows:
            await session.execute(insert(OutboxMessage), rows)
    for outcome in outcomes:
        if outcome.status == "skipped":
            log.warning("guild %s: skipped the weekly %s of %s: %s", guild_id, outcome.job, period, outcome.reason)
        elif outcome.status == "done":
            log.info(
                "guild %s: queued the weekly %s of %s (%d messages)", guild_id, outcome.job, period, outcome.messages
            )
    outcomes.sort(key=lambda outcome: JOBS.index(outcome.job))
    return RunResult(guild_id, period, scheduled_for, tuple(outcomes))


async def _plan_jobs(
    session: AsyncSession,
    guild: Guild,
    schedule: Schedule,
    period: str,
    missing: Sequence[str],
    *,
    scheduled_for: datetime,
    now: datetime,
) -> list[_Planned]:
    """Work out each missing job's messages, or why it is skipped (reads only)."""
    plans: list[_Planned] = []
    states: dict[int, StreakState] | None = None
    for job in missing:
        channel_id = guild.channel_for("accountability" if job == "ping" else "digest")
        if now - scheduled_for > CATCH_UP_WINDOW:
            plans.append(
                _Planned(
                    job, channel_id, f"missed by {_hours(now - scheduled_for)}, more than {_hours(CATCH_UP_WINDOW)}"
                )
            )
            continue
        if channel_id is None:
            plans.append(
                _Planned(job, channel_id, f"no {'accountability' if job == 'ping' else 'digest'} channel is set")
            )
            continue
        if states is None:
            states = await streaks.stored_states(session, guild.id, now=now, yield_every=YIELD_EVERY)
        week_start, _ = week_closed_by(schedule, scheduled_for)
        if job == "ping":
            settings = PingSettings.of(guild)
            members = await due_members(
                session, guild.id, now=now, states=states, quiet_since=week_start if settings.quiet_only else None
            )
            await asyncio.sleep(0)
            pings, mentioned = plan_ping(members, settings, cadence=guild.cadence)
            nudged = tuple(member for member in mentioned if member.waiting)
            plans.append(_Planned(job, channel_id, payloads=tuple(ping_payload(m) for m in pings), nudged=nudged))
        else:
            data = await build_digest(session, guild.id, start=week_start, end=scheduled_for, states=states)
            dms = await _recap_dms(session, guild, start=week_start, end=scheduled_for, now=now)
            digest = messages.Digest.decode(data | {"period": period})
            plans.append(_Planned(job, channel_id, payloads=(digest,), dms=dms))
        await asyncio.sleep(0)
    return plans


RECAP_DM_KIND = messages.RecapDM.KIND


async def _recap_dms(
    session: AsyncSession, guild: Guild, *, start: datetime, end: datetime, now: datetime
) -> tuple[messages.RecapDM, ...]:
    """The recap DMs of the week that ends with this digest, for the members who asked for them."""
    dms = []
    for user_id in await recap.recap_members(session, guild.id):
        week = await recap.build(session, guild_id=guild.id, user_id=user_id, start=start, end=end, now=now)
        dms.append(messages.RecapDM(user_id=user_id, start=start.isoformat(), quiet=week.quiet, drafts=week.drafts))
        await asyncio.sleep(0)
    return tuple(dms)


def ping_payload(message: PingMessage) -> messages.Ping:
    """Return a ping message as the outbox's value (render_ping draws it)."""
    return messages.Ping(content=message.content, user_ids=tuple(message.user_ids), role_ids=tuple(message.role_ids))


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} hours"


async def catch_up(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> list[RunResult]:
    """Make (or, when too late, record as skipped) every server's most recent run that is missing.

    A server created after its most recent scheduled time has nothing to catch up.
    """
    async with transaction(sessionmaker) as session:
        wanted: dict[int, tuple[datetime, str]] = {}
        for guild in await session.scalars(select(Guild).where(audience.guild_present())):
            schedule = Schedule.of(guild)
            last = previous_run(schedule, now)
            if guild.created_at <= last:
                wanted[guild.id] = (last, period_of(schedule, last))
        periods = {period for _, period in wanted.values()}
        rows = await session.execute(
            select(JobRun.guild_id, JobRun.job, JobRun.period).where(JobRun.job.in_(JOBS), JobRun.period.in_(periods))
        )
        recorded = {tuple(row) for row in rows}
    results = []
    for guild_id, (last, period) in sorted(wanted.items()):
        if all((guild_id, job, period) in recorded for job in JOBS):
            continue
        try:
            results.append(await run_weekly(sessionmaker, guild_id, scheduled_for=last, now=now))
        except Exception:
            log.exception("guild %s: could not catch up the weekly run of %s", guild_id, period)
    return results


# --- The streak-at-risk direct message --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreakDM:
    """A direct message queued to a member whose streak breaks when their period ends."""

    guild_id: int
    user_id: int
    streak: int
    freezes: int
    cadence: str
    period: date
    ends_at: datetime


async def queue_streak_dms(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> list[StreakDM]:
    """Queue one DM per member and period to members who opted in, whose streak is at risk and whose
    period ends within DM_LEAD."""
    async with transaction(sessionmaker) as session:
        rows = await session.execute(
            select(Member.guild_id, Member.user_id, Member.timezone)
            .join(Guild, Guild.id == Member.guild_id)
            .where(audience.reachable(messages.OptIn.STREAK_DMS), audience.guild_present())
        )
        members: defaultdict[int, dict[int, str]] = defaultdict(dict)
        for guild_id, user_id, zone_name in rows:
            members[guild_id][user_id] = zone_name
    queued: list[StreakDM] = []
    for guild_id, zones in members.items():
        try:
            async with transaction(sessionmaker) as session:
                queued += await _queue_guild_dms(session, guild_id, zones, now=now)
        except IntegrityError:
            log.info("guild %s: another process queued streak DMs at the same time; next round sees them", guild_id)
        except Exception:
            log.exception("guild %s: could not queue streak DMs", guild_id)
    return queued


async def _queue_guild_dms(
    session: AsyncSession, guild_id: int, zones: dict[int, str], *, now: datetime
) -> list[StreakDM]:
    states = await streaks.guild_streaks(session, guild_id, now=now, user_ids=zones.keys())
    candidates = []
    for user_id, zone_name in zones.items():
        state = states[user_id]
        if not state.at_risk:
            continue
        zone = _zone(zone_name)
        ends_at = streaks.period_end_utc(member_today(now, zone), zone, state.cadence)
        if now < ends_at <= now + (DM_LEAD if state.cadence == "weekly" else DAILY_DM_LEAD):
            candidates.append(
                StreakDM(guild_id, user_id, state.current, state.freezes, state.cadence, state.period, ends_at)
            )
    if not candidates:
        return []
    rows = await session.execute(
        select(JobRun.job, JobRun.period).where(
            JobRun.guild_id == guild_id,
            JobRun.job.startswith("dm:"),
            JobRun.period.in_({dm.period.isoformat() for dm in candidates}),
        )
    )
    sent = {tuple(row) for row in rows}
    queued, rows = [], []
    for dm in candidates:
        job, period = f"dm:{dm.user_id}", dm.period.isoformat()
        if (job, period) in sent:
            continue
        session.add(JobRun(guild_id=guild_id, job=job, period=period, status="done", ran_at=now))
        message = messages.StreakDM(
            user_id=dm.user_id,
            streak=dm.streak,
            freezes=dm.freezes,
            cadence=dm.cadence,
            period=period,
            ends_at=dm.ends_at.isoformat(),
        )
        rows.append(
            outbox.row_for(
                message,
                guild_id=guild_id,
                channel_id=None,
                now=now,
                dedupe_key=f"dm.streak:{guild_id}:{dm.user_id}:{period}",
            )
        )
        queued.append(dm)
    await outbox.enqueue_many(session, rows)
    if queued:
        log.info("guild %s: queued %d streak-at-risk DMs", guild_id, len(queued))
    return queued
