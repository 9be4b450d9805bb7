"""The 1200x630 picture link previews show for a member's public page (OpenGraph and Twitter cards).

Drawn from the page's numbers and its streak graph; the routes in `bot.web.pages` cache it.
"""

from __future__ import annotations

import io
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from bot.images.text import Font, drawable, fit
from bot.services.sharing import pages

CARD_SIZE = (1200, 630)


@cache
def _card_font(size: int, bold: bool = False) -> Font:
    # DejaVu where the system has it (Debian images do); else Pillow's bundled font, which has no bold.
    path = f"/usr/share/fonts/truetype/dejavu/DejaVuSans{'-Bold' if bold else ''}.ttf"
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return ImageFont.load_default(size=size)


def render_card(page: pages.PublicPage, streak_png: bytes, *, host: str) -> bytes:
    """Draw the 1200x630 preview card: name, server, four numbers and the streak graph; return PNG bytes."""
    width, height = CARD_SIZE
    image = Image.new("RGB", CARD_SIZE, (13, 17, 23))
    draw = ImageDraw.Draw(image)
    # A diagonal wash from the dark background to a deep green, drawn as bands (cheap, no numpy).
    for x in range(0, width, 4):
        t = x / width
        colour = (round(13 + (27 - 13) * t), round(17 + (58 - 17) * t), round(23 + (42 - 23) * t))
        draw.rectangle((x, 0, x + 3, height), fill=colour)
    pad = 64
    draw.text((pad, 52), "BUILDING IN PUBLIC", font=_card_font(24, bold=True), fill=(126, 226, 168))
    name_font = _card_font(72, bold=True)
    name = fit(draw, drawable(page.display_name), name_font, width - 2 * pad)
    draw.text((pad, 88), name, font=name_font, fill="white")
    server_font = _card_font(32)
    with_width = draw.textlength("with ", font=server_font)
    server = fit(draw, drawable(page.server_name), server_font, width - 2 * pad - with_width)
    draw.text((pad, 182), f"with {server}", font=server_font, fill=(201, 209, 217))

    stats = (
        (page.prs_merged, "PRs merged" if page.prs_merged != 1 else "PR merged"),
        (page.goals_finished, "goals done" if page.goals_finished != 1 else "goal done"),
        (page.streak, f"{page.streak_unit.rstrip('s')} streak"),
        (page.kudos, "kudos"),
    )
    gap = 20
    tile = (width - 2 * pad - 3 * gap) // 4
    top = 256
    number_font, label_font = _card_font(60, bold=True), _card_font(26)
    for index, (value, label) in enumerate(stats):
        left = pad + index * (tile + gap)
        draw.rounded_rectangle((left, top, left + tile, top + 128), radius=16, fill=(33, 45, 40))
        draw.text((left + 22, top + 16), fit(draw, f"{value:,}", number_font, tile - 44), font=number_font,
                  fill="white")  # fmt: skip
        draw.text((left + 22, top + 88), label, font=label_font, fill=(168, 218, 186))

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
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
