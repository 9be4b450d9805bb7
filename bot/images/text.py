"""Text on pictures: member-written text made safe to draw, and cut to one line of a given width."""

from __future__ import annotations

from PIL import ImageDraw, ImageFont

from bot.services import bidi

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

ELLIPSIS = "…"


def drawable(text: str) -> str:
    """Return member-written text ready to draw beside other text: without bidirectional controls.

    Pillow with Raqm lays text out by the Unicode bidirectional algorithm: a U+202E in a name
    turned " · last 26 weeks" after it around. A picture cannot isolate the name reliably once it
    is cut to fit (the closing control is cut first), so the controls go; without Raqm they would
    be drawn as boxes anyway. The letters of a right-to-left name keep their direction.
    """
    return bidi.strip(text)


def fit(draw: ImageDraw.ImageDraw, text: str, font: Font, width: float) -> str:
    """Return `text` on one line (its runs of spaces and newlines made one space), cut with "…" to fit `width` pixels.

    Nothing at all ("", not a lone "…") when not even the ellipsis fits.
    """
    text = " ".join(text.split())
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + ELLIPSIS, font=font) > width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS if text else ""
