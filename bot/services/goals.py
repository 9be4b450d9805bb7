"""Goals: set, list, edit, finish and drop, each member only their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Goal, Guild
from bot.db.session import reading, transaction
from bot.errors import NotFoundError, PermissionDeniedError, UserError
from bot.services import messages, outbox
from bot.services.dates import DateParseError, member_today, parse_due
from bot.services.guilds import ensure_guild, ensure_member, member_zone
from bot.services.links import IssueRef, parse_issue_link
from bot.services.rhythm import activity

MAX_TEXT = 300
RECENTLY_FINISHED = 5
CLEAR_WORDS = frozenset({"none", "clear", "-", "no"})


@dataclass(frozen=True, slots=True)
class GoalView:
    """A goal as the member sees it."""

    number: int
    user_id: int
    text: str
    due: date | None
    link: IssueRef | None
    status: str
    created_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, goal: Goal) -> GoalView:
        """Snapshot a Goal row."""
        link = IssueRef(goal.link_repo, goal.link_number) if goal.link_repo and goal.link_number else None
        return cls(goal.number, goal.user_id, goal.text, goal.due, link, goal.status, goal.created_at, goal.closed_at)

    def announcement(self, kind: type[messages.GoalAdded] | type[messages.GoalDone]) -> messages.Message:
        """Return the outbox message (goal.added or goal.done) about this goal."""
        return kind(
            user_id=self.user_id,
            number=self.number,
            text=self.text,
            due=self.due.isoformat() if self.due else None,
            link=str(self.link) if self.link else None,
        )


@dataclass(frozen=True, slots=True)
class GoalList:
    """A member's goals: open ones first, then recently finished ones."""

    user_id: int
    today: date
    open: list[GoalView]
    finished: list[GoalView]


@dataclass(frozen=True, slots=True)
class GoalChange:
    """The outcome of a change, and whether a public message was queued for it."""

    goal: GoalView
    announced: bool
    today: date


def _clean_text(text: str) -> str:
    if "\x00" in text:  # PostgreSQL cannot store it; SQLite would, invisibly
        raise UserError("Your goal has an invisible control character (U+0000) in it: remove it and try again.")
    cleaned = " ".join(text.split())
    if not cleaned:
        raise UserError("A goal needs some words: say what you want to get done.")
    if len(cleaned) > MAX_TEXT:
        raise UserError(f"A goal can be at most {MAX_TEXT} characters; yours has {len(cleaned)}.")
    return cleaned


async def _parse_due(session: AsyncSession, guild_id: int, user_id: int, text: str, now: datetime) -> date:
    zone = await member_zone(session, guild_id, user_id)
    try:
        return parse_due(text, now=now, tz=zone)
    except DateParseError as exc:
        raise UserError(str(exc)) from None


async def _own_goal(session: AsyncSession, guild_id: int, user_id: int, number: int) -> Goal:
    goal = await session.scalar(select(Goal).where(Goal.guild_id == guild_id, Goal.number == number))
    if goal is None:
        raise NotFoundError(f"There is no goal #{number} in this server. `/goal list` shows yours.")
    if goal.user_id != user_id:
        raise PermissionDeniedError(f"Goal #{number} belongs to someone else: you can only change your own goals.")
    return goal


def close(goal: Goal, status: str, now: datetime) -> None:
    """Mark a goal done or dropped."""
    goal.status, goal.closed_at, goal.updated_at = status, now, now


async def _open_own_goal(session: AsyncSession, guild_id: int, user_id: int, number: int) -> Goal:
    goal = await _own_goal(session, guild_id, user_id, number)
    _require_open(goal)
    return goal


def _require_open(goal: Goal) -> None:
    if goal.status != "open":
        word = "finished" if goal.status == "done" else "dropped"
        raise UserError(f"Goal #{goal.number} is already {word}.")


async def _announce(
    session: AsyncSession,
    guild: Guild,
    kind: type[messages.GoalAdded] | type[messages.GoalDone],
    view: GoalView,
    now: datetime,
) -> bool:
    if guild.goals_channel_id is None:
        return False
    await outbox.enqueue(
        session, view.announcement(kind), guild_id=guild.id, channel_id=guild.goals_channel_id, now=now
    )
    return True


async def add_goal(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    user_id: int,
    text: str,
    now: datetime,
    due: str | None = None,
    link: str | None = None,
) -> GoalChange:
    """Set a new goal, numbered within the server, and queue its announcement."""
    cleaned = _clean_text(text)
    ref = parse_issue_link(link) if link else None
    async with transaction(sessionmaker) as session:
        await ensure_member(session, guild_id, user_id)
        due_date = await _parse_due(session, guild_id, user_id, due, now) if due else None
        number = await session.scalar(
            update(Guild)
            .where(Guild.id == guild_id)
            .values(last_goal_number=Guild.last_goal_number + 1)
            .returning(Guild.last_goal_number)
        )
        goal = Goal(
            guild_id=guild_id,
            number=number,
            user_id=user_id,
            text=cleaned,
            due=due_date,
            link_repo=ref.repo if ref else None,
            link_number=ref.number if ref else None,
            created_at=now,
            updated_at=now,
        )
        session.add(goal)
        await session.flush()
        guild = await session.get_one(Guild, guild_id, populate_existing=True)
        view = GoalView.of(goal)
        announced = await _announce(session, guild, messages.GoalAdded, view, now)
        today = member_today(now, await member_zone(session, guild_id, user_id))
    return GoalChange(view, announced, today)


async def list_goals(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, now: datetime
) -> GoalList:
    """Return a member's open goals (soonest due first) and their recently finished ones."""
    async with reading(sessionmaker) as session:
        today = member_today(now, await member_zone(session, guild_id, user_id))
        open_goals = (
            await session.scalars(
                select(Goal)
                .where(Goal.guild_id == guild_id, Goal.user_id == user_id, Goal.status == "open")
                .order_by(case((Goal.due.is_(None), 1), else_=0), Goal.due, Goal.number)
            )
        ).all()
        finished = (
            await session.scalars(
                select(Goal)
                .where(Goal.guild_id == guild_id, Goal.user_id == user_id, Goal.status == "done")
                .order_by(Goal.closed_at.desc(), Goal.number.desc())
                .limit(RECENTLY_FINISHED)
            )
        ).all()
    return GoalList(user_id, today, [GoalView.of(g) for g in open_goals], [GoalView.of(g) for g in finished])


async def finish_goal(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, number: int, now: datetime
) -> GoalChange:
    """Mark one of the member's open goals done and queue its celebration."""
    async with transaction(sessionmaker) as session:
        goal = await _open_own_goal(session, guild_id, user_id, number)
        close(goal, "done", now)
        guild = await ensure_guild(session, guild_id)
        view = GoalView.of(goal)
        announced = await _announce(session, guild, messages.GoalDone, view, now)
        await activity.record(session, guild_id=guild_id, user_id=user_id, kind="goal", ref=f"goal:{number}", now=now)
        today = member_today(now, await member_zone(session, guild_id, user_id))
    return GoalChange(view, announced, today)


async def drop_goal(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, number: int, now: datetime
) -> GoalChange:
    """Drop one of the member's open goals; it is kept, marked dropped, and no longer listed."""
    async with transaction(sessionmaker) as session:
        goal = await _open_own_goal(session, guild_id, user_id, number)
        close(goal, "dropped", now)
        today = member_today(now, await member_zone(session, guild_id, user_id))
        return GoalChange(GoalView.of(goal), False, today)


async def edit_goal(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    user_id: int,
    number: int,
    now: datetime,
    text: str | None = None,
    due: str | None = None,
    link: str | None = None,
) -> GoalChange:
    """Change an open goal's text, due date or link; 'none' clears the due date or the link."""
    if text is None and due is None and link is None:
        raise UserError("Tell me what to change: give a new `text`, `due` or `link`.")
    cleaned = _clean_text(text) if text is not None else None
    clear_link = link is not None and link.strip().lower() in CLEAR_WORDS
    ref = parse_issue_link(link) if link is not None and not clear_link else None
    async with transaction(sessionmaker) as session:
        goal = await _open_own_goal(session, guild_id, user_id, number)
        if due is not None:
            goal.due = (
                None if due.strip().lower() in CLEAR_WORDS else await _parse_due(session, guild_id, user_id, due, now)
            )
        if cleaned is not None:
            goal.text = cleaned
        if clear_link:
            goal.link_repo = goal.link_number = None
        elif ref is not None:
            goal.link_repo, goal.link_number = ref.repo, ref.number
        goal.updated_at = now
        today = member_today(now, await member_zone(session, guild_id, user_id))
        return GoalChange(GoalView.of(goal), False, today)


async def open_goal_choices(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, query: str, limit: int = 25
) -> list[GoalView]:
    """Return the member's open goals matching `query` (by number or words), for autocomplete."""
    query = query.strip().lstrip("#").lower()
    async with reading(sessionmaker) as session:
        goals = (
            await session.scalars(
                select(Goal)
                .where(Goal.guild_id == guild_id, Goal.user_id == user_id, Goal.status == "open")
                .order_by(Goal.number.desc())
            )
        ).all()
    views = [GoalView.of(g) for g in goals]
    if query:
        views = [v for v in views if str(v.number).startswith(query) or query in v.text.lower()]
    return views[:limit]
