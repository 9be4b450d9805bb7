"""Check-ins, rest weeks, kudos and the leaderboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import CheckIn, Goal, Guild, Kudos, MergedPullRequest, RestPeriod
from bot.db.session import reading, transaction
from bot.errors import UserError
from bot.services import limits, messages, outbox
from bot.services.audience import departed
from bot.services.dates import member_today
from bot.services.guilds import ensure_guild, ensure_member, member_zone
from bot.services.limits import CHECKIN_COOLDOWN, KUDOS_PER_DAY, KUDOS_WINDOW
from bot.services.links import clean_web_link
from bot.services.rhythm import activity
from bot.services.rhythm.streaks import (
    DEFAULT_CADENCE,
    StreakState,
    activity_days,
    guild_streaks,
    member_streak,
    refresh_streaks,
    stored_currents,
)

# Stale stored streaks (say, after a change of cadence) are rewritten this many per transaction.
REFRESH_BATCH = 500

MAX_NOTE = 1000
MAX_REASON = 300
MAX_LINK = 300
PICTURE_WEEKS = 26
BOARDS = ("streaks", "prs", "goals", "kudos")


def _clean(text: str, limit: int, what: str) -> str:
    if "\x00" in text:  # PostgreSQL cannot store it; SQLite would, invisibly
        raise UserError(f"Your {what} has an invisible control character (U+0000) in it: remove it and try again.")
    cleaned = text.strip()
    if not cleaned:
        raise UserError(f"Your {what} is empty: write a few words.")
    if len(cleaned) > limit:
        raise UserError(f"Your {what} can be at most {limit} characters; it has {len(cleaned)}.")
    return cleaned


def clean_link(link: str) -> str:
    """Accept a plain https:// web address of at most MAX_LINK characters (see links.clean_web_link)."""
    return clean_web_link(link, limit=MAX_LINK)


@dataclass(frozen=True, slots=True)
class CheckInResult:
    """A stored check-in, the streak after it, and whether it is posted publicly.

    `held_until` is set when it is not posted because the member's last check-in was shared less than
    CHECKIN_COOLDOWN ago: the time their next one can be shared.
    """

    id: int
    streak: StreakState
    posted: bool
    held_until: datetime | None = None


async def check_in(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    user_id: int,
    note: str,
    now: datetime,
    link: str | None = None,
) -> CheckInResult:
    """Log progress; it counts for the member's current streak period.

    It is shared in the accountability channel unless the member's last one was shared less than
    CHECKIN_COOLDOWN ago: a burst of check-ins is stored and counted, but posted once.
    """
    note = _clean(note, MAX_NOTE, "note")
    link = clean_link(link) if link else None
    async with transaction(sessionmaker) as session:
        await limits.lock_member(session, guild_id, user_id)
        await limits.prune(session, now)
        today = member_today(now, await member_zone(session, guild_id, user_id))
        guild = await session.get(Guild, guild_id)
        held_until = None
        channel_id = guild.accountability_channel_id if guild is not None else None
        posted = channel_id is not None
        if posted:
            last = await limits.last_checkin_post(session, guild_id, user_id, now)
            if last is not None:
                posted, held_until = False, last + CHECKIN_COOLDOWN
        row = CheckIn(
            guild_id=guild_id, user_id=user_id, note=note, link=link, local_date=today, posted=posted, created_at=now
        )
        session.add(row)
        await session.flush()
        await activity.record(session, guild_id=guild_id, user_id=user_id, kind="checkin", ref=str(row.id), now=now)
        state = await member_streak(session, guild_id, user_id, now=now)
        if posted:
            await outbox.enqueue(
                session,
                messages.CheckinPosted(
                    user_id=user_id, note=note, link=link, streak=state.current, cadence=state.cadence
                ),
                guild_id=guild_id,
                channel_id=channel_id,
                now=now,
            )
        return CheckInResult(row.id, state, posted, held_until)


async def start_rest(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, weeks: int, now: datetime
) -> tuple[date, date]:
    """Announce a break of 1-4 weeks from today: the streak is frozen, not broken, meanwhile."""
    if not 1 <= weeks <= 4:
        raise UserError("A rest is 1 to 4 weeks long.")
    async with transaction(sessionmaker) as session:
        await ensure_member(session, guild_id, user_id)
        today = member_today(now, await member_zone(session, guild_id, user_id))
        end = today + timedelta(weeks=weeks) - timedelta(days=1)
        # A new rest replaces what is left of a running one; the days already rested stay rested
        # (they shaped the streak), and rests that had not begun yet are dropped.
        mine = (RestPeriod.guild_id == guild_id) & (RestPeriod.user_id == user_id)
        await session.execute(delete(RestPeriod).where(mine, RestPeriod.start >= today))
        await session.execute(
            update(RestPeriod).where(mine, RestPeriod.end >= today).values(end=today - timedelta(days=1))
        )
        session.add(RestPeriod(guild_id=guild_id, user_id=user_id, start=today, end=end, created_at=now))
        await session.flush()
        await refresh_streaks(session, guild_id, [user_id], now=now)
    return today, end


async def give_kudos(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    from_user_id: int,
    to_user_id: int,
    to_is_bot: bool,
    reason: str,
    now: datetime,
) -> bool:
    """Thank a member in public; return whether it is posted in the celebrations channel."""
    if to_user_id == from_user_id:
        raise UserError("Kudos are for thanking others. Treat yourself some other way! 🍪")
    if to_is_bot:
        raise UserError("Bots don't need kudos (we run on electricity). Thank a human!")
    reason = _clean(reason, MAX_REASON, "reason")
    async with transaction(sessionmaker) as session:
        # Count under the member's lock: two /kudos at once must not both pass the limit.
        await limits.lock_member(session, guild_id, from_user_id)
        await limits.prune(session, now)
        # Per rolling 24 hours, by when they were given: a change of time zone does not start a new day.
        given = await limits.kudos_given(session, guild_id, from_user_id, now)
        if len(given) >= KUDOS_PER_DAY:
            again = given[len(given) - KUDOS_PER_DAY] + KUDOS_WINDOW
            raise UserError(
                f"You've given {KUDOS_PER_DAY} kudos in the last 24 hours: that's the daily limit. "
                f"You can give the next one <t:{int(again.timestamp())}:R>."
            )
        today = member_today(now, await member_zone(session, guild_id, from_user_id))
        session.add(
            Kudos(
                guild_id=guild_id,
                from_user_id=from_user_id,
                to_user_id=to_user_id,
                reason=reason,
                local_date=today,
                created_at=now,
            )
        )
        guild = await ensure_guild(session, guild_id)
        if guild.celebrations_channel_id is None:
            return False
        await outbox.enqueue(
            session,
            messages.Kudos(from_user_id=from_user_id, to_user_id=to_user_id, reason=reason),
            guild_id=guild_id,
            channel_id=guild.celebrations_channel_id,
            now=now,
        )
        return True


@dataclass(frozen=True, slots=True)
class Board:
    """A leaderboard: the top rows and the caller's own place (1-based) and value."""

    board: str
    top: list[tuple[int, int]]
    my_rank: int | None
    my_value: int
    cadence: str = DEFAULT_CADENCE  # the server's, which says whether a streak counts weeks or days


async def leaderboard(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    board: str,
    user_id: int,
    now: datetime,
    size: int = 10,
) -> Board:
    """Rank members by current streak, merged PRs, finished goals or kudos received."""
    if board not in BOARDS:
        raise UserError(f"Pick one of the boards: {', '.join(BOARDS)}.")
    if board == "streaks":
        values = await _streak_values(sessionmaker, guild_id, now=now)
    else:
        async with reading(sessionmaker) as session:
            if board == "prs":
                query = select(MergedPullRequest.user_id, func.count()).where(MergedPullRequest.guild_id == guild_id)
                query = query.group_by(MergedPullRequest.user_id)
            elif board == "goals":
                query = select(Goal.user_id, func.count()).where(Goal.guild_id == guild_id, Goal.status == "done")
                query = query.group_by(Goal.user_id)
            else:
                query = select(Kudos.to_user_id, func.count()).where(Kudos.guild_id == guild_id)
                query = query.group_by(Kudos.to_user_id)
            values = dict((await session.execute(query)).all())
    async with reading(sessionmaker) as session:
        gone = await departed(session, guild_id)  # a member who left holds no place on the board
        cadence = await session.scalar(select(Guild.cadence).where(Guild.id == guild_id)) or DEFAULT_CADENCE
    values = {uid: value for uid, value in values.items() if uid not in gone}
    ranked = sorted(values.items(), key=lambda item: (-item[1], item[0]))
    # Standard competition ranking: equal values share a place.
    my_rank = None
    for index, (uid, value) in enumerate(ranked):
        if uid == user_id:
            my_rank = 1 + sum(1 for _, v in ranked[:index] if v > value)
    return Board(board, ranked[:size], my_rank, values.get(user_id, 0), cadence)


async def _streak_values(
    sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, *, now: datetime
) -> dict[int, int]:
    """Return the current streaks above 0 from the stored streaks; stale ones are recomputed and stored."""
    async with reading(sessionmaker) as session:
        values, stale = await stored_currents(session, guild_id, now=now)
    if stale:
        # Written back in short transactions, so the next call reads them; shown from the fresh state now.
        for at in range(0, len(stale), REFRESH_BATCH):
            batch = stale[at : at + REFRESH_BATCH]
            async with transaction(sessionmaker) as session:
                await refresh_streaks(session, guild_id, batch, now=now)
        async with reading(sessionmaker) as session:
            states = await guild_streaks(session, guild_id, now=now, user_ids=stale)
        values.update({uid: s.current for uid, s in states.items() if s.current > 0})
    return values


@dataclass(frozen=True, slots=True)
class StreakPicture:
    """What /streak shows: the streak, and activity and rests over the last weeks."""

    state: StreakState
    today: date
    days: dict[date, int]
    rests: list[tuple[date, date]]


async def streak_picture(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, now: datetime
) -> StreakPicture:
    """Gather a member's streak and the last PICTURE_WEEKS weeks of activity and rest."""
    async with reading(sessionmaker) as session:
        state = await member_streak(session, guild_id, user_id, now=now)
        today = member_today(now, await member_zone(session, guild_id, user_id))
        start = today - timedelta(weeks=PICTURE_WEEKS)
        days = await activity_days(session, guild_id, user_id, start=start, end=today)
        rows = await session.execute(
            select(RestPeriod.start, RestPeriod.end).where(
                RestPeriod.guild_id == guild_id, RestPeriod.user_id == user_id, RestPeriod.end >= start
            )
        )
        return StreakPicture(state, today, dict(days), [(s, e) for s, e in rows])
