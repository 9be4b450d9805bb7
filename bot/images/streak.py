"""Draw a member's recent activity as a PNG, like GitHub's contribution graph (Pillow, no Discord).

Columns are weeks (oldest left, the current week rightmost), rows are Monday to Sunday. A white
rounded card with dark text, so it reads the same in Discord's light and dark themes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from bot.images.text import Font, drawable, fit

__all__ = [
    "LEVEL_COLOURS",
    "REST_COLOUR",
    "cell_box",
    "image_size",
    "level_for",
    "render_streak_png",
]

Colour = tuple[int, int, int]

# GitHub's light palette: no activity, then four greens from light to dark.
LEVEL_COLOURS: tuple[Colour, ...] = ((235, 237, 240), (155, 233, 168), (64, 196, 99), (48, 161, 78), (33, 110, 57))
REST_COLOUR: Colour = (168, 204, 246)
_CARD: Colour = (255, 255, 255)
_CARD_EDGE: Colour = (208, 215, 222)
_TEXT: Colour = (31, 35, 40)
_MUTED: Colour = (101, 109, 118)
_TODAY_EDGE: Colour = (87, 96, 106)

# Smallest count for each level above 0: 1 -> light green, 2, 3-4, 5 or more -> darkest.
_LEVEL_FLOORS = (1, 2, 3, 5)

_CELL = 16
_GAP = 4
_PITCH = _CELL + _GAP
_RADIUS = 3
_PAD = 14
_LABEL_WIDTH = 30  # weekday labels left of the grid
_HEADER_HEIGHT = 20  # title on the left, legend on the right
_MONTH_HEIGHT = 16
_GRID_TOP = _PAD + _HEADER_HEIGHT + _MONTH_HEIGHT
_GRID_LEFT = _PAD + _LABEL_WIDTH
_SWATCH = 11
_MIN_WIDTH = 360  # room for the legend and a short title even with few weeks

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAY_LABELS = {0: "Mon", 2: "Wed", 4: "Fri"}
_MIN_MONTH_LABEL_GAP = 3  # columns between two month labels, so that they never overlap


def level_for(count: int) -> int:
    """Return the shade (0..4) for a day's number of activities."""
    level = 0
    for floor in _LEVEL_FLOORS:
        if count >= floor:
            level += 1
    return level


def image_size(weeks: int = 26) -> tuple[int, int]:
    """Return the (width, height) of a picture of `weeks` columns."""
    grid_width = weeks * _PITCH - _GAP
    grid_height = 7 * _PITCH - _GAP
    return max(_MIN_WIDTH, _GRID_LEFT + grid_width + _PAD), _GRID_TOP + grid_height + _PAD


def cell_box(week_index: int, weekday: int) -> tuple[int, int, int, int]:
    """Return the (left, top, right, bottom) pixels, inclusive, of a cell; week 0 is the oldest column."""
    left = _GRID_LEFT + week_index * _PITCH
    top = _GRID_TOP + weekday * _PITCH
    return left, top, left + _CELL - 1, top + _CELL - 1


@cache
def _font(size: int) -> Font:
    # Pillow's bundled font; without FreeType this falls back to the fixed-size bitmap font.
    return ImageFont.load_default(size=size)


def _rest_days(rests: Iterable[tuple[date, date]], first: date, last: date) -> set[date]:
    days: set[date] = set()
    for start, end in rests:
        day, stop = max(start, first), min(end, last)
        while day <= stop:
            days.add(day)
            day += timedelta(days=1)
    return days


def _draw_legend(draw: ImageDraw.ImageDraw, right: int, middle: int) -> int:
    """Draw "Less ▢▢▢▢▢ More  ▢ rest" ending at `right`; return where it starts."""
    font = _font(11)
    items: list[tuple[str, Colour | str]] = [
        ("text", "Less"),
        *(("swatch", colour) for colour in LEVEL_COLOURS),
        ("text", "More"),
        ("space", ""),
        ("swatch", REST_COLOUR),
        ("text", "rest"),
    ]
    widths = []
    for kind, value in items:
        if kind == "text":
            widths.append(round(draw.textlength(str(value), font=font)) + 4)
        else:
            widths.append(_SWATCH + 3 if kind == "swatch" else 8)
    x = start = right - sum(widths)
    for (kind, value), width in zip(items, widths, strict=True):
        if kind == "text":
            draw.text((x + 2, middle), str(value), font=font, fill=_MUTED, anchor="lm")
        elif kind == "swatch":
            top = middle - _SWATCH // 2
            draw.rounded_rectangle((x, top, x + _SWATCH - 1, top + _SWATCH - 1), radius=2, fill=value)
        x += width
    return start


def render_streak_png(
    days: Mapping[date, int],
    *,
    today: date,
    rests: Iterable[tuple[date, date]] = (),
    name: str = "",
    weeks: int = 26,
) -> bytes:
    """Draw `days` (activities per local date) for the `weeks` weeks up to `today`'s; return PNG bytes.

    The header reads "<name> · last <weeks> weeks", the member's name cut to fit and isolated.
    """
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    width, height = image_size(weeks)
    first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))  # Monday of the oldest column
    last = first + timedelta(days=7 * weeks - 1)
    resting = _rest_days(rests, first, min(last, today))

    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=10, fill=_CARD, outline=_CARD_EDGE)

    header_middle = _PAD + _HEADER_HEIGHT // 2 - 2
    legend_left = _draw_legend(draw, width - _PAD, header_middle)
    if name:
        font = _font(13)
        label = f" · last {weeks} weeks"
        room = legend_left - _PAD - 12 - round(draw.textlength(label, font=font))
        shown = fit(draw, drawable(name), font, room) + label
        draw.text((_PAD, header_middle), shown, font=font, fill=_TEXT, anchor="lm")

    label_font = _font(11)
    for weekday, label in _WEEKDAY_LABELS.items():
        top = cell_box(0, weekday)[1]
        draw.text((_PAD, top + _CELL // 2), label, font=label_font, fill=_MUTED, anchor="lm")

    month_baseline = _GRID_TOP - 5
    last_label = -_MIN_MONTH_LABEL_GAP
    for week in range(weeks):
        monday = first + timedelta(days=7 * week)
        # Label the first column of each month; the oldest column only if its month has room.
        if week == 0:
            next_month = (monday.replace(day=28) + timedelta(days=4)).replace(day=1)
            if (next_month - monday).days < 7 * _MIN_MONTH_LABEL_GAP:
                continue
        elif (monday - timedelta(days=7)).month == monday.month or week - last_label < _MIN_MONTH_LABEL_GAP:
            continue
        draw.text((cell_box(week, 0)[0], month_baseline), _MONTHS[monday.month - 1], font=label_font,
                  fill=_MUTED, anchor="ls")  # fmt: skip
        last_label = week

    day = first
    for week in range(weeks):
        for weekday in range(7):
            if day > today:
                break
            count = days.get(day, 0)
            if count > 0:
                colour = LEVEL_COLOURS[level_for(count)]
            elif day in resting:
                colour = REST_COLOUR
            else:
                colour = LEVEL_COLOURS[0]
            outline = _TODAY_EDGE if day == today else None
            draw.rounded_rectangle(cell_box(week, weekday), radius=_RADIUS, fill=colour, outline=outline)
            day += timedelta(days=1)

    out = io.BytesIO()
    # RGBA keeps colours exact and the corners transparent; it is ~9 KB and ~3 ms to write. A palette
    # (quantised) PNG would be ~4 KB but shifts colours slightly and saves no time.
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
