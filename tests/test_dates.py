from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.dates import (
    MAX_INPUT_LENGTH,
    DateParseError,
    TimezoneError,
    describe_due,
    member_today,
    parse_due,
    parse_timezone,
    search_timezones,
)

TOKYO = ZoneInfo("Asia/Tokyo")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")

# 23:30 UTC on Monday 2026-11-23: already Tuesday the 24th in Tokyo, still Monday the 23rd in LA.
NOW = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
# 03:00 UTC on Tuesday 2026-11-24: still Monday the 23rd (22:00) in New York.
NOW_EARLY = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)

PAST_MESSAGE = "That date is already in the past. Please pick today or a later date."
HINT = "Try 2026-12-01, 'friday', 'tomorrow', 'in 2 weeks' or 'end of month'."


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def parse(text: str, tz: ZoneInfo = UTC_ZONE, now: datetime = NOW) -> date:
    return parse_due(text, now=now, tz=tz)


# --- member_today ---------------------------------------------------------------------------------


def test_member_today_uses_the_members_zone():
    assert member_today(NOW, TOKYO) == date(2026, 11, 24)
    assert member_today(NOW, LOS_ANGELES) == date(2026, 11, 23)
    assert member_today(NOW, UTC_ZONE) == date(2026, 11, 23)
    assert member_today(NOW_EARLY, NEW_YORK) == date(2026, 11, 23)
    assert member_today(NOW_EARLY, UTC_ZONE) == date(2026, 11, 24)


def test_naive_now_is_a_programming_error_not_a_user_error():
    naive = datetime(2026, 11, 23, 12)
    with pytest.raises(ValueError, match="aware") as excinfo:
        parse_due("today", now=naive, tz=TOKYO)
    assert not isinstance(excinfo.value, DateParseError)
    with pytest.raises(ValueError, match="aware"):
        member_today(naive, TOKYO)


# --- every accepted form, in two zones whose dates differ -----------------------------------------

# (text, expected in Tokyo where today is Tue 2026-11-24, expected in LA where today is Mon 2026-11-23)
FORMS = [
    ("today", date(2026, 11, 24), date(2026, 11, 23)),
    ("  TODAY  ", date(2026, 11, 24), date(2026, 11, 23)),
    ("tomorrow", date(2026, 11, 25), date(2026, 11, 24)),
    ("Tomorrow", date(2026, 11, 25), date(2026, 11, 24)),
    ("friday", date(2026, 11, 27), date(2026, 11, 27)),
    ("fri", date(2026, 11, 27), date(2026, 11, 27)),
    ("FRI", date(2026, 11, 27), date(2026, 11, 27)),
    ("next friday", date(2026, 11, 27), date(2026, 11, 27)),
    ("next   Friday", date(2026, 11, 27), date(2026, 11, 27)),
    # Same weekday as today means a week later; the day after today is one day away.
    ("tuesday", date(2026, 12, 1), date(2026, 11, 24)),
    ("tue", date(2026, 12, 1), date(2026, 11, 24)),
    ("tues", date(2026, 12, 1), date(2026, 11, 24)),
    ("monday", date(2026, 11, 30), date(2026, 11, 30)),
    ("mon", date(2026, 11, 30), date(2026, 11, 30)),
    ("wednesday", date(2026, 11, 25), date(2026, 11, 25)),
    ("wed", date(2026, 11, 25), date(2026, 11, 25)),
    ("thursday", date(2026, 11, 26), date(2026, 11, 26)),
    ("thu", date(2026, 11, 26), date(2026, 11, 26)),
    ("thurs", date(2026, 11, 26), date(2026, 11, 26)),
    ("saturday", date(2026, 11, 28), date(2026, 11, 28)),
    ("sat", date(2026, 11, 28), date(2026, 11, 28)),
    ("sunday", date(2026, 11, 29), date(2026, 11, 29)),
    ("sun", date(2026, 11, 29), date(2026, 11, 29)),
    ("in 0 days", date(2026, 11, 24), date(2026, 11, 23)),
    ("in 1 day", date(2026, 11, 25), date(2026, 11, 24)),
    ("in 3 days", date(2026, 11, 27), date(2026, 11, 26)),
    ("in a day", date(2026, 11, 25), date(2026, 11, 24)),
    ("3 days", date(2026, 11, 27), date(2026, 11, 26)),
    ("in 1 week", date(2026, 12, 1), date(2026, 11, 30)),
    ("in a week", date(2026, 12, 1), date(2026, 11, 30)),
    ("in one week", date(2026, 12, 1), date(2026, 11, 30)),
    ("in 2 weeks", date(2026, 12, 8), date(2026, 12, 7)),
    ("in two weeks", date(2026, 12, 8), date(2026, 12, 7)),
    ("2 weeks", date(2026, 12, 8), date(2026, 12, 7)),
    ("2 weeks from now", date(2026, 12, 8), date(2026, 12, 7)),
    ("In 2 Weeks", date(2026, 12, 8), date(2026, 12, 7)),
    ("in 1 month", date(2026, 12, 24), date(2026, 12, 23)),
    ("in a month", date(2026, 12, 24), date(2026, 12, 23)),
    ("in 3 months", date(2027, 2, 24), date(2027, 2, 23)),
    ("3 months", date(2027, 2, 24), date(2027, 2, 23)),
    ("in 1 year", date(2027, 11, 24), date(2027, 11, 23)),
    ("in 2 years", date(2028, 11, 24), date(2028, 11, 23)),
    ("next week", date(2026, 12, 1), date(2026, 11, 30)),
    ("next month", date(2026, 12, 24), date(2026, 12, 23)),
    ("next year", date(2027, 11, 24), date(2027, 11, 23)),
    ("end of week", date(2026, 11, 29), date(2026, 11, 29)),
    ("end of the week", date(2026, 11, 29), date(2026, 11, 29)),
    ("end of this week", date(2026, 11, 29), date(2026, 11, 29)),
    ("eow", date(2026, 11, 29), date(2026, 11, 29)),
    ("end of month", date(2026, 11, 30), date(2026, 11, 30)),
    ("End Of The Month", date(2026, 11, 30), date(2026, 11, 30)),
    ("eom", date(2026, 11, 30), date(2026, 11, 30)),
    ("end of year", date(2026, 12, 31), date(2026, 12, 31)),
    ("eoy", date(2026, 12, 31), date(2026, 12, 31)),
    ("2026-12-25", date(2026, 12, 25), date(2026, 12, 25)),
    ("2026/12/25", date(2026, 12, 25), date(2026, 12, 25)),
    ("2026-12-5", date(2026, 12, 5), date(2026, 12, 5)),
    ("2027-03-01", date(2027, 3, 1), date(2027, 3, 1)),
    ("march 1", date(2027, 3, 1), date(2027, 3, 1)),
    ("March 1st", date(2027, 3, 1), date(2027, 3, 1)),
    ("mar 1", date(2027, 3, 1), date(2027, 3, 1)),
    ("mar. 1", date(2027, 3, 1), date(2027, 3, 1)),
    ("1 march", date(2027, 3, 1), date(2027, 3, 1)),
    ("1st of march", date(2027, 3, 1), date(2027, 3, 1)),
    ("the 1st of march", date(2027, 3, 1), date(2027, 3, 1)),
    ("march 1 2027", date(2027, 3, 1), date(2027, 3, 1)),
    ("march 1, 2028", date(2028, 3, 1), date(2028, 3, 1)),
    ("1 march 2028", date(2028, 3, 1), date(2028, 3, 1)),
    ("sept 3", date(2027, 9, 3), date(2027, 9, 3)),
    ("dec 25", date(2026, 12, 25), date(2026, 12, 25)),
    ("december 25th", date(2026, 12, 25), date(2026, 12, 25)),
    ("may 5", date(2027, 5, 5), date(2027, 5, 5)),
    # Today's date in the member's zone counts as this year; the day before rolls to next year.
    ("nov 24", date(2026, 11, 24), date(2026, 11, 24)),
    ("nov 23", date(2027, 11, 23), date(2026, 11, 23)),
    ("23 november", date(2027, 11, 23), date(2026, 11, 23)),
]


@pytest.mark.parametrize(("text", "in_tokyo", "in_los_angeles"), FORMS)
def test_accepted_forms_in_two_zones(text, in_tokyo, in_los_angeles):
    assert parse(text, TOKYO) == in_tokyo
    assert parse(text, LOS_ANGELES) == in_los_angeles


@pytest.mark.parametrize(
    ("text", "in_new_york", "in_utc"),
    [
        ("today", date(2026, 11, 23), date(2026, 11, 24)),
        ("tomorrow", date(2026, 11, 24), date(2026, 11, 25)),
        ("tuesday", date(2026, 11, 24), date(2026, 12, 1)),
        ("in 1 week", date(2026, 11, 30), date(2026, 12, 1)),
        ("nov 23", date(2026, 11, 23), date(2027, 11, 23)),
    ],
)
def test_utc_date_ahead_of_local_date(text, in_new_york, in_utc):
    assert parse(text, NEW_YORK, NOW_EARLY) == in_new_york
    assert parse(text, UTC_ZONE, NOW_EARLY) == in_utc


def test_today_is_accepted_even_late_in_the_members_day():
    assert parse("2026-11-24", TOKYO) == date(2026, 11, 24)
    assert parse("2026-11-23", LOS_ANGELES) == date(2026, 11, 23)


def test_surrounding_and_repeated_whitespace_is_ignored():
    assert parse("\t in   2\nweeks  ", LOS_ANGELES) == date(2026, 12, 7)


# --- calendar edge cases --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        (at(2026, 1, 31), "in 1 month", date(2026, 2, 28)),
        (at(2026, 1, 31), "next month", date(2026, 2, 28)),
        (at(2028, 1, 31), "in 1 month", date(2028, 2, 29)),
        (at(2026, 1, 31), "in 2 months", date(2026, 3, 31)),
        (at(2026, 3, 31), "in 1 month", date(2026, 4, 30)),
        (at(2026, 11, 30), "in 3 months", date(2027, 2, 28)),
        (at(2026, 12, 31), "in 1 month", date(2027, 1, 31)),
        (at(2026, 10, 31), "in 14 months", date(2027, 12, 31)),
        (at(2028, 2, 29), "in 1 year", date(2029, 2, 28)),
        (at(2028, 2, 29), "next year", date(2029, 2, 28)),
        (at(2028, 2, 29), "in 12 months", date(2029, 2, 28)),
    ],
)
def test_month_arithmetic_clamps_to_month_end(now, text, expected):
    assert parse(text, now=now) == expected


def test_year_end_in_two_zones():
    now = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)  # already 2027-01-01 05:00 in Tokyo
    assert parse("today", LOS_ANGELES, now) == date(2026, 12, 31)
    assert parse("end of year", LOS_ANGELES, now) == date(2026, 12, 31)
    assert parse("end of month", LOS_ANGELES, now) == date(2026, 12, 31)
    assert parse("tomorrow", LOS_ANGELES, now) == date(2027, 1, 1)
    assert parse("jan 1", LOS_ANGELES, now) == date(2027, 1, 1)
    assert parse("dec 31", LOS_ANGELES, now) == date(2026, 12, 31)
    assert parse("today", TOKYO, now) == date(2027, 1, 1)
    assert parse("end of year", TOKYO, now) == date(2027, 12, 31)
    assert parse("end of month", TOKYO, now) == date(2027, 1, 31)
    assert parse("jan 1", TOKYO, now) == date(2027, 1, 1)
    assert parse("dec 31", TOKYO, now) == date(2027, 12, 31)
    with pytest.raises(DateParseError, match="already in the past"):
        parse("2026-12-31", TOKYO, now)


def test_end_of_week_is_today_on_sunday():
    sunday = at(2026, 11, 29)
    assert parse("end of week", now=sunday) == date(2026, 11, 29)
    assert parse("sunday", now=sunday) == date(2026, 12, 6)
    assert parse("end of week", now=at(2026, 11, 28)) == date(2026, 11, 29)


def test_end_of_month_on_last_day_is_today():
    assert parse("end of month", now=at(2026, 2, 28)) == date(2026, 2, 28)
    assert parse("end of month", now=at(2028, 2, 3)) == date(2028, 2, 29)


def test_leap_day():
    assert parse("2028-02-29", now=at(2026, 11, 23)) == date(2028, 2, 29)
    assert parse("feb 29", now=at(2027, 6, 1)) == date(2028, 2, 29)
    assert parse("feb 29", now=at(2028, 1, 10)) == date(2028, 2, 29)
    assert parse("29 february 2028", now=at(2026, 11, 23)) == date(2028, 2, 29)
    assert parse("tomorrow", now=at(2028, 2, 28)) == date(2028, 2, 29)
    assert parse("tomorrow", now=at(2028, 2, 29)) == date(2028, 3, 1)


def test_leap_day_in_a_common_year_is_rejected():
    with pytest.raises(DateParseError) as excinfo:
        parse("2027-02-29")
    assert str(excinfo.value) == "There's no February 29 in 2027 (February 2027 has 28 days)."
    # In late 2026 "feb 29" means February 2027, which has no 29th.
    with pytest.raises(DateParseError, match="There's no February 29 in 2027"):
        parse("feb 29")


# --- rejections -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_input_is_rejected(text):
    with pytest.raises(DateParseError) as excinfo:
        parse(text)
    assert str(excinfo.value) == f"Please give me a due date. {HINT}"


@pytest.mark.parametrize(
    "text",
    [
        "fridy",
        "someday",
        "next",
        "in weeks",
        "in few days",
        "in -2 days",
        "in 2 fortnights",
        "2 weeks ago",
        "last friday",
        "this friday",
        "01/03/2026",
        "2026-03",
        "2026-03/01",
        "20260301",
        "march",
        "march 1 27",
        "smarch 1",
        "١٢ march",
        "in ٣ days",
        "friday!",
    ],
)
def test_nonsense_is_rejected_with_the_accepted_forms(text):
    with pytest.raises(DateParseError) as excinfo:
        parse(text)
    message = str(excinfo.value)
    assert message.startswith("I couldn't read '")
    assert message.endswith(f"as a date. {HINT}")


def test_nonsense_message_quotes_the_input():
    with pytest.raises(DateParseError) as excinfo:
        parse("fridy")
    assert str(excinfo.value) == f"I couldn't read 'fridy' as a date. {HINT}"


def test_quoted_input_is_defused_and_trimmed():
    with pytest.raises(DateParseError) as excinfo:
        parse("@everyone `ping` <@123>\n\x00" + "x" * 60)
    message = str(excinfo.value)
    assert "@everyone" not in message
    assert "<@123>" not in message
    assert "`" not in message
    assert "\n" not in message
    assert "\x00" not in message
    assert "…" in message


def test_example_date_in_the_hint_is_always_in_the_future():
    with pytest.raises(DateParseError, match=r"Try 2027-01-01, 'friday'"):
        parse("fridy", now=at(2026, 12, 31))


def test_input_length_limit():
    padded = "today".ljust(MAX_INPUT_LENGTH)
    assert parse(padded) == date(2026, 11, 23)
    with pytest.raises(DateParseError) as excinfo:
        parse(padded + " ")
    assert str(excinfo.value) == f"That's a bit long for a date (at most 100 characters). {HINT}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-02-30", "There's no February 30 in 2026 (February 2026 has 28 days)."),
        ("2027-04-31", "There's no April 31 in 2027 (April 2027 has 30 days)."),
        ("2027/06/31", "There's no June 31 in 2027 (June 2027 has 30 days)."),
        ("april 31", "There's no April 31 in 2027 (April 2027 has 30 days)."),
        ("31 june 2027", "There's no June 31 in 2027 (June 2027 has 30 days)."),
        ("2027-01-00", "There's no January 0 in 2027 (January 2027 has 31 days)."),
        ("2027-01-32", "There's no January 32 in 2027 (January 2027 has 31 days)."),
        ("2027-13-01", f"There's no month 13; months go from 1 to 12. {HINT}"),
        ("2027-00-10", f"There's no month 0; months go from 1 to 12. {HINT}"),
    ],
)
def test_impossible_dates_are_rejected(text, message):
    with pytest.raises(DateParseError) as excinfo:
        parse(text, LOS_ANGELES)
    assert str(excinfo.value) == message


@pytest.mark.parametrize("text", ["2026-11-22", "2025-12-31", "0001-01-01", "march 1 2026", "1 jan 2026"])
def test_past_dates_are_rejected(text):
    with pytest.raises(DateParseError) as excinfo:
        parse(text, LOS_ANGELES)
    assert str(excinfo.value) == PAST_MESSAGE


def test_yesterday_in_the_members_zone_is_past_even_if_today_in_utc():
    assert parse("2026-11-23", UTC_ZONE) == date(2026, 11, 23)
    with pytest.raises(DateParseError, match="already in the past"):
        parse("2026-11-23", TOKYO)


@pytest.mark.parametrize(
    "text",
    ["in 6 years", "in 61 months", "in 1827 days", "2031-11-24", "2032-01-01", "9999-12-31", "jan 1 2040"],
)
def test_dates_more_than_five_years_ahead_are_rejected(text):
    with pytest.raises(DateParseError) as excinfo:
        parse(text, LOS_ANGELES)
    assert str(excinfo.value) == "That's more than 5 years away. Please pick a date on or before 2031-11-23."


@pytest.mark.parametrize("text", ["in 5 years", "in 60 months", "2031-11-23", "in 1826 days"])
def test_exactly_five_years_ahead_is_accepted(text):
    assert parse(text, LOS_ANGELES) == date(2031, 11, 23)


@pytest.mark.parametrize("text", ["in 99999999999999999999 days", "in 100001 weeks", "in 9999 years"])
def test_huge_relative_counts_are_too_far_not_a_crash(text):
    with pytest.raises(DateParseError, match="more than 5 years away"):
        parse(text)


def test_date_parse_error_is_a_value_error():
    assert issubclass(DateParseError, ValueError)
    assert issubclass(TimezoneError, ValueError)


# --- property: relative phrases never land in the past --------------------------------------------

WEEKDAY_WORDS = ["monday", "tue", "wednesday", "thu", "friday", "sat", "sun"]
RELATIVE_PHRASES = st.one_of(
    st.sampled_from(
        [
            "today",
            "tomorrow",
            "next week",
            "next month",
            "next year",
            "end of week",
            "end of month",
            "end of year",
            "eow",
            "eom",
            "eoy",
        ]
    ),
    st.sampled_from(WEEKDAY_WORDS),
    st.sampled_from(WEEKDAY_WORDS).map(lambda day: f"next {day}"),
    st.builds(
        lambda prefix, count, unit: f"{prefix}{count} {unit}",
        st.sampled_from(["in ", ""]),
        st.integers(min_value=0, max_value=60),
        st.sampled_from(["day", "days", "week", "weeks", "month", "months"]),
    ),
)
# Includes the extreme offsets (+14, -11) and odd ones (+5:45, +10:30/+11, -3:30).
ZONES = st.sampled_from(
    [
        "UTC",
        "Asia/Tokyo",
        "America/Los_Angeles",
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
        "Asia/Kathmandu",
        "Australia/Lord_Howe",
        "Europe/London",
        "America/St_Johns",
    ]
).map(ZoneInfo)
INSTANTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC))


@settings(deadline=None, max_examples=300)
@given(phrase=RELATIVE_PHRASES, now=INSTANTS, tz=ZONES)
def test_relative_phrases_are_never_before_today(phrase, now, tz):
    today = member_today(now, tz)
    due = parse_due(phrase, now=now, tz=tz)
    assert due >= today
    assert due <= today.replace(year=today.year + 5, day=min(today.day, 28)) + timedelta(days=3)


# --- describe_due ---------------------------------------------------------------------------------

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (0, "due today"),
        (1, "due tomorrow"),
        (2, "due in 2 days"),
        (7, "due in 7 days"),
        (13, "due in 13 days"),
        (14, "due in 2 weeks"),
        (20, "due in 2 weeks"),
        (21, "due in 3 weeks"),
        (59, "due in 8 weeks"),
        (60, "due in 2 months"),
        (89, "due in 2 months"),
        (90, "due in 3 months"),
        (365, "due in 12 months"),
        (-1, "overdue by 1 day"),
        (-2, "overdue by 2 days"),
        (-13, "overdue by 13 days"),
        (-14, "overdue by 2 weeks"),
        (-21, "overdue by 3 weeks"),
        (-59, "overdue by 8 weeks"),
        (-60, "overdue by 2 months"),
        (-400, "overdue by 13 months"),
    ],
)
def test_describe_due(offset, text):
    assert describe_due(TODAY + timedelta(days=offset), today=TODAY) == text


def test_describe_due_across_a_year_boundary():
    assert describe_due(date(2027, 1, 1), today=date(2026, 12, 31)) == "due tomorrow"
    assert describe_due(date(2026, 12, 31), today=date(2027, 1, 1)) == "overdue by 1 day"


# --- parse_timezone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("  Asia/Tokyo ", "Asia/Tokyo"),
        ("europe/berlin", "Europe/Berlin"),
        ("AMERICA/NEW_YORK", "America/New_York"),
        ("America/New York", "America/New_York"),
        ("UTC", "UTC"),
        ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ],
)
def test_parse_timezone_accepts_known_zones(name, key):
    zone = parse_timezone(name)
    assert isinstance(zone, ZoneInfo)
    assert zone.key == key


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus",
        "localtime",
        "Factory",
        "posixrules",
        "../etc/passwd",
        "Europe/../Europe/Berlin",
        "/usr/share/zoneinfo/Europe/Berlin",
        "/etc/localtime",
        "Europe\\Berlin",
        "Europe/Berlin\x00",
        "Berlin",
        "Europe/" + "x" * 200,
    ],
)
def test_parse_timezone_rejects_unknown_names(name):
    with pytest.raises(TimezoneError) as excinfo:
        parse_timezone(name)
    message = str(excinfo.value)
    assert message.endswith(
        "isn't a time zone I know. Pick one from the list, for example Europe/Berlin or America/New_York."
    )
    assert "\x00" not in message
    assert len(message) < 200


def test_parse_timezone_message():
    with pytest.raises(TimezoneError) as excinfo:
        parse_timezone("Mars/Olympus")
    assert str(excinfo.value) == (
        "'Mars/Olympus' isn't a time zone I know. "
        "Pick one from the list, for example Europe/Berlin or America/New_York."
    )


@pytest.mark.parametrize("name", ["", "   "])
def test_parse_timezone_rejects_empty(name):
    with pytest.raises(TimezoneError, match="Please pick a time zone"):
        parse_timezone(name)


# --- search_timezones -----------------------------------------------------------------------------


def test_search_empty_query_gives_common_defaults():
    result = search_timezones("")
    assert result[0] == "UTC"
    for zone in ["Europe/London", "America/New_York", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney"]:
        assert zone in result
    assert len(result) <= 25
    assert search_timezones("   ") == result
    assert search_timezones("", limit=3) == result[:3]


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("new york", "America/New_York"),
        ("New_York", "America/New_York"),
        ("NEW YORK", "America/New_York"),
        ("america/new york", "America/New_York"),
        ("berlin", "Europe/Berlin"),
        ("kolkata", "Asia/Kolkata"),
        ("utc", "UTC"),
        ("Europe/London", "Europe/London"),
        ("buenos", "America/Argentina/Buenos_Aires"),
        ("york", "America/New_York"),
    ],
)
def test_search_finds_the_obvious_zone_first(query, best):
    assert search_timezones(query)[0] == best


def test_search_prefix_matches_come_first():
    result = search_timezones("ind", limit=200)
    starts = [zone.lower().startswith("ind") for zone in result]
    assert starts[0]
    assert not all(starts)  # e.g. America/Indiana/... also matches
    assert starts == sorted(starts, reverse=True)


def test_search_results_are_case_insensitive_substrings_and_parseable():
    result = search_timezones("AN", limit=500)
    assert len(result) > 25
    for zone in result:
        assert "an" in zone.lower()
        assert parse_timezone(zone).key == zone


def test_search_respects_limit():
    assert len(search_timezones("a")) == 25
    assert len(search_timezones("a", limit=5)) == 5
    assert search_timezones("a", limit=0) == []
    assert search_timezones("a", limit=-1) == []


def test_search_hides_non_zones_and_handles_nonsense():
    assert search_timezones("olympus") == []
    assert search_timezones("localtime") == []
    assert "Factory" not in search_timezones("factory")
    assert search_timezones("x" * 1000) == []
