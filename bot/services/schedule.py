"""The weekly rhythm: when a server's accountability ping and digest go out, what they say, and the
streak-at-risk direct messages.

Exactly once per server and period: a run is recorded as a JobRun row (guild, job, period) in the
same transaction as the outbox rows it queues. The unique (guild_id, job, period) constraint is the
lock: on SQLite every transaction is BEGIN IMMEDIATE, so a second run (a restart, a misfire, another
process) waits for the first and then sees its row; on PostgreSQL the second insert fails, the run
is rolled back and tried once more, and then it sees the row.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Goal, Guild, JobRun, Kudos, Member, MergedPullRequest
from bot.db.session import transaction
from bot.errors import UserError
from bot.services import outbox, streaks
from bot.services.dates import TimezoneError, describe_due, member_today, parse_timezone
from bot.services.github import nudges
from bot.services.github.nudges import WaitingPR
from bot.services.guilds import ensure_guild, ensure_member
from bot.services.streaks import StreakState

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
GOALS_PER_MEMBER = 5
NUDGES_SHOWN = 3
GOAL_TEXT_SHOWN = 120
DIGEST_LISTED = 5
DIGEST_TOP_KUDOS = 3
PING_HEADER = (
    "📣 **Weekly check-in!** How are your goals going? Share progress with `/checkin`, finish a goal with "
    "`/goal done`, or drop one that no longer fits. (`/me reminders` turns these mentions off.)"
)

_TIME_RE = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
# Member-written text goes into the ping as message content: neutralise markdown (but not links)
# and mentions, as cogs/_format.escape does (a service may not import discord).
_MARKDOWN_RE = re.compile(r"(?P<url>https?://[^\s<]+[^<.,:;\"'\]\s])|(?P<markdown>[_\\~|*`\[\]])")
_MENTION_RE = re.compile(r"@(everyone|here|[!&]?[0-9]{17,20})")


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
        return cls(guild.schedule_weekday, parse_time(guild.schedule_time), _zone(guild.schedule_timezone))

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
    """Return every server's schedule."""
    async with transaction(sessionmaker) as session:
        return {guild.id: Schedule.of(guild) for guild in await session.scalars(select(Guild))}


async def set_cadence(sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, cadence: str) -> str:
    """Set whether the server's streaks count weeks or days."""
    if cadence not in streaks.CADENCES:
        raise UserError(f"Pick one of: {', '.join(streaks.CADENCES)}.")
    async with transaction(sessionmaker) as session:
        guild = await ensure_guild(session, guild_id)
        guild.cadence = cadence
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
class GoalLine:
    """An open goal as the ping shows it."""

    number: int
    text: str
    due: date | None


@dataclass(frozen=True, slots=True)
class DueMember:
    """A member the ping mentions: their first open goals, and their streak if it is at risk."""

    user_id: int
    goals: tuple[GoalLine, ...]
    open_goals: int
    streak_at_risk: int
    cadence: str
    today: date
    # Their PRs waiting for a first review, for members who chose nudges in the ping.
    waiting: tuple[WaitingPR, ...] = ()


@dataclass(frozen=True, slots=True)
class PingMessage:
    """One message of the ping and exactly the members it mentions."""

    content: str
    user_ids: tuple[int, ...]


def streak_words(length: int, cadence: str) -> str:
    """Say '3-week' or '1-day'."""
    return f"{length}-{'week' if cadence == 'weekly' else 'day'}"


def escape_text(text: str) -> str:
    """Escape markdown (links excepted) and defuse mentions in member-written text."""
    escaped = _MARKDOWN_RE.sub(lambda m: m["url"] or "\\" + m["markdown"], text)
    return _MENTION_RE.sub("@\u200b\\1", escaped)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def member_block(member: DueMember) -> str:
    """Render one member's lines of the ping: the mention, then their first open goals.

    At most GOALS_PER_MEMBER goals of at most GOAL_TEXT_SHOWN characters are shown, so that a block
    always fits in a message with the header (about 1,500 characters at worst).
    """
    head = f"<@{member.user_id}>"
    if member.streak_at_risk:
        when = "this week" if member.cadence == "weekly" else "today"
        head += f" 🔥 your {streak_words(member.streak_at_risk, member.cadence)} streak is at risk: check in {when}!"
    lines = [head]
    for goal in member.goals:
        line = f"• `#{goal.number}` {escape_text(_shorten(goal.text, GOAL_TEXT_SHOWN))}"
        if goal.due is not None:
            line += f" · {describe_due(goal.due, today=member.today)}"
        lines.append(line)
    if member.open_goals > len(member.goals):
        lines.append(f"• … and {member.open_goals - len(member.goals)} more (`/goal list`)")
    if member.waiting:
        refs = ", ".join(f"{pr.ref} ({pr.days} days)" for pr in member.waiting[:NUDGES_SHOWN])
        more = f" and {len(member.waiting) - NUDGES_SHOWN} more" if len(member.waiting) > NUDGES_SHOWN else ""
        lines.append(f"• ⏳ waiting for a review: {escape_text(refs)}{more}. `/github prs` has a follow-up to copy.")
    return "\n".join(lines)


def pack_ping(members: Sequence[DueMember], *, limit: int = MESSAGE_LIMIT) -> list[PingMessage]:
    """Lay the ping out in as few messages as fit, never splitting a member's block.

    Best-fit decreasing bin packing: blocks, longest first, each go into the fullest message that still
    has room, or open a new one. That is within 11/9 of the fewest possible messages, and with blocks
    far shorter than a message it meets the lower bound in practice. The header opens the first
    message; within a message members keep the order given.
    """
    blocks = [member_block(m) for m in members]
    if not blocks:
        return []
    # A block costs its length plus the newline before it; the first message also holds the header,
    # and a later message has no newline before its first block.
    cost = [len(block) + 1 for block in blocks]
    bins: list[list[int]] = [[]]
    room: list[tuple[int, int]] = [(limit - len(PING_HEADER), 0)]  # sorted (room left, message index)
    for index in sorted(range(len(blocks)), key=lambda i: (-cost[i], i)):
        at = bisect_left(room, (cost[index], -1))
        if at < len(room):
            left, target = room.pop(at)
        else:
            left, target = limit + 1, len(bins)
            bins.append([])
        if cost[index] > left:
            raise ValueError(f"a member's block of {cost[index]} characters does not fit in a message")
        bins[target].append(index)
        insort(room, (left - cost[index], target))
    messages = []
    for number, members_in in enumerate(bins):
        if not members_in:
            continue
        members_in.sort()
        lines = ([PING_HEADER] if number == 0 else []) + [blocks[i] for i in members_in]
        messages.append(PingMessage("\n".join(lines), tuple(members[i].user_id for i in members_in)))
    return messages


async def due_members(
    session: AsyncSession, guild_id: int, *, now: datetime, states: dict[int, StreakState]
) -> list[DueMember]:
    """Return the members the ping mentions: open goals or a streak at risk, and reminders on.

    Members whose streak is at risk come first (longest streak first), then the rest by id.
    """
    settings = {
        user_id: (zone, reminders)
        for user_id, zone, reminders in await session.execute(
            select(Member.user_id, Member.timezone, Member.reminders).where(Member.guild_id == guild_id)
        )
    }
    soonest_first = (case((Goal.due.is_(None), 1), else_=0), Goal.due, Goal.number)
    ranked = (
        select(
            Goal.user_id,
            Goal.number,
            Goal.text,
            Goal.due,
            func.row_number().over(partition_by=Goal.user_id, order_by=soonest_first).label("rank"),
            func.count().over(partition_by=Goal.user_id).label("total"),
        )
        .where(Goal.guild_id == guild_id, Goal.status == "open")
        .subquery()
    )
    goals_of: defaultdict[int, list[GoalLine]] = defaultdict(list)
    open_count: dict[int, int] = {}
    rows = await session.execute(
        select(ranked.c.user_id, ranked.c.number, ranked.c.text, ranked.c.due, ranked.c.total)
        .where(ranked.c.rank <= GOALS_PER_MEMBER)
        .order_by(ranked.c.user_id, ranked.c.rank)
    )
    for user_id, number, text, due, total in rows:
        goals_of[user_id].append(GoalLine(number, text, due))
        open_count[user_id] = total
    at_risk = {user_id: state for user_id, state in states.items() if state.at_risk}
    waiting = await nudges.waiting(session, guild_id, now=now, mode="ping")
    cadence = await session.scalar(select(Guild.cadence).where(Guild.id == guild_id)) or streaks.DEFAULT_CADENCE

    today_in: dict[str, date] = {}
    due = []
    for user_id in goals_of.keys() | at_risk.keys() | waiting.keys():
        zone_name, reminders = settings.get(user_id, ("UTC", True))
        if not reminders:
            continue
        if zone_name not in today_in:
            today_in[zone_name] = member_today(now, _zone(zone_name))
        state = at_risk.get(user_id)
        due.append(
            DueMember(
                user_id=user_id,
                goals=tuple(goals_of.get(user_id, ())),
                open_goals=open_count.get(user_id, 0),
                streak_at_risk=state.current if state else 0,
                cadence=state.cadence if state else cadence,
                today=today_in[zone_name],
                waiting=tuple(waiting.get(user_id, ())),
            )
        )
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
    goals_set, goals_finished = (
        await session.execute(
            select(
                func.count().filter(Goal.created_at >= start, Goal.created_at < end), func.count().filter(finished)
            ).where(Goal.guild_id == guild_id)
        )
    ).one()
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

    longest = sorted(
        ((state.current, user_id, state.cadence) for user_id, state in states.items() if state.current > 0),
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
    """
    for attempt in (1, 2):
        try:
            async with transaction(sessionmaker) as session:
                return await _run_weekly(session, guild_id, scheduled_for=scheduled_for, now=now)
        except IntegrityError:
            # Another process recorded the same period between our check and our insert (PostgreSQL);
            # the next attempt sees its rows.
            if attempt == 2:
                raise
            log.info("guild %s: another process ran the weekly jobs at the same time; checking again", guild_id)
    raise AssertionError("unreachable")


async def _run_weekly(session: AsyncSession, guild_id: int, *, scheduled_for: datetime, now: datetime) -> RunResult:
    guild = await session.get(Guild, guild_id)
    if guild is None:
        return RunResult(guild_id, "", scheduled_for, ())
    schedule = Schedule.of(guild)
    period = period_of(schedule, scheduled_for)
    missing = await _missing_jobs(session, guild_id, period)
    plans: list[tuple[str, int | None, str]] = []  # job, channel to post in, reason it is skipped
    for job in missing:
        channel_id = guild.channel_for("accountability" if job == "ping" else "digest")
        if now - scheduled_for > CATCH_UP_WINDOW:
            reason = f"missed by {_hours(now - scheduled_for)}, more than {_hours(CATCH_UP_WINDOW)}"
        elif channel_id is None:
            reason = f"no {'accountability' if job == 'ping' else 'digest'} channel is set"
        else:
            reason = ""
        plans.append((job, channel_id, reason))
        session.add(
            JobRun(guild_id=guild_id, job=job, period=period, status="skipped" if reason else "done", ran_at=now)
        )
    # Claim the period before the work: a concurrent run fails (or waits) here rather than after it.
    await session.flush()

    outcomes = [JobOutcome(job, "already") for job in JOBS if job not in missing]
    states: dict[int, StreakState] | None = None
    for job, channel_id, reason in plans:
        if reason:
            log.warning("guild %s: skipped the weekly %s of %s: %s", guild_id, job, period, reason)
            outcomes.append(JobOutcome(job, "skipped", reason=reason))
            continue
        if states is None:
            states = await streaks.guild_streaks(session, guild_id, now=now)
        if job == "ping":
            members = await due_members(session, guild_id, now=now, states=states)
            payloads = [{"content": m.content, "user_ids": list(m.user_ids)} for m in pack_ping(members)]
            for member in members:
                if member.waiting:  # nudged in the same transaction as the ping: never twice in a week
                    await nudges.mark_nudged(
                        session, guild_id, member.user_id, list(member.waiting[:NUDGES_SHOWN]), now=now
                    )
        else:
            data = await build_digest(
                session,
                guild_id,
                # From the previous scheduled instant, not 7 x 24 h: a DST week is 167 or 169 hours.
                start=previous_run(schedule, scheduled_for - timedelta(microseconds=1)),
                end=scheduled_for,
                states=states,
            )
            payloads = [data | {"period": period}]
        await outbox.enqueue_many(
            session,
            [
                outbox.message(
                    guild_id=guild_id,
                    channel_id=channel_id,
                    kind=f"rhythm.{job}",
                    data=data,
                    now=now,
                    dedupe_key=f"rhythm:{guild_id}:{period}:{job}:{n}",
                )
                for n, data in enumerate(payloads)
            ],
        )
        log.info("guild %s: queued the weekly %s of %s (%d messages)", guild_id, job, period, len(payloads))
        outcomes.append(JobOutcome(job, "done", messages=len(payloads)))
    outcomes.sort(key=lambda outcome: JOBS.index(outcome.job))
    return RunResult(guild_id, period, scheduled_for, tuple(outcomes))


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} hours"


async def catch_up(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> list[RunResult]:
    """Make (or, when too late, record as skipped) every server's most recent run that is missing.

    A server created after its most recent scheduled time has nothing to catch up.
    """
    async with transaction(sessionmaker) as session:
        wanted: dict[int, tuple[datetime, str]] = {}
        for guild in await session.scalars(select(Guild)):
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
            select(Member.guild_id, Member.user_id, Member.timezone).where(Member.streak_dms.is_(True))
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
        data = {
            "user_id": dm.user_id,
            "streak": dm.streak,
            "freezes": dm.freezes,
            "cadence": dm.cadence,
            "period": period,
            "ends_at": dm.ends_at.isoformat(),
        }
        rows.append(
            outbox.message(
                guild_id=guild_id,
                channel_id=None,
                kind="dm.streak",
                data=data,
                now=now,
                dedupe_key=f"dm.streak:{guild_id}:{dm.user_id}:{period}",
            )
        )
        queued.append(dm)
    await outbox.enqueue_many(session, rows)
    if queued:
        log.info("guild %s: queued %d streak-at-risk DMs", guild_id, len(queued))
    return queued
