"""The streak picture: a PNG of the right size with the right colours in the right cells."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from PIL import Image

from bot.images.streak import (
    LEVEL_COLOURS,
    REST_COLOUR,
    cell_box,
    image_size,
    level_for,
    render_streak_png,
)

TODAY = date(2026, 11, 25)  # a Wednesday
MONDAY = date(2026, 11, 23)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def open_png(data: bytes) -> Image.Image:
    assert data.startswith(PNG_SIGNATURE)
    return Image.open(io.BytesIO(data)).convert("RGBA")


def centre(image: Image.Image, week: int, weekday: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = cell_box(week, weekday)
    return image.getpixel(((left + right) // 2, (top + bottom) // 2))


def opaque(colour: tuple[int, int, int]) -> tuple[int, int, int, int]:
    return (*colour, 255)


def test_png_has_the_expected_size():
    image = open_png(render_streak_png({}, today=TODAY))
    assert image.size == image_size(26)
    width, height = image.size
    assert 500 <= width <= 700
    assert 140 <= height <= 240
    assert open_png(render_streak_png({}, today=TODAY, weeks=52)).size == image_size(52)


def test_cells_are_coloured_by_count_rest_and_future():
    days = {MONDAY: 1, MONDAY + timedelta(days=1): 2, TODAY: 7, MONDAY - timedelta(days=7): 3}
    days[date(2026, 6, 1)] = 5  # the oldest column's Monday
    days[date(2026, 1, 1)] = 9  # outside the picture: ignored
    rests = [(date(2026, 11, 9), date(2026, 11, 11)), (date(2026, 11, 26), date(2026, 12, 6))]
    image = open_png(render_streak_png(days, today=TODAY, rests=rests, name="alice"))
    current, previous = 25, 24
    assert centre(image, current, 0) == opaque(LEVEL_COLOURS[1])
    assert centre(image, current, 1) == opaque(LEVEL_COLOURS[2])
    assert centre(image, current, 2) == opaque(LEVEL_COLOURS[4])
    assert centre(image, previous, 0) == opaque(LEVEL_COLOURS[3])
    assert centre(image, previous, 1) == opaque(LEVEL_COLOURS[0])
    assert centre(image, 0, 0) == opaque(LEVEL_COLOURS[4])
    for weekday in range(3):
        assert centre(image, previous - 1, weekday) == opaque(REST_COLOUR)
    assert centre(image, previous - 1, 3) == opaque(LEVEL_COLOURS[0])
    # Later this week is blank (the card's white), even when a rest is planned.
    for weekday in range(3, 7):
        assert centre(image, current, weekday) == (255, 255, 255, 255)


def test_activity_on_a_rest_day_shows_as_activity():
    image = open_png(render_streak_png({MONDAY: 1}, today=TODAY, rests=[(MONDAY, TODAY)]))
    assert centre(image, 25, 0) == opaque(LEVEL_COLOURS[1])
    assert centre(image, 25, 1) == opaque(REST_COLOUR)


def test_greens_are_green_and_rest_is_blue():
    for colour in LEVEL_COLOURS[1:]:
        red, green, blue = colour
        assert green > red and green > blue
    red, green, blue = REST_COLOUR
    assert blue > red and blue > green
    assert len({*LEVEL_COLOURS, REST_COLOUR}) == 6


@pytest.mark.parametrize(("count", "level"), [(0, 0), (-1, 0), (1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (99, 4)])
def test_levels_by_count(count: int, level: int):
    assert level_for(count) == level


def test_corners_are_transparent_and_text_is_drawn():
    image = open_png(render_streak_png({}, today=TODAY, name="a title"))
    assert image.getpixel((0, 0))[3] == 0
    width, _ = image.size
    title_strip = image.crop((10, 10, width // 2, cell_box(0, 0)[1] - 20))  # inside the card, above the months
    darkest, _ = title_strip.convert("L").getextrema()
    assert darkest < 100
    blank = open_png(render_streak_png({}, today=TODAY)).crop((10, 10, width // 2, cell_box(0, 0)[1] - 20))
    assert blank.convert("L").getextrema() == (255, 255)


def test_a_long_title_is_cut_and_odd_inputs_do_not_fail():
    png = render_streak_png({TODAY: 1}, today=TODAY, name="x" * 500 + " 🔥\n@everyone", weeks=1)
    assert open_png(png).size == image_size(1)
    with pytest.raises(ValueError, match="weeks"):
        render_streak_png({}, today=TODAY, weeks=0)
