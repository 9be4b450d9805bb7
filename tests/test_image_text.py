"""Text on pictures (`bot.images.text`): the one helper the streak graph and the page's card cut names with."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from bot.images.text import drawable, fit

FONT = ImageFont.load_default(size=20)
DRAW = ImageDraw.Draw(Image.new("RGB", (10, 10)))


def width(text: str) -> float:
    return DRAW.textlength(text, font=FONT)


def test_text_that_fits_is_only_made_one_line() -> None:
    assert fit(DRAW, "  alice\n the\tbuilder ", FONT, 1000) == "alice the builder"


def test_text_too_wide_is_cut_with_an_ellipsis_to_the_widest_that_fits() -> None:
    name = "Alexandria Ocasio-Builder of Very Long Names"
    room = width(name) / 2
    shown = fit(DRAW, name, FONT, room)
    assert shown.endswith("…") and name.startswith(shown[:-1].rstrip())
    assert width(shown) <= room
    # One more letter would not have fitted.
    assert width(name[: len(shown[:-1]) + 1] + "…") > room


def test_a_cut_never_leaves_a_space_before_the_ellipsis_and_no_room_gives_nothing() -> None:
    shown = fit(DRAW, "ab cd", FONT, width("ab …"))
    assert shown == "ab…"
    assert fit(DRAW, "alice", FONT, width("…") - 1) == ""


def test_drawable_text_loses_its_bidirectional_controls_but_not_its_letters() -> None:
    assert drawable("\u202eevil\u202c name") == "evil name"
    assert drawable("שלום") == "שלום"
