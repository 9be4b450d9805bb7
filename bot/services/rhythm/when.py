"""When the weekly rhythm happens: a server's weekly schedule, its instants and weeks, and the
parsing of the days and times admins give it. Pure arithmetic: no database, no Discord.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.db.models import Guild
from bot.errors import UserError
from bot.services.dates import member_today

log = logging.getLogger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_TIME_RE = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


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
        return cls(weekday, parse_time(at), stored_zone(timezone))

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
def stored_zone(name: str | None) -> ZoneInfo:
    """Return a zone stored for a server or a member; an unreadable name falls back to UTC rather than
    stopping a run or /streak."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        log.warning("unknown time zone %r in the database; using UTC", name)
        return ZoneInfo("UTC")
