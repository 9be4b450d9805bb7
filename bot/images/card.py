"""The 1200x630 pictures link previews show (OpenGraph and Twitter cards): a member's public page's
and a server's community page's.

Drawn from the page's numbers and its streak graph (or the community's monthly merges); the routes
in `bot.web.pages` and `bot.web.community` cache them.
"""

from __future__ import annotations

import io
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from bot.images.text import Font, drawable, fit
from bot.services.sharing import community, pages

CARD_SIZE = (1200, 630)


@cache
def _card_font(size: int, bold: bool = False) -> Font:
    # DejaVu where the system has it (Debian images do); else Pillow's bundled font, which has no bold.
    path = f"/usr/share/fonts/truetype/dejavu/DejaVuSans{'-Bold' if bold else ''}.ttf"
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return ImageFont.load_default(size=size)


PAD = 64
TILES_TOP = 256


def _backdrop(kicker: str, title: str, subtitle: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """Start a card: the dark-to-green wash, a kicker, a big title and a line under it."""
    width, height = CARD_SIZE
    image = Image.new("RGB", CARD_SIZE, (13, 17, 23))
    draw = ImageDraw.Draw(image)
    # A diagonal wash from the dark background to a deep green, drawn as bands (cheap, no numpy).
    for x in range(0, width, 4):
        t = x / width
        colour = (round(13 + (27 - 13) * t), round(17 + (58 - 17) * t), round(23 + (42 - 23) * t))
        draw.rectangle((x, 0, x + 3, height), fill=colour)
    draw.text((PAD, 52), kicker, font=_card_font(24, bold=True), fill=(126, 226, 168))
    name_font = _card_font(72, bold=True)
    draw.text((PAD, 88), fit(draw, drawable(title), name_font, width - 2 * PAD), font=name_font, fill="white")
    server_font = _card_font(32)
    draw.text((PAD, 182), fit(draw, subtitle, server_font, width - 2 * PAD), font=server_font, fill=(201, 209, 217))
    return image, draw


def _tiles(draw: ImageDraw.ImageDraw, stats: tuple[tuple[int, str], ...]) -> None:
    """Draw a row of numbered tiles under the title."""
    gap = 20
    count = len(stats)
    tile = (CARD_SIZE[0] - 2 * PAD - (count - 1) * gap) // count
    number_font, label_font = _card_font(60, bold=True), _card_font(26)
    for index, (value, label) in enumerate(stats):
        left = PAD + index * (tile + gap)
        draw.rounded_rectangle((left, TILES_TOP, left + tile, TILES_TOP + 128), radius=16, fill=(33, 45, 40))
        draw.text((left + 22, TILES_TOP + 16), fit(draw, f"{value:,}", number_font, tile - 44), font=number_font,
                  fill="white")  # fmt: skip
        draw.text((left + 22, TILES_TOP + 88), fit(draw, label, label_font, tile - 44), font=label_font,
                  fill=(168, 218, 186))  # fmt: skip


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def render_card(page: pages.PublicPage, streak_png: bytes, *, host: str) -> bytes:
    """Draw the 1200x630 preview card: name, server, four numbers and the streak graph; return PNG bytes."""
    width, height = CARD_SIZE
    pad, top = PAD, TILES_TOP
    image, draw = _backdrop("BUILDING IN PUBLIC", page.display_name, f"with {drawable(page.server_name)}")
    _tiles(
        draw,
        (
            (page.prs_merged, "PRs merged" if page.prs_merged != 1 else "PR merged"),
            (page.goals_finished, "goals done" if page.goals_finished != 1 else "goal done"),
            (page.streak, f"{page.streak_unit.rstrip('s')} streak"),
            (page.kudos, "kudos"),
        ),
    )

    graph = Image.open(io.BytesIO(streak_png)).convert("RGBA")
    graph_top = top + 128 + 26
    room = height - graph_top - 34
    if graph.height > room:
        graph = graph.resize((round(graph.width * room / graph.height), room), Image.Resampling.LANCZOS)
    image.paste(graph, (pad, graph_top), graph)
    footer_font = _card_font(28, bold=True)
    right = width - pad
    draw.text((right, height - 92), "Shiplog", font=footer_font, fill="white", anchor="rs")
    draw.text((right, height - 52), fit(draw, host, _card_font(22), right - pad - graph.width - 40),
              font=_card_font(22), fill=(168, 218, 186), anchor="rs")  # fmt: skip
    return _png(image)


def render_community_card(page: community.CommunityPage, *, host: str) -> bytes:
    """Draw the community page's 1200x630 card: the server, three numbers and 12 months of merges as bars."""
    width, height = CARD_SIZE
    image, draw = _backdrop("OUR COMMUNITY SHIPS", page.server_name, "merged pull requests, together, on Shiplog")
    _tiles(
        draw,
        (
            (page.this_month, "merged this month"),
            (page.in_all, "merged in all"),
            (page.repositories, "repositories" if page.repositories != 1 else "repository"),
        ),
    )
    # The bars: one a month, the current month brightest, scaled to the busiest month.
    top, bottom = TILES_TOP + 128 + 40, height - 60
    left, right = PAD, width - PAD - 220
    step = (right - left) / len(page.months)
    highest = max((n for _, n in page.months), default=0) or 1
    label_font = _card_font(18)
    for index, (month, merged) in enumerate(page.months):
        x0 = round(left + index * step + 6)
        x1 = round(left + (index + 1) * step - 6)
        bar = round((bottom - 24 - top) * merged / highest)
        colour = (126, 226, 168) if index == len(page.months) - 1 else (64, 140, 100)
        draw.rectangle((x0, bottom - 24 - max(bar, 2), x1, bottom - 24), fill=colour)
        draw.text(((x0 + x1) / 2, bottom), f"{month:%b}", font=label_font, fill=(168, 218, 186), anchor="ms")
    footer_font = _card_font(28, bold=True)
    edge = width - PAD
    draw.text((edge, height - 92), "Shiplog", font=footer_font, fill="white", anchor="rs")
    draw.text((edge, height - 52), fit(draw, host, _card_font(22), 200), font=_card_font(22),
              fill=(168, 218, 186), anchor="rs")  # fmt: skip
    return _png(image)
