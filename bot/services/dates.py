"""Parse and describe members' due dates and time zones (stdlib only, no Discord)."""

# Accepted due-date forms (case-insensitive, surrounding and repeated spaces ignored):
#
#   2026-03-01, 2026/03/01, 2026-3-1      ISO-style year-month-day (one separator kind per date)
#   today, tomorrow
#   friday, fri, next friday              the next such day strictly *after* today, so "friday"
#                                         typed on a Friday means a week later; "next friday" is the
#                                         same day as "friday" (avoids the "this/next" ambiguity)
#   in 3 days, in a week, in 2 weeks,     relative offsets; "in" and "from now" are optional, units
#   in 3 months, 2 weeks, in 1 year       are day/week/month/year; month and year arithmetic clamps
#                                         to the end of the month (Jan 31 + 1 month = Feb 28/29)
#   next week, next month, next year      in 7 days / same day next month / same day next year
#   end of week, end of month,            coming Sunday (today if Sunday) / last day of this month /
#   end of year (eow, eom, eoy)           December 31 ("end of the week" and "end of this week" work)
#   march 1, mar 1st, 1 march,            this year, or next year if that day has already passed;
#   1st of march, march 1 2027            an explicit year is taken as given
#
# "Today" is the calendar date in the member's time zone at `now`. Dates before today and dates
# more than five years after today are rejected, as are impossible dates such as 2026-02-30.

from __future__ import annotations

import calendar
import functools
import re
import unicodedata
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = [
    "MAX_INPUT_LENGTH",
    "MAX_YEARS_AHEAD",
    "DateParseError",
    "TimezoneError",
    "describe_due",
    "member_today",
    "parse_due",
    "parse_timezone",
    "search_timezones",
]

MAX_INPUT_LENGTH = 100
MAX_YEARS_AHEAD = 5

_WEEKDAYS = {
    "monday": 0, "mon": 0,
    "tuesday": 1, "tue": 1, "tues": 1,
    "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3,
    "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}  # fmt: skip

# Spelled out rather than taken from calendar.month_name, which follows the process locale.
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_MONTHS = {name.lower(): number for number, name in enumerate(_MONTH_NAMES, start=1)}
_MONTHS |= {name[:3].lower(): number for number, name in enumerate(_MONTH_NAMES, start=1)}
_MONTHS["sept"] = 9

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip

_ISO_RE = re.compile(r"(?P<year>[0-9]{4})(?P<sep>[-/])(?P<month>[0-9]{1,2})(?P=sep)(?P<day>[0-9]{1,2})")
_WEEKDAY_RE = re.compile(r"(?:next\s+)?(?P<weekday>[a-z]+)")
_RELATIVE_RE = re.compile(r"(?:in\s+)?(?P<count>[0-9]+|[a-z]+)\s+(?P<unit>day|week|month|year)s?(?:\s+from\s+now)?")
_END_OF_RE = re.compile(r"end\s+of\s+(?:the\s+|this\s+)?(?P<period>week|month|year)|eo(?P<short>[wmy])")
_ORDINAL = r"(?P<day>[0-9]{1,2})(?:st|nd|rd|th)?"
_YEAR_SUFFIX = r"(?:,?\s+(?P<year>[0-9]{4}))?"
_MONTH_DAY_RE = re.compile(rf"(?P<month>[a-z]+)\.?\s+{_ORDINAL}{_YEAR_SUFFIX}")
_DAY_MONTH_RE = re.compile(rf"(?:the\s+)?{_ORDINAL}\s+(?:of\s+)?(?P<month>[a-z]+)\.?{_YEAR_SUFFIX}")

# Larger counts are certainly beyond the horizon; checking first avoids date overflow.
_MAX_RELATIVE_COUNT = 100_000

_EXAMPLES = "'friday', 'tomorrow', 'in 2 weeks' or 'end of month'"


class DateParseError(ValueError):
    """Signal a due date that can't be used; the message is safe to show the member."""


class TimezoneError(ValueError):
    """Signal an unknown time zone name; the message is safe to show the member."""


def member_today(now: datetime, tz: ZoneInfo) -> date:
    """Return the calendar date it is in `tz` at the aware instant `now`."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (UTC)")
    return now.astimezone(tz).date()


def parse_due(text: str, *, now: datetime, tz: ZoneInfo) -> date:
    """Parse a due date typed by a member, read in the member's time zone `tz` at aware `now`."""
    today = member_today(now, tz)
    if len(text) > MAX_INPUT_LENGTH:
        raise DateParseError(
            f"That's a bit long for a date (at most {MAX_INPUT_LENGTH} characters). {_try_hint(today)}"
        )
    cleaned = " ".join(text.split()).lower()
    if not cleaned:
        raise DateParseError(f"Please give me a due date. {_try_hint(today)}")

    due = _parse_cleaned(cleaned, today)
    if due is None:
        raise DateParseError(f"I couldn't read '{_shown(text)}' as a date. {_try_hint(today)}")
    if due < today:
        raise DateParseError("That date is already in the past. Please pick today or a later date.")
    limit = _horizon(today)
    if due > limit:
        raise DateParseError(_too_far_message(limit))
    return due


def describe_due(due: date, *, today: date) -> str:
    """Describe `due` relative to `today`, e.g. 'due in 3 days' or 'overdue by 2 weeks'."""
    days = (due - today).days
    if days == 0:
        return "due today"
    if days == 1:
        return "due tomorrow"
    span = _span(abs(days))
    return f"due in {span}" if days > 0 else f"overdue by {span}"


def parse_timezone(name: str) -> ZoneInfo:
    """Return the ZoneInfo for an IANA zone name a member picked, or raise TimezoneError."""
    cleaned = name.strip()
    if not cleaned:
        raise TimezoneError("Please pick a time zone, for example Europe/Berlin or America/New_York.")
    canonical = None
    if len(cleaned) <= MAX_INPUT_LENGTH:
        canonical = _zone_lookup().get(cleaned.replace(" ", "_").lower())
    if canonical is None:
        raise TimezoneError(
            f"'{_shown(cleaned)}' isn't a time zone I know. "
            "Pick one from the list, for example Europe/Berlin or America/New_York."
        )
    try:
        return ZoneInfo(canonical)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # listed but unreadable tz data
        raise TimezoneError(
            f"I couldn't load the time zone '{canonical}'. Please pick another one from the list."
        ) from exc


def search_timezones(query: str, limit: int = 25) -> list[str]:
    """Return up to `limit` zone names matching `query`, best matches first, for autocomplete."""
    if limit <= 0:
        return []
    needle = " ".join(query.replace("_", " ").split()).lower()[:MAX_INPUT_LENGTH]
    if not needle:
        known = _zone_names()
        return [zone for zone in _DEFAULT_ZONES if zone in known][:limit]
    ranked = []
    for zone in _zone_names():
        rank = _match_rank(zone, needle)
        if rank is not None:
            ranked.append((rank, _is_legacy_zone(zone), zone.lower(), zone))
    ranked.sort()
    return [zone for *_, zone in ranked[:limit]]


# --- due-date helpers -----------------------------------------------------------------------------


def _parse_cleaned(cleaned: str, today: date) -> date | None:
    """Return the date for normalised input, None if no form matches, or raise for bad dates."""
    if cleaned == "today":
        return today
    if cleaned == "tomorrow":
        return today + timedelta(days=1)
    if cleaned == "next week":
        return today + timedelta(days=7)
    if cleaned == "next month":
        return _add_months_or_too_far(today, 1)
    if cleaned == "next year":
        return _add_months_or_too_far(today, 12)

    if match := _ISO_RE.fullmatch(cleaned):
        return _checked_date(int(match["year"]), int(match["month"]), int(match["day"]), today)

    if (match := _WEEKDAY_RE.fullmatch(cleaned)) and match["weekday"] in _WEEKDAYS:
        # Strictly after today: 1..7 days ahead.
        ahead = (_WEEKDAYS[match["weekday"]] - today.weekday() - 1) % 7 + 1
        return today + timedelta(days=ahead)

    if match := _END_OF_RE.fullmatch(cleaned):
        period = match["period"] or {"w": "week", "m": "month", "y": "year"}[match["short"]]
        if period == "week":
            return today + timedelta(days=(6 - today.weekday()) % 7)
        if period == "month":
            return today.replace(day=calendar.monthrange(today.year, today.month)[1])
        return date(today.year, 12, 31)

    if (match := _RELATIVE_RE.fullmatch(cleaned)) and (count := _count(match["count"])) is not None:
        return _add_relative(today, count, match["unit"])

    for pattern in (_MONTH_DAY_RE, _DAY_MONTH_RE):
        if (match := pattern.fullmatch(cleaned)) and match["month"] in _MONTHS:
            return _month_day(_MONTHS[match["month"]], int(match["day"]), match["year"], today)
    return None


def _count(word: str) -> int | None:
    """Return the number a count word or digit string stands for, or None."""
    if word.isdigit():
        return int(word)
    return _NUMBER_WORDS.get(word)


def _add_relative(today: date, count: int, unit: str) -> date:
    """Return `today` moved forward by `count` units, raising if that is past the horizon."""
    if count > _MAX_RELATIVE_COUNT:
        raise DateParseError(_too_far_message(_horizon(today)))
    if unit == "day":
        return _add_days_or_too_far(today, count)
    if unit == "week":
        return _add_days_or_too_far(today, 7 * count)
    if unit == "month":
        return _add_months_or_too_far(today, count)
    return _add_months_or_too_far(today, 12 * count)


def _add_days_or_too_far(start: date, days: int) -> date:
    """Return `start` plus `days`, raising the too-far error on calendar overflow."""
    try:
        return start + timedelta(days=days)
    except OverflowError as exc:
        raise DateParseError(_too_far_message(_horizon(start))) from exc


def _add_months_or_too_far(start: date, months: int) -> date:
    """Return `start` plus `months` (clamped), raising the too-far error on calendar overflow."""
    try:
        return _add_months(start, months)
    except ValueError as exc:
        raise DateParseError(_too_far_message(_horizon(start))) from exc


def _add_months(start: date, months: int) -> date:
    """Return `start` moved by `months`, clamping the day to the target month's length."""
    years, month_index = divmod(start.month - 1 + months, 12)
    year, month = start.year + years, month_index + 1
    if not 1 <= year <= 9999:
        raise ValueError("year out of range")
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _horizon(today: date) -> date:
    """Return the latest acceptable due date (five years after `today`, clamped)."""
    try:
        return _add_months(today, 12 * MAX_YEARS_AHEAD)
    except ValueError:
        return date.max


def _month_day(month: int, day: int, year_text: str | None, today: date) -> date:
    """Return the date for a month name and day, picking this or next year when none is given."""
    if year_text is not None:
        return _checked_date(int(year_text), month, day, today)
    year = today.year if (month, day) >= (today.month, today.day) else today.year + 1
    return _checked_date(year, month, day, today)


def _checked_date(year: int, month: int, day: int, today: date) -> date:
    """Build a date, raising a friendly DateParseError if it can't exist or is out of range."""
    if not 1 <= month <= 12:
        raise DateParseError(f"There's no month {month}; months go from 1 to 12. {_try_hint(today)}")
    if year < today.year:
        raise DateParseError("That date is already in the past. Please pick today or a later date.")
    if year > today.year + MAX_YEARS_AHEAD:
        raise DateParseError(_too_far_message(_horizon(today)))
    days_in_month = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days_in_month:
        month_name = _MONTH_NAMES[month - 1]
        raise DateParseError(f"There's no {month_name} {day} in {year} ({month_name} {year} has {days_in_month} days).")
    return date(year, month, day)


def _span(days: int) -> str:
    """Describe a positive number of days as days, weeks (>= 14) or months (>= 60)."""
    if days >= 60:
        amount, unit = days // 30, "month"
    elif days >= 14:
        amount, unit = days // 7, "week"
    else:
        amount, unit = days, "day"
    return f"{amount} {unit}" if amount == 1 else f"{amount} {unit}s"


def _try_hint(today: date) -> str:
    """Return the list of example forms, with an ISO example that is always in the future."""
    example = _add_months(today.replace(day=1), 1) if today.year < 9999 else today
    return f"Try {example.isoformat()}, {_EXAMPLES}."


def _too_far_message(limit: date) -> str:
    """Return the polite message for a date beyond the horizon `limit`."""
    return f"That's more than {MAX_YEARS_AHEAD} years away. Please pick a date on or before {limit.isoformat()}."


def _shown(text: str, max_chars: int = 40) -> str:
    """Return member text trimmed and defused so it can be quoted back in a message."""
    visible = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch == " ")
    visible = " ".join(visible.split())
    if len(visible) > max_chars:
        visible = visible[: max_chars - 1] + "…"
    # Stop quoted text from pinging (@everyone, <@123>) or breaking out of code formatting.
    return visible.replace("@", "@\u200b").replace("`", "'")


# --- time-zone helpers ----------------------------------------------------------------------------

# Names the system tz database may expose that are not real, stable IANA zones for members.
_EXCLUDED_ZONES = frozenset({"localtime", "posixrules", "Factory"})
_EXCLUDED_PREFIXES = ("posix/", "right/", "SystemV/")
_REGIONS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/",
            "Indian/", "Pacific/")  # fmt: skip

# Shown when the autocomplete query is empty: UTC, then roughly west to east (25 = Discord's max).
_DEFAULT_ZONES = (
    "UTC",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Toronto",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Warsaw",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Jakarta",
    "Australia/Sydney",
    "Pacific/Auckland",
)


def _is_usable_zone(name: str) -> bool:
    """Tell whether a name from available_timezones() is safe and sensible to offer."""
    return (
        name not in _EXCLUDED_ZONES
        and not name.startswith(_EXCLUDED_PREFIXES)
        and ".." not in name
        and not name.startswith("/")
        and "\\" not in name
        and "\x00" not in name
    )


@functools.cache
def _zone_names() -> frozenset[str]:
    """Return the cached set of usable IANA zone names."""
    return frozenset(name for name in available_timezones() if _is_usable_zone(name))


@functools.cache
def _zone_lookup() -> dict[str, str]:
    """Return a cached map from lower-cased zone name to its canonical spelling."""
    return {name.lower(): name for name in sorted(_zone_names())}


def _is_legacy_zone(name: str) -> bool:
    """Tell whether a zone is a legacy alias (e.g. US/Eastern, EST5EDT) rather than Region/City."""
    return name != "UTC" and not name.startswith(_REGIONS)


def _match_rank(zone: str, needle: str) -> int | None:
    """Rank how well `zone` matches the normalised query (lower is better), or None if it doesn't."""
    haystack = zone.replace("_", " ").lower()
    if needle not in haystack:
        return None
    if haystack == needle:
        return 0
    if haystack.startswith(needle):
        return 1
    parts = haystack.split("/")
    if any(part.startswith(needle) for part in parts[1:]):
        return 2
    if any(word.startswith(needle) for part in parts for word in part.split()):
        return 3
    return 4
