"""Streak rules: the pure computation, its properties, and loading from a real SQLite file."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.db.models import Activity, Guild, Member, RestPeriod
from bot.db.session import transaction
from bot.services.dates import member_today
from bot.services.rhythm.streaks import (
    CADENCES,
    MAX_FREEZES,
    PERIODS_PER_FREEZE,
    STREAK_MILESTONES,
    StreakState,
    activity_days,
    compute_streak,
    guild_streaks,
    member_streak,
    period_end_utc,
    period_start,
    refresh_streaks,
    snapshot_streak,
    state_from_snapshot,
    stored_currents,
    stored_states,
)
from tests.conftest import NOW

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
UTC_ZONE = ZoneInfo("UTC")

GUILD = 1000
ALICE = 11
BOB = 22
CAROL = 33

MONDAY = date(2026, 11, 23)  # NOW's date in UTC


def weekly(active, rests=(), *, today: date = MONDAY) -> StreakState:
    return compute_streak(active, rests, cadence="weekly", today=today)


def daily(active, rests=(), *, today: date = MONDAY) -> StreakState:
    return compute_streak(active, rests, cadence="daily", today=today)


def weeks_before(today: date, *weeks: int) -> list[date]:
    """Return one date (a Wednesday) in each of the given weeks before `today`'s week."""
    monday = period_start(today, "weekly")
    return [monday - timedelta(weeks=n) + timedelta(days=2) for n in weeks]


def summary(state: StreakState) -> tuple[int, int, int, int]:
    return state.current, state.best, state.total, state.freezes


# --- Periods ------------------------------------------------------------------------------------------


def test_weekly_periods_start_on_monday_and_daily_periods_are_days():
    assert period_start(date(2026, 11, 23), "weekly") == date(2026, 11, 23)
    assert period_start(date(2026, 11, 29), "weekly") == date(2026, 11, 23)  # Sunday
    assert period_start(date(2026, 11, 30), "weekly") == date(2026, 11, 30)
    assert period_start(date(2026, 11, 29), "daily") == date(2026, 11, 29)


@pytest.mark.parametrize("year", [2020, 2026])  # both years have an ISO week 53
def test_the_week_across_new_year_is_one_period(year: int):
    week_53 = date(year, 12, 28)
    for day in (date(year, 12, 31), date(year + 1, 1, 1), date(year + 1, 1, 3)):
        assert day.isocalendar().week == 53
        assert period_start(day, "weekly") == week_53
    assert period_start(date(year + 1, 1, 4), "weekly") == date(year + 1, 1, 4)


def test_unknown_cadence_is_a_programming_error():
    with pytest.raises(ValueError, match="cadence"):
        period_start(MONDAY, "monthly")
    with pytest.raises(ValueError, match="cadence"):
        compute_streak([], [], cadence="fortnightly", today=MONDAY)


@pytest.mark.parametrize(
    ("today", "tz", "cadence", "end"),
    [
        # Berlin springs forward on Sunday 2026-03-29: that week ends at midnight CEST (UTC+2).
        (date(2026, 3, 25), BERLIN, "weekly", datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
        (date(2026, 3, 28), BERLIN, "daily", datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),
        (date(2026, 3, 29), BERLIN, "daily", datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),  # a 23-hour day
        # ... and falls back on Sunday 2026-10-25: that week ends at midnight CET (UTC+1).
        (date(2026, 10, 19), BERLIN, "weekly", datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),
        # New York springs forward on 2026-03-08 and falls back on 2026-11-01.
        (date(2026, 3, 8), NEW_YORK, "weekly", datetime(2026, 3, 9, 4, 0, tzinfo=UTC)),
        (date(2026, 3, 8), NEW_YORK, "daily", datetime(2026, 3, 9, 4, 0, tzinfo=UTC)),
        (date(2026, 3, 7), NEW_YORK, "daily", datetime(2026, 3, 8, 5, 0, tzinfo=UTC)),
        (date(2026, 11, 1), NEW_YORK, "daily", datetime(2026, 11, 2, 5, 0, tzinfo=UTC)),  # a 25-hour day
        # Havana skips midnight itself (00:00 -> 01:00 on 2026-03-08): the day starts at the jump.
        (date(2026, 3, 7), ZoneInfo("America/Havana"), "daily", datetime(2026, 3, 8, 5, 0, tzinfo=UTC)),
        (date(2026, 12, 31), UTC_ZONE, "weekly", datetime(2027, 1, 4, 0, 0, tzinfo=UTC)),
    ],
)
def test_period_end_is_local_midnight_after_the_period(today, tz, cadence, end):
    assert period_end_utc(today, tz, cadence) == end
    assert period_end_utc(today, tz, cadence).tzinfo is UTC


@pytest.mark.parametrize(
    "zone",
    ["Europe/Berlin", "America/New_York", "America/Havana", "America/Santiago", "Australia/Lord_Howe", "Asia/Tokyo"],
)
@pytest.mark.parametrize("cadence", CADENCES)
def test_period_end_is_the_first_instant_of_the_next_period_every_day_of_a_year(zone: str, cadence: str):
    tz = ZoneInfo(zone)
    for offset in range(366):
        today = date(2026, 1, 1) + timedelta(days=offset)
        end = period_end_utc(today, tz, cadence)
        assert period_start(member_today(end, tz), cadence) > period_start(today, cadence)
        assert period_start(member_today(end - timedelta(seconds=1), tz), cadence) == period_start(today, cadence)


def test_milestones_are_listed_for_each_cadence():
    assert set(STREAK_MILESTONES) == set(CADENCES)
    assert all(list(steps) == sorted(steps) for steps in STREAK_MILESTONES.values())


# --- The rules ----------------------------------------------------------------------------------------


def test_no_activity_is_an_empty_streak_with_nothing_at_risk():
    state = weekly([])
    assert state == StreakState(0, 0, 0, 0, False, False, False, MONDAY, "weekly")


def test_consecutive_weeks_count_and_several_activities_in_a_week_count_once():
    active = [*weeks_before(MONDAY, 3, 2, 1), MONDAY, MONDAY + timedelta(days=6)]
    active += [d + timedelta(days=1) for d in weeks_before(MONDAY, 2)]
    state = weekly(active, today=MONDAY + timedelta(days=3))
    assert summary(state) == (4, 4, 4, 1)
    assert state.active_now
    assert not state.at_risk


def test_a_month_with_a_rest_week_freezes_the_streak():
    # November 2026: active in the weeks of the 2nd and the 9th, resting the week of the 16th.
    rests = [(date(2026, 11, 16), date(2026, 11, 22))]
    active = [date(2026, 11, 3), date(2026, 11, 12)]
    state = weekly(active, rests, today=date(2026, 11, 25))
    assert summary(state) == (2, 2, 2, 0)
    assert state.at_risk  # this week still needs something
    assert summary(weekly(active, [], today=date(2026, 11, 25))) == (0, 2, 2, 0)  # without the rest
    state = weekly([*active, date(2026, 11, 26)], rests, today=date(2026, 11, 29))
    assert summary(state) == (3, 3, 3, 0)


def test_a_rest_that_touches_a_week_freezes_the_whole_week_and_activity_inside_a_rest_counts():
    rests = [(date(2026, 11, 20), date(2026, 11, 20))]  # only the Friday of the week of the 16th
    assert summary(weekly([date(2026, 11, 10)], rests, today=date(2026, 11, 24))) == (1, 1, 1, 0)
    rests = [(date(2026, 11, 9), date(2026, 11, 22))]
    assert summary(weekly([date(2026, 11, 3), date(2026, 11, 17)], rests, today=date(2026, 11, 24))) == (2, 2, 2, 0)


def test_rests_before_history_and_backwards_ranges_change_nothing():
    active = weeks_before(MONDAY, 2, 1)
    plain = weekly(active)
    assert weekly(active, [(date(2020, 1, 1), date(2020, 6, 1))]) == plain
    assert weekly(active, [(MONDAY, MONDAY - timedelta(days=20))]) == plain


def test_a_missed_week_without_a_freeze_resets_the_streak():
    state = weekly(weeks_before(MONDAY, 5, 4, 3, 1))
    assert summary(state) == (1, 3, 4, 0)


def test_freezes_are_earned_every_fourth_active_week_capped_at_two_and_spent_on_misses():
    assert PERIODS_PER_FREEZE == 4
    assert MAX_FREEZES == 2
    assert weekly(weeks_before(MONDAY, 3, 2, 1)).freezes == 0
    assert summary(weekly(weeks_before(MONDAY, 4, 3, 2, 1))) == (4, 4, 4, 1)
    assert summary(weekly(weeks_before(MONDAY, *range(8, 0, -1)))) == (8, 8, 8, 2)
    assert summary(weekly(weeks_before(MONDAY, *range(12, 0, -1)))) == (12, 12, 12, 2)  # capped
    # Twelve active weeks, then misses: each spends a freeze and keeps (without growing) the streak.
    twelve = weeks_before(MONDAY, *range(14, 2, -1))
    assert summary(weekly(twelve, today=MONDAY - timedelta(weeks=2))) == (12, 12, 12, 2)
    assert summary(weekly(twelve, today=MONDAY - timedelta(weeks=1))) == (12, 12, 12, 1)
    assert summary(weekly(twelve, today=MONDAY)) == (12, 12, 12, 0)
    assert summary(weekly(twelve, today=MONDAY + timedelta(weeks=1))) == (0, 12, 12, 0)
    # Coming back after the freezes covered the gap continues the same streak.
    assert summary(weekly([*twelve, MONDAY])) == (13, 13, 13, 0)


def test_progress_towards_a_freeze_pauses_while_two_are_banked():
    active = weeks_before(MONDAY, *range(15, 4, -1))  # 11 active weeks: 2 banked, progress paused
    active += weeks_before(MONDAY, 3, 2, 1)  # a miss (4 weeks ago) spends one; 3 steps of progress
    assert summary(weekly(active)) == (14, 14, 14, 1)
    assert summary(weekly([*active, MONDAY])) == (15, 15, 15, 2)  # the 4th step earns it back


def test_a_rest_never_costs_a_streak_even_when_it_shifts_when_freezes_are_earned():
    # With "every 4th active period of the run earns one, extras are lost", the rest in week 1 makes
    # this member's bank full one week earlier, so a freeze is lost at the cap, and the two final
    # misses would end the streak (0 in week 17) that survives without the rest (12). Pausing
    # progress while the bank is full avoids it.
    first = date(2026, 1, 5)
    week = [first + timedelta(weeks=n) for n in range(20)]
    active = [week[0], *week[2:13], week[14]]
    rest = [(week[1], week[1])]
    for today in (week[16], week[17]):
        with_rest, without = weekly(active, rest, today=today), weekly(active, today=today)
        assert with_rest.current >= without.current
        assert with_rest.best >= without.best


def test_the_current_week_never_breaks_the_streak():
    past = weeks_before(MONDAY, 3, 2, 1)
    sunday_night = MONDAY + timedelta(days=6)
    state = weekly(past, today=sunday_night)
    assert summary(state) == (3, 3, 3, 0)
    assert (state.active_now, state.at_risk, state.period) == (False, True, MONDAY)
    state = weekly([*past, sunday_night], today=sunday_night)
    assert summary(state) == (4, 4, 4, 1)
    assert (state.active_now, state.at_risk) == (True, False)


def test_resting_now_is_not_at_risk():
    state = weekly(weeks_before(MONDAY, 2, 1), [(MONDAY + timedelta(days=4), MONDAY + timedelta(days=10))])
    assert (state.current, state.resting_now, state.at_risk) == (2, True, False)


def test_activity_dated_after_today_counts_once_its_period_begins():
    # Right after moving west, a check-in made "tomorrow" in the old zone is dated after today.
    tomorrow = MONDAY + timedelta(days=1)
    assert summary(daily([MONDAY - timedelta(days=1), tomorrow])) == (1, 1, 1, 0)
    assert summary(daily([MONDAY - timedelta(days=1), tomorrow], today=tomorrow)) == (1, 1, 2, 0)


def test_daily_cadence():
    week = [MONDAY - timedelta(days=n) for n in range(7, 0, -1)]
    state = daily(week)
    assert summary(state) == (7, 7, 7, 1)
    assert state.at_risk
    assert state.period == MONDAY
    assert daily([*week, MONDAY]).active_now
    # One missed day spends the freeze; a second one resets.
    assert summary(daily(week, today=MONDAY + timedelta(days=1))) == (7, 7, 7, 0)
    assert summary(daily(week, today=MONDAY + timedelta(days=2))) == (0, 7, 7, 0)
    # A rest day in between freezes instead.
    rests = [(MONDAY, MONDAY + timedelta(days=1))]
    state = daily([*week, MONDAY + timedelta(days=2)], rests, today=MONDAY + timedelta(days=2))
    assert summary(state) == (8, 8, 8, 2)


@pytest.mark.parametrize("year", [2020, 2026])
def test_a_streak_runs_across_new_year(year: int):
    # ISO weeks 52 and 53 of `year`, then week 1 of the next: three periods, whatever the calendar says.
    active = [date(year, 12, 22), date(year, 12, 31), date(year + 1, 1, 1), date(year + 1, 1, 3), date(year + 1, 1, 4)]
    state = weekly(active, today=date(year + 1, 1, 5))
    assert summary(state) == (3, 3, 3, 0)
    assert state.period == date(year + 1, 1, 4)
    # Only the 31st and the 1st: one period, still current on the Sunday.
    state = weekly([date(year, 12, 31), date(year + 1, 1, 1)], today=date(year + 1, 1, 3))
    assert (state.current, state.total, state.active_now) == (1, 1, True)


def test_many_years_of_weekly_check_ins_are_one_pass_over_active_weeks():
    # 25 years of weekly activity and one long rest: only active weeks are visited, not days.
    start = date(2001, 1, 1)
    active = [start + timedelta(weeks=n) for n in range(1300)]
    state = weekly(active, [(date(1990, 1, 1), date(2040, 1, 1))], today=active[-1])
    assert summary(state) == (1300, 1300, 1300, 2)


# --- Properties, against a literal per-period reference ---------------------------------------------


def reference(active: list[date], rests: list[tuple[date, date]], cadence: str, today: date) -> StreakState:
    """Apply the rules period by period, as the issue states them."""
    length = timedelta(days=7 if cadence == "weekly" else 1)
    now = period_start(today, cadence)
    periods = {start for start in (period_start(day, cadence) for day in active) if start <= now}

    def resting(start: date) -> bool:
        last_day = start + length - timedelta(days=1)
        return any(first <= last and first <= last_day and last >= start for first, last in rests)

    run = best = freezes = progress = 0

    def count_active() -> None:
        nonlocal run, best, freezes, progress
        run += 1
        best = max(best, run)
        if freezes < MAX_FREEZES:
            progress += 1
            if progress == PERIODS_PER_FREEZE:
                freezes, progress = freezes + 1, 0

    period = min(periods, default=now)
    while period < now:
        if period in periods:
            count_active()
        elif resting(period):
            pass
        elif freezes:
            freezes -= 1
        else:
            run = freezes = progress = 0
        period += length
    active_now = now in periods
    if active_now:
        count_active()
    resting_now = resting(now)
    at_risk = run > 0 and not active_now and not resting_now
    return StreakState(run, best, len(periods), freezes, active_now, resting_now, at_risk, now, cadence)


START = date(2025, 12, 29)  # a Monday
day_offsets = st.integers(min_value=0, max_value=500)
rest_ranges = st.lists(
    st.tuples(day_offsets, st.integers(min_value=-2, max_value=30)).map(
        lambda pair: (START + timedelta(days=pair[0]), START + timedelta(days=pair[0] + pair[1]))
    ),
    max_size=4,
)
scattered_histories = st.fixed_dictionaries(
    {
        "active": st.lists(day_offsets.map(lambda n: START + timedelta(days=n)), max_size=60),
        "rests": rest_ranges,
        "cadence": st.sampled_from(CADENCES),
        "today": day_offsets.map(lambda n: START + timedelta(days=n)),
    }
)


@st.composite
def patterned_histories(draw) -> dict:
    """Draw runs of active periods separated by rests and misses, so that long runs, full banks and
    resets all occur (scattered random days rarely produce them)."""
    cadence = draw(st.sampled_from(CADENCES))
    weekly = cadence == "weekly"
    blocks = draw(st.lists(st.tuples(st.integers(0, 14), st.integers(0, 2), st.integers(0, 3)), max_size=6))
    statuses = [
        status
        for run_length, rest_count, miss_count in blocks
        for status in ["active"] * run_length + draw(st.permutations(["rest"] * rest_count + ["miss"] * miss_count))
    ]
    active, rests = [], []
    for n, status in enumerate(statuses):
        first = START + timedelta(days=7 * n if weekly else n)
        day = first + timedelta(days=draw(st.integers(0, 6)) if weekly else 0)
        if status == "active":
            active.append(day)
        elif status == "rest":
            rests.append((day, day))
    offset = draw(st.integers(0, 6)) if weekly else 0
    today = START + timedelta(days=(7 * len(statuses) if weekly else len(statuses)) + offset)
    return {"active": active, "rests": rests, "cadence": cadence, "today": today}


histories = st.one_of(scattered_histories, patterned_histories())


def run(history: dict) -> StreakState:
    return compute_streak(history["active"], history["rests"], cadence=history["cadence"], today=history["today"])


@settings(max_examples=400)
@given(histories)
def test_matches_the_per_period_reference(history: dict):
    assert run(history) == reference(history["active"], history["rests"], history["cadence"], history["today"])


@given(histories)
def test_current_never_exceeds_best_nor_best_total(history: dict):
    state = run(history)
    assert 0 <= state.current <= state.best <= state.total
    assert 0 <= state.freezes <= MAX_FREEZES
    assert state.period == period_start(history["today"], history["cadence"])
    assert not (state.at_risk and (state.active_now or state.resting_now))


@given(histories, st.integers(min_value=0, max_value=500))
def test_adding_activity_never_lowers_a_streak(history: dict, days_back: int):
    extra = history["today"] - timedelta(days=days_back)
    before, after = run(history), run({**history, "active": [*history["active"], extra]})
    assert after.total >= before.total
    assert after.best >= before.best
    assert after.current >= before.current


@given(histories)
def test_resting_never_lowers_a_streak(history: dict):
    with_rests, without = run(history), run({**history, "rests": []})
    assert with_rests.current >= without.current
    assert with_rests.best >= without.best
    assert with_rests.total == without.total


@given(st.sampled_from(CADENCES), st.integers(min_value=0, max_value=300), day_offsets)
def test_activity_in_every_period_counts_every_period(cadence: str, periods: int, offset: int):
    today = START + timedelta(days=offset)
    step = timedelta(days=7 if cadence == "weekly" else 1)
    # Today, and one date in each of the `periods` periods before (on varying weekdays when weekly).
    active = [today]
    for n in range(1, periods + 1):
        first = period_start(today - step * n, cadence)
        active.append(first + timedelta(days=n % 7) if cadence == "weekly" else first)
    state = compute_streak(active, [], cadence=cadence, today=today)
    assert state.current == state.best == state.total == periods + 1
    assert state.freezes == min(MAX_FREEZES, (periods + 1) // PERIODS_PER_FREEZE)


# --- Loading from the database ------------------------------------------------------------------------


async def setup_guild(sessionmaker, *, cadence: str | None = None, zones: dict[int, str] | None = None) -> None:
    async with transaction(sessionmaker) as session:
        session.add(Guild(id=GUILD) if cadence is None else Guild(id=GUILD, cadence=cadence))
        await session.flush()
        for user_id, zone in (zones or {}).items():
            session.add(Member(guild_id=GUILD, user_id=user_id, timezone=zone))


async def set_zone(sessionmaker, user_id: int, zone: str) -> None:
    async with transaction(sessionmaker) as session:
        member = await session.get(Member, (GUILD, user_id))
        member.timezone = zone


counter = itertools.count()


async def add_activity(sessionmaker, user_id: int, *days: date, kind: str = "checkin") -> None:
    async with transaction(sessionmaker) as session:
        for day in days:
            session.add(Activity(guild_id=GUILD, user_id=user_id, kind=kind, ref=str(next(counter)), local_date=day))


async def add_rest(sessionmaker, user_id: int, start: date, end: date) -> None:
    async with transaction(sessionmaker) as session:
        session.add(RestPeriod(guild_id=GUILD, user_id=user_id, start=start, end=end))


async def check_in_now(sessionmaker, user_id: int, tz: ZoneInfo) -> date:
    """Record a check-in as the check-in service does: dated in the member's zone, at the clock's now."""
    today = member_today(datetime.now(UTC), tz)
    await add_activity(sessionmaker, user_id, today)
    return today


async def streak_now(sessionmaker, user_id: int) -> StreakState:
    async with transaction(sessionmaker) as session:
        return await member_streak(session, GUILD, user_id, now=datetime.now(UTC))


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def new_york(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


async def test_a_month_across_berlins_spring_change(sessionmaker):
    await setup_guild(sessionmaker, zones={ALICE: "Europe/Berlin"})
    # Weekly check-ins late on Sunday evenings of March 2026; clocks go forward on the 29th.
    for sunday in (1, 8, 15, 22):
        with time_machine.travel(berlin(2026, 3, sunday, 23, 30), tick=False):
            assert await check_in_now(sessionmaker, ALICE, BERLIN) == date(2026, 3, sunday)
    with time_machine.travel(berlin(2026, 3, 29, 23, 30), tick=False):  # 21:30 UTC, CEST
        state = await streak_now(sessionmaker, ALICE)
        assert (state.current, state.at_risk, state.period) == (4, True, date(2026, 3, 23))
        assert period_end_utc(state.period, BERLIN, "weekly") == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
        await check_in_now(sessionmaker, ALICE, BERLIN)
        state = await streak_now(sessionmaker, ALICE)
        assert (state.current, state.active_now, state.freezes) == (5, True, 1)
    with time_machine.travel(datetime(2026, 3, 29, 22, 0, tzinfo=UTC), tick=False):  # Monday 00:00 CEST
        state = await streak_now(sessionmaker, ALICE)
        assert (state.current, state.at_risk, state.period) == (5, True, date(2026, 3, 30))
    with time_machine.travel(berlin(2026, 4, 6, 0, 30), tick=False):  # a week missed: the freeze covers it
        state = await streak_now(sessionmaker, ALICE)
        assert (state.current, state.freezes, state.at_risk) == (5, 0, True)


async def test_a_late_sunday_check_in_in_new_york_counts_for_that_week_across_the_dst_change(sessionmaker):
    await setup_guild(sessionmaker, zones={ALICE: "America/New_York", BOB: "UTC"})
    await add_activity(sessionmaker, ALICE, date(2026, 2, 25))
    await add_activity(sessionmaker, BOB, date(2026, 2, 25))
    # Sunday 2026-03-08, the day clocks go forward, 23:59 EDT: already Monday 03:59 in UTC.
    with time_machine.travel(new_york(2026, 3, 8, 23, 59), tick=False):
        assert datetime.now(UTC).date() == date(2026, 3, 9)
        assert await check_in_now(sessionmaker, ALICE, NEW_YORK) == date(2026, 3, 8)
        assert await check_in_now(sessionmaker, BOB, UTC_ZONE) == date(2026, 3, 9)
        alice, bob = await streak_now(sessionmaker, ALICE), await streak_now(sessionmaker, BOB)
        assert (alice.current, alice.period, alice.active_now) == (2, date(2026, 3, 2), True)
        assert (bob.current, bob.period, bob.active_now) == (1, date(2026, 3, 9), True)  # missed a week
    with time_machine.travel(new_york(2026, 3, 9, 0, 0), tick=False):
        alice = await streak_now(sessionmaker, ALICE)
        assert (alice.current, alice.period, alice.at_risk) == (2, date(2026, 3, 9), True)


async def test_new_yorks_autumn_change_with_a_daily_cadence(sessionmaker):
    await setup_guild(sessionmaker, cadence="daily", zones={ALICE: "America/New_York"})
    # Every evening at 23:30 from 2026-10-29 to 2026-11-03; clocks go back on Sunday 2026-11-01.
    for day in range(29, 35):
        moment = new_york(2026, 10, 29, 23, 30) + timedelta(days=day - 29)  # wall-clock arithmetic
        with time_machine.travel(moment, tick=False):
            assert await check_in_now(sessionmaker, ALICE, NEW_YORK) == moment.date()
            state = await streak_now(sessionmaker, ALICE)
            assert (state.current, state.active_now, state.period) == (day - 28, True, moment.date())
    with time_machine.travel(new_york(2026, 11, 4, 23, 59), tick=False):
        state = await streak_now(sessionmaker, ALICE)
        assert (state.current, state.freezes, state.at_risk) == (6, 1, True)
        assert period_end_utc(state.period, NEW_YORK, "daily") == datetime(2026, 11, 5, 5, 0, tzinfo=UTC)


async def test_a_change_of_zone_keeps_past_dates_and_reads_today_in_the_new_zone(sessionmaker):
    await setup_guild(sessionmaker, cadence="daily", zones={ALICE: "Asia/Tokyo"})
    for day in (25, 26, 27, 28):
        with time_machine.travel(datetime(2026, 11, day, 20, 0, tzinfo=TOKYO), tick=False):
            await check_in_now(sessionmaker, ALICE, TOKYO)
    # Sunday 2026-11-29 10:00 in Tokyo is Saturday 17:00 in Los Angeles (01:00 UTC).
    moment = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        tokyo = await streak_now(sessionmaker, ALICE)
        assert (tokyo.current, tokyo.period, tokyo.at_risk) == (4, date(2026, 11, 29), True)
        await set_zone(sessionmaker, ALICE, "America/Los_Angeles")
        la = await streak_now(sessionmaker, ALICE)
        # The 28th (dated in Tokyo) is today in LA: it still counts, for the 28th.
        assert (la.current, la.period, la.active_now) == (4, date(2026, 11, 28), True)
    with time_machine.travel(datetime(2026, 11, 30, 7, 59, tzinfo=LOS_ANGELES), tick=False):
        assert await check_in_now(sessionmaker, ALICE, LOS_ANGELES) == date(2026, 11, 30)
        state = await streak_now(sessionmaker, ALICE)  # the 29th missed in LA: the freeze covered it
        assert (state.current, state.freezes, state.total) == (5, 0, 5)


async def test_member_and_guild_streaks_agree_with_the_pure_rules(sessionmaker):
    await setup_guild(sessionmaker, zones={ALICE: "Asia/Tokyo", BOB: "America/Los_Angeles"})
    alice_days = [date(2026, 11, 2), date(2026, 11, 10), date(2026, 11, 10), date(2026, 11, 24)]
    await add_activity(sessionmaker, ALICE, *alice_days[:2])
    await add_activity(sessionmaker, ALICE, *alice_days[2:], kind="pr")
    await add_rest(sessionmaker, ALICE, date(2026, 11, 16), date(2026, 11, 18))
    bob_days = [date(2026, 10, 1) + timedelta(days=3 * n) for n in range(18)]
    await add_activity(sessionmaker, BOB, *bob_days)
    await add_activity(sessionmaker, CAROL, date(2026, 11, 16))  # no member row: UTC
    now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # Tuesday in Tokyo, Monday in LA and UTC

    async with transaction(sessionmaker) as session:
        alice = await member_streak(session, GUILD, ALICE, now=now)
        bob = await member_streak(session, GUILD, BOB, now=now)
        carol = await member_streak(session, GUILD, CAROL, now=now)
        everyone = await guild_streaks(session, GUILD, now=now)
        some = await guild_streaks(session, GUILD, now=now, user_ids=[ALICE, 999])
        many = await guild_streaks(session, GUILD, now=now, user_ids=[BOB, *range(5000, 6000)])

    assert alice == compute_streak(alice_days, [(date(2026, 11, 16), date(2026, 11, 18))], cadence="weekly",
                                   today=date(2026, 11, 24))  # fmt: skip
    assert (alice.current, alice.active_now) == (3, True)
    assert bob == compute_streak(bob_days, [], cadence="weekly", today=date(2026, 11, 23))
    assert carol == compute_streak([date(2026, 11, 16)], [], cadence="weekly", today=date(2026, 11, 23))
    assert everyone == {ALICE: alice, BOB: bob, CAROL: carol}
    assert some == {ALICE: alice, 999: compute_streak([], [], cadence="weekly", today=date(2026, 11, 23))}
    assert set(many) == {BOB, *range(5000, 6000)}
    assert many[BOB] == bob


async def test_defaults_without_guild_or_member_rows(sessionmaker):
    async with transaction(sessionmaker) as session:
        state = await member_streak(session, 4242, ALICE, now=NOW)
        assert await guild_streaks(session, 4242, now=NOW) == {}
    assert state == StreakState(0, 0, 0, 0, False, False, False, date(2026, 11, 23), "weekly")


async def test_guild_cadence_applies_to_every_member(sessionmaker):
    await setup_guild(sessionmaker, cadence="daily")
    await add_activity(sessionmaker, ALICE, date(2026, 11, 21), date(2026, 11, 22))
    async with transaction(sessionmaker) as session:
        state = await member_streak(session, GUILD, ALICE, now=NOW)
        assert await guild_streaks(session, GUILD, now=NOW) == {ALICE: state}
    assert (state.cadence, state.current, state.period, state.at_risk) == ("daily", 2, date(2026, 11, 23), True)


async def test_activity_days_counts_each_local_date_in_range(sessionmaker):
    await setup_guild(sessionmaker)
    await add_activity(sessionmaker, ALICE, date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 2))
    await add_activity(sessionmaker, ALICE, date(2026, 11, 2), date(2026, 11, 30), kind="goal")
    await add_activity(sessionmaker, BOB, date(2026, 11, 2))
    async with transaction(sessionmaker) as session:
        days = await activity_days(session, GUILD, ALICE, start=date(2026, 11, 2), end=date(2026, 11, 30))
    assert days == {date(2026, 11, 2): 3, date(2026, 11, 30): 1}


# --- The stored streak ----------------------------------------------------------------------------------


def from_snapshot(history: dict, today: date) -> StreakState | None:
    snap = snapshot_streak(history["active"], history["rests"], cadence=history["cadence"])
    return state_from_snapshot(snap, history["rests"], today=today)


@settings(max_examples=600)
@given(histories, st.integers(min_value=-10, max_value=120))
def test_the_stored_streak_settled_at_read_time_matches_the_recomputed_one(history: dict, later: int):
    # `today` as drawn, and also days after the last activity: gaps shorter and longer than the freezes.
    last = max(history["active"], default=history["today"])
    for today in (history["today"], last + timedelta(days=later)):
        expected = compute_streak(history["active"], history["rests"], cadence=history["cadence"], today=today)
        stored = from_snapshot(history, today)
        if stored is None:  # only when activity is dated after today's period
            assert period_start(last, history["cadence"]) > period_start(today, history["cadence"])
        else:
            assert stored == expected


def test_a_stored_weekly_streak_survives_a_missed_week_on_a_freeze_and_rests_then_breaks():
    active = weeks_before(MONDAY, *range(1, 9))  # 8 weeks in a row, ending last week: 2 freezes banked
    snap = snapshot_streak(active, [], cadence="weekly")
    assert (snap.current, snap.freezes, snap.period) == (8, 2, MONDAY - timedelta(weeks=1))
    two_later = MONDAY + timedelta(weeks=2)  # two weeks missed: both freezes spent
    assert state_from_snapshot(snap, [], today=two_later) == weekly(active, today=two_later)
    assert state_from_snapshot(snap, [], today=two_later).current == 8
    three_later = MONDAY + timedelta(weeks=3)
    assert state_from_snapshot(snap, [], today=three_later).current == 0
    rest = [(MONDAY, MONDAY + timedelta(days=6))]
    assert state_from_snapshot(snap, rest, today=three_later) == weekly(active, rest, today=three_later)
    assert state_from_snapshot(snap, rest, today=three_later).current == 8


async def seed_random_guild(sessionmaker, rng, *, members: int, cadence: str) -> None:
    zones = ["UTC", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati", "Pacific/Pago_Pago"]
    await setup_guild(sessionmaker, cadence=cadence, zones={u: rng.choice(zones) for u in range(1, members, 2)})
    for user_id in range(1, members + 1):
        days = [MONDAY - timedelta(days=rng.randrange(120)) for _ in range(rng.randrange(12))]
        if rng.random() < 0.3:  # a run of recent periods, so that freezes are banked and spent
            step = 7 if cadence == "weekly" else 1
            days += [MONDAY - timedelta(days=step * n) for n in range(rng.randrange(2, 14))]
        if days:
            await add_activity(sessionmaker, user_id, *days)
        if rng.random() < 0.3:
            start = MONDAY - timedelta(days=rng.randrange(40))
            await add_rest(sessionmaker, user_id, start, start + timedelta(days=rng.randrange(28)))


@pytest.mark.parametrize("cadence", CADENCES)
async def test_stored_currents_match_guild_streaks_at_later_times(sessionmaker, cadence: str):
    import random

    await seed_random_guild(sessionmaker, random.Random(cadence), members=120, cadence=cadence)
    async with transaction(sessionmaker) as session:
        await refresh_streaks(session, GUILD, now=NOW)
    for hours in (0, 11, 30, 24 * 6, 24 * 9, 24 * 16, 24 * 30, 24 * 60):
        now = NOW + timedelta(hours=hours)
        async with transaction(sessionmaker) as session:
            stored, stale = await stored_currents(session, GUILD, now=now)
            states = await guild_streaks(session, GUILD, now=now)
        recomputed = {uid: s.current for uid, s in states.items() if s.current > 0}
        assert stale == []
        assert stored == recomputed


async def test_recording_activity_and_resting_keep_the_stored_streak(sessionmaker):
    from bot.db.models import MemberStreak
    from bot.services.rhythm import activity, checkins

    await setup_guild(sessionmaker, zones={ALICE: "Asia/Tokyo"})
    for week in range(5):
        async with transaction(sessionmaker) as session:
            now = NOW - timedelta(weeks=4 - week)
            await activity.record(session, guild_id=GUILD, user_id=ALICE, kind="checkin", ref=str(week), now=now)
    async with transaction(sessionmaker) as session:
        row = await session.get(MemberStreak, (GUILD, ALICE))
        assert (row.current, row.best, row.total, row.freezes, row.cadence) == (5, 5, 5, 1, "weekly")
    await checkins.start_rest(sessionmaker, guild_id=GUILD, user_id=ALICE, weeks=4, now=NOW + timedelta(weeks=1))
    board = await checkins.leaderboard(
        sessionmaker, guild_id=GUILD, board="streaks", user_id=ALICE, now=NOW + timedelta(weeks=4)
    )
    assert board.top == [(ALICE, 5)]  # three weeks missed, but rested: frozen, not broken


async def test_a_change_of_cadence_makes_stored_streaks_stale_and_the_leaderboard_recomputes_them(sessionmaker):
    import random

    from bot.services.rhythm import checkins

    await seed_random_guild(sessionmaker, random.Random(3), members=60, cadence="weekly")
    async with transaction(sessionmaker) as session:
        await refresh_streaks(session, GUILD, now=NOW)
        guild = await session.get(Guild, GUILD)
        guild.cadence = "daily"  # as /settings cadence does
    async with transaction(sessionmaker) as session:
        _, stale = await stored_currents(session, GUILD, now=NOW)
        expected = await guild_streaks(session, GUILD, now=NOW)
    assert stale
    board = await checkins.leaderboard(sessionmaker, guild_id=GUILD, board="streaks", user_id=ALICE, now=NOW, size=100)
    assert board.top == sorted(((u, s.current) for u, s in expected.items() if s.current), key=lambda x: (-x[1], x[0]))
    async with transaction(sessionmaker) as session:
        assert (await stored_currents(session, GUILD, now=NOW))[1] == []  # written back


async def test_forget_removes_the_stored_streak(sessionmaker):
    from bot.db.models import MemberStreak
    from bot.services import privacy
    from bot.services.rhythm import activity

    await setup_guild(sessionmaker, zones={ALICE: "UTC"})
    async with transaction(sessionmaker) as session:
        await activity.record(session, guild_id=GUILD, user_id=ALICE, kind="checkin", ref="1", now=NOW)
    await privacy.forget(sessionmaker, guild_id=GUILD, user_id=ALICE, now=NOW)
    async with transaction(sessionmaker) as session:
        assert await session.get(MemberStreak, (GUILD, ALICE)) is None


@pytest.mark.parametrize("cadence", CADENCES)
async def test_stored_states_are_what_guild_streaks_computes(sessionmaker, cadence: str):
    # The weekly ping and digest read the stored streaks: at any later time they must give every
    # member with activity the same state as walking their activity, at-risk flags included.
    import random

    await seed_random_guild(sessionmaker, random.Random(f"states-{cadence}"), members=120, cadence=cadence)
    async with transaction(sessionmaker) as session:
        await refresh_streaks(session, GUILD, now=NOW)
    for hours in (0, 11, 30, 24 * 6, 24 * 9, 24 * 16, 24 * 30, 24 * 60):
        now = NOW + timedelta(hours=hours)
        async with transaction(sessionmaker) as session:
            stored = await stored_states(session, GUILD, now=now, yield_every=7)
            walked = await guild_streaks(session, GUILD, now=now)
        assert stored
        assert stored == {uid: walked[uid] for uid in stored}
        assert not any(state.current or state.at_risk for uid, state in walked.items() if uid not in stored)


async def test_stored_states_recompute_a_stale_row(sessionmaker):
    import random

    await seed_random_guild(sessionmaker, random.Random(5), members=40, cadence="weekly")
    async with transaction(sessionmaker) as session:
        await refresh_streaks(session, GUILD, now=NOW)
        guild = await session.get(Guild, GUILD)
        guild.cadence = "daily"  # every stored row is now of another cadence
    async with transaction(sessionmaker) as session:
        stored = await stored_states(session, GUILD, now=NOW)
        walked = await guild_streaks(session, GUILD, now=NOW)
    assert stored and all(state.cadence == "daily" for state in stored.values())
    assert stored == {uid: walked[uid] for uid in stored}
