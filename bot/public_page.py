"""Members' public pages on the bot's web server: the HTML, the preview card image and their routes.

`GET /u/<server>/<member>` is the page, server-rendered HTML with its own small CSS and no script;
`…/streak.png` (and `…/streak-phone.png`, 13 weeks) is the streak graph it shows, and `…/card.png`
the 1200x630 picture link previews show (OpenGraph and Twitter-card tags point at it). The data
comes from `bot.services.sharing.pages`, which holds no id; every text a member or GitHub wrote is escaped
here. A page that does not exist, or no longer does, answers 404 with a short page; a database that
does not answer, 503. Never 500.

The headers every answer gets (no Referer, no sniffing, `Cache-Control: no-store`) are set in one
place for the whole server, `bot.web._safe_headers`; here only the CSP of the HTML and the
caching of the pictures. Every text a member or GitHub wrote goes through `_text` (escaped, and
its direction isolated by `bidi.isolate`); the pictures draw it through `streak_image.drawable`.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from html import escape

from aiohttp import web
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import __version__
from bot.services import bidi
from bot.services.rhythm import checkins
from bot.services.sharing import pages
from bot.services.streak_image import drawable, image_size, render_streak_png
from bot.services.wording import plural

log = logging.getLogger(__name__)

CARD_SIZE = (1200, 630)
# A phone's screen shows 13 weeks of the streak graph at about its own size (26 would be drawn at
# half size, too small to read); the page picks the picture by the screen's width.
PHONE_WEEKS = 13
PHONE_MEDIA = "(max-width: 600px)"
# No script runs, nothing loads from elsewhere, no one frames the page: even text that slipped past
# escaping could do nothing.
CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# A page's pictures may be kept, but are asked for again at every use (`no-cache`, with an ETag):
# unchanged, the answer is a 304 of no bytes and no drawing; closed, a 404 at once. The HTML is
# `no-store` (bot.web): a page must vanish at once, from caches too.
PICTURE_CACHE_CONTROL = "no-cache"
# Pictures drawn are kept by the hash of what they show, up to this many bytes (a card is ~64 kB).
PICTURE_CACHE_BYTES = 32 * 1024**2
# Pictures drawn at once, each in its own thread. Pillow holds the GIL for part of its drawing, so
# threads drawing side by side take turns with the event loop for it: 30 cards drawn 30 at a time
# (on 2 cores) delayed the loop by 49 ms at the 95th percentile and 183 ms at worst, one at a time
# by 19 and 82 ms, in the same total time.
DRAWING_AT_ONCE = 1


class PictureCache:
    """Drawn PNGs by the hash of what they show, least recently used first out; never drawn on the loop.

    A card costs 120-300 ms of CPU: drawn per request on the event loop, thirty requests at once
    held everything else (a `/goal add` past Discord's 3 s). Now each picture is drawn once, in a
    thread (`asyncio.to_thread`), and requests for a picture being drawn wait for that one drawing.
    The key is the hash of everything drawn, so a change to the page is a new key, and a closed
    page is never looked up: the routes read the page first and answer 404.
    """

    def __init__(self, max_bytes: int = PICTURE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.drawn = 0  # how many pictures were drawn (the rest came from here): for tests and the bench
        self._kept: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._drawing: dict[str, asyncio.Future[bytes]] = {}
        self._turns = asyncio.Semaphore(DRAWING_AT_ONCE)

    async def get(self, key: str, draw: Callable[[], bytes]) -> bytes:
        """Return the picture kept under `key`, or draw it in a thread (once, however many ask at once)."""
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            return kept
        drawing = self._drawing.get(key)
        if drawing is None:
            self.drawn += 1
            drawing = self._drawing[key] = asyncio.ensure_future(self._draw(draw))
            drawing.add_done_callback(lambda done: self._keep(key, done))
        # A request that goes away does not cancel the drawing others wait for.
        return await asyncio.shield(drawing)

    async def _draw(self, draw: Callable[[], bytes]) -> bytes:
        async with self._turns:
            return await asyncio.to_thread(draw)

    def clear(self) -> None:
        """Forget every picture kept (drawings under way go on)."""
        self._kept.clear()
        self._size = 0

    def _keep(self, key: str, done: asyncio.Future[bytes]) -> None:
        del self._drawing[key]
        if done.cancelled() or done.exception() is not None:
            return  # the error reached whoever waited; the next request draws again
        data = done.result()
        if len(data) > self.max_bytes:
            return
        self._kept[key] = data
        self._size += len(data)
        while self._size > self.max_bytes:
            _, dropped = self._kept.popitem(last=False)
            self._size -= len(dropped)


@dataclass(frozen=True, slots=True)
class PageSite:
    """What the page routes need: storage, PUBLIC_URL (None: no pages), the clock and the drawn pictures."""

    sessionmaker: async_sessionmaker[AsyncSession]
    public_url: str | None
    now: Callable[[], datetime]
    pictures: PictureCache = field(default_factory=PictureCache)


SITE_KEY = web.AppKey("pages", PageSite)
# A ship as the tab's icon, inline: browsers otherwise ask for /favicon.ico, which is not served.
FAVICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 100 100'%3E"
    "%3Ctext y='.9em' font-size='90'%3E%F0%9F%9A%A2%3C/text%3E%3C/svg%3E"
)

CSS = """
:root{--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--card:#fff;--green:#1a7f37;--accent:#2da44e}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif;overflow-wrap:anywhere}
main{max-width:760px;margin:0 auto;padding:24px 16px 40px}
.hero{background:linear-gradient(135deg,#0d1117,#1b3a2a);color:#fff;border-radius:16px;padding:28px 24px}
.kicker{margin:0;color:#7ee2a8;font-size:.8rem;letter-spacing:.08em;text-transform:uppercase;font-weight:600}
h1{margin:.2em 0 .1em;font-size:2rem;line-height:1.2}
.server{margin:0;color:#c9d1d9}
.stats{display:grid;grid-template-columns:repeat(4,1fr);gap:10px;margin:22px 0 0;padding:0;list-style:none}
.stats li{background:rgba(255,255,255,.08);border-radius:10px;padding:10px 12px}
.stats b{display:block;font-size:1.6rem;line-height:1.1}
.stats span{color:#c9d1d9;font-size:.85rem}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 20px;margin-top:16px}
h2{margin:0 0 10px;font-size:1.15rem}
h3{margin:14px 0 6px;font-size:1rem;color:var(--muted)}
ul.list{margin:0;padding:0;list-style:none}
ul.list li{padding:7px 0;border-top:1px solid var(--line)}
ul.list li:first-child{border-top:0}
.when{color:var(--muted);font-size:.85rem;white-space:nowrap}
.done::before{content:"✓ ";color:var(--green);font-weight:700}
.open::before{content:"○ ";color:var(--muted)}
.repo{display:flex;justify-content:space-between;gap:8px;align-items:baseline}
.count{background:#dafbe1;color:var(--green);border-radius:999px;padding:0 9px;font-size:.85rem;font-weight:600;
white-space:nowrap}
a{color:#0969da;text-decoration:none}
a:hover{text-decoration:underline}
.streak img{display:block;width:auto;max-width:100%;height:auto}
.empty{color:var(--muted);margin:0}
footer{color:var(--muted);font-size:.85rem;text-align:center;margin-top:24px}
@media (max-width:560px){
  main{padding:12px 10px 32px}
  .hero{padding:22px 18px}
  h1{font-size:1.6rem}
  .stats{grid-template-columns:repeat(2,1fr)}
  section{padding:14px 14px}
}
"""


def _text(text: str) -> str:
    """Return text a member or GitHub wrote, ready for HTML (text or attribute): escaped, its direction isolated."""
    return escape(bidi.isolate(text))


def _link(url: str, text: str) -> str:
    """Return a link out of the page (`text` already HTML): it tells the other site nothing of the page."""
    return f'<a href="{escape(url)}" rel="nofollow noopener noreferrer">{text}</a>'


def describe(page: pages.PublicPage) -> str:
    """Return the one-line summary that previews show under the title."""
    parts = []
    if page.prs_merged:
        parts.append(
            f"{plural(page.prs_merged, 'merged PR')} in {plural(len(page.repos), 'repository', 'repositories')}"
        )
    if page.goals_finished:
        parts.append(plural(page.goals_finished, "goal") + " finished")
    if page.open_goals:
        parts.append(f"{len(page.open_goals)} in progress")
    if page.streak:
        parts.append(f"a {page.streak}-{page.streak_unit.rstrip('s')} streak")
    if page.kudos:
        parts.append(plural(page.kudos, "kudos", "kudos") + " received")
    head = " · ".join(parts) if parts else "Just getting started"
    return f"{head}. Building in public with {bidi.isolate(page.server_name)} on Shiplog."


def _date(when: datetime) -> str:
    return f"{when:%d %b %Y}".lstrip("0")


def _goals(page: pages.PublicPage) -> str:
    if not page.open_goals and not page.finished_goals:
        return '<p class="empty">No goals set yet.</p>'
    out = []
    if page.open_goals:
        items = "".join(
            f'<li class="open">{_text(g.text)}'
            + (f' <span class="when">· due {g.due:%d %b}</span>' if g.due else "")
            + "</li>"
            for g in page.open_goals
        )
        out.append(f'<h3>Working on</h3><ul class="list" id="open-goals">{items}</ul>')
    if page.finished_goals:
        items = "".join(
            f'<li class="done">{_text(g.text)} <span class="when">· {_date(g.at)}</span></li>'
            for g in page.finished_goals
        )
        more = page.goals_finished - len(page.finished_goals)
        tail = f'<p class="empty">…and {more:,} more.</p>' if more > 0 else ""
        out.append(f'<h3>Finished</h3><ul class="list" id="finished-goals">{items}</ul>{tail}')
    return "".join(out)


def _prs(page: pages.PublicPage) -> str:
    if not page.repos:
        return '<p class="empty">No merged pull requests yet.</p>'
    out = []
    for repo in page.repos:
        items = []
        for pr in repo.prs:
            title = _text(pr.title)
            link = _link(pr.url, title) if pr.url else title
            items.append(f'<li>{link} <span class="when">#{pr.number} · {_date(pr.merged_at)}</span></li>')
        out.append(
            f'<div class="repo"><h3>{_text(repo.repo)}</h3>'
            f'<span class="count">{plural(repo.merged, "PR")}</span></div>'
            f'<ul class="list">{"".join(items)}</ul>'
        )
    return "".join(out)


def render_page(page: pages.PublicPage, *, url: str, streak_src: str) -> str:
    """Return the page's HTML; `url` is its public address (previews need absolute ones).

    `streak_src` is the address of the page's pictures, relative to the page: the member's slug.
    """
    name, server = _text(page.display_name), _text(page.server_name)
    graph_width, graph_height = image_size(checkins.PICTURE_WEEKS)
    phone_width = image_size(PHONE_WEEKS)[0]
    title = f"{name} · building in public"
    description = escape(describe(page))
    card = escape(f"{url}/card.png")
    streak_line = (
        f"🔥 {page.streak} {page.streak_unit} in a row" + ("" if page.active_now else " (keep it going)")
        if page.streak
        else "No streak running right now."
    )
    if page.best_streak > page.streak:
        streak_line += f" · best {page.best_streak}"
    stats = (
        (page.prs_merged, "PR merged" if page.prs_merged == 1 else "PRs merged"),
        (page.goals_finished, "goal done" if page.goals_finished == 1 else "goals done"),
        (page.streak, f"{page.streak_unit.rstrip('s')} streak"),
        (page.kudos, "kudos"),
    )
    stat_items = "".join(f"<li><b>{value:,}</b><span>{label}</span></li>" for value, label in stats)
    kudos = (
        f"<p><b>{page.kudos:,}</b> thank-you{'s' if page.kudos != 1 else ''} from other members of {server}.</p>"
        if page.kudos
        else '<p class="empty">No kudos yet.</p>'
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<link rel="icon" href="{FAVICON}">
<meta name="description" content="{description}">
<meta property="og:type" content="profile">
<meta property="og:site_name" content="Shiplog">
<meta property="og:title" content="{title}">
<meta property="og:description" content="{description}">
<meta property="og:url" content="{escape(url)}">
<meta property="og:image" content="{card}">
<meta property="og:image:type" content="image/png">
<meta property="og:image:width" content="{CARD_SIZE[0]}">
<meta property="og:image:height" content="{CARD_SIZE[1]}">
<meta property="og:image:alt" content="{name}'s Shiplog card: {description}">
<meta name="twitter:card" content="summary_large_image">
<meta name="twitter:title" content="{title}">
<meta name="twitter:description" content="{description}">
<meta name="twitter:image" content="{card}">
<style>{CSS}</style>
</head>
<body>
<main>
<header class="hero">
<p class="kicker">Building in public</p>
<h1>{name}</h1>
<p class="server">with {server} on Shiplog</p>
<ul class="stats">{stat_items}</ul>
</header>
<section class="streak" id="streak">
<h2>Streak</h2>
<p>{streak_line}</p>
<picture>
<source media="{PHONE_MEDIA}" srcset="{escape(streak_src)}/streak-phone.png"
 width="{phone_width}" height="{graph_height}">
<img src="{escape(streak_src)}/streak.png" alt="{name}'s activity over the last weeks"
 width="{graph_width}" height="{graph_height}">
</picture>
</section>
<section id="goals">
<h2>Goals</h2>
{_goals(page)}
</section>
<section id="prs">
<h2>Merged pull requests</h2>
{_prs(page)}
</section>
<section id="kudos">
<h2>Kudos received</h2>
{kudos}
</section>
<footer>This page shows what {name} shares in {server}, and goes away when they turn it off.
Made with Shiplog.</footer>
</main>
</body>
</html>
"""


NOT_FOUND_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{margin:0;font:16px/1.5 system-ui,sans-serif;background:#f6f8fa;color:#1f2328}}
main{{max-width:520px;margin:15vh auto;padding:0 20px;text-align:center}}h1{{font-size:1.4rem}}</style></head>
<body><main><h1>{title}</h1><p>{text}</p></main></body></html>
"""


def _html_response(body: str, status: int = 200) -> web.Response:
    # Cache-Control: no-store, nosniff and no Referer come from bot.web, for every answer.
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = CSP
    return response


def not_found() -> web.Response:
    """The answer for every page that is not there: unknown, turned off, or never made."""
    return _html_response(
        NOT_FOUND_HTML.format(
            title="This page isn't here",
            text="It may have been turned off by its owner or their server, or the address is mistyped.",
        ),
        404,
    )


def _unavailable() -> web.Response:
    response = _html_response(
        NOT_FOUND_HTML.format(title="Back in a moment", text="This page can't be read right now; try again soon."),
        503,
    )
    response.headers["Retry-After"] = "30"
    return response


def _fingerprint(kind: str, *drawn: object) -> str:
    """Return the ETag of a picture: the hash of everything drawn on it (and of the code drawing it)."""
    return hashlib.sha256(repr((kind, __version__, *drawn)).encode()).hexdigest()[:32]


def _streak_drawn(picture: checkins.StreakPicture, name: str, weeks: int) -> tuple[object, ...]:
    return (name, weeks, picture.today, sorted(picture.days.items()), sorted(tuple(r) for r in picture.rests))


async def _picture(request: web.Request, etag: str, draw: Callable[[], bytes]) -> web.Response:
    """Answer with the picture under `etag`: 304 when the asker has it, else from the cache or drawn."""
    if request.if_none_match is not None and any(tag.value in (etag, "*") for tag in request.if_none_match):
        response = web.Response(status=304)
    else:
        data = await request.app[SITE_KEY].pictures.get(etag, draw)
        response = web.Response(body=data, content_type="image/png")
    response.etag = etag
    response.headers["Cache-Control"] = PICTURE_CACHE_CONTROL
    return response


@cache
def _card_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # DejaVu where the system has it (Debian images do); else Pillow's bundled font, which has no bold.
    path = f"/usr/share/fonts/truetype/dejavu/DejaVuSans{'-Bold' if bold else ''}.ttf"
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return ImageFont.load_default(size=size)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> str:
    text = " ".join(text.split())
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


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
    name = _fit(draw, drawable(page.display_name), name_font, width - 2 * pad)
    draw.text((pad, 88), name, font=name_font, fill="white")
    server_font = _card_font(32)
    with_width = draw.textlength("with ", font=server_font)
    server = _fit(draw, drawable(page.server_name), server_font, width - 2 * pad - with_width)
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
        draw.text((left + 22, top + 16), _fit(draw, f"{value:,}", number_font, tile - 44), font=number_font,
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
    draw.text((right, height - 52), _fit(draw, host, _card_font(22), right - pad - graph.width - 40),
              font=_card_font(22), fill=(168, 218, 186), anchor="rs")  # fmt: skip
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _streak_png(picture: checkins.StreakPicture, name: str, weeks: int = checkins.PICTURE_WEEKS) -> bytes:
    return render_streak_png(picture.days, today=picture.today, rests=picture.rests, name=name, weeks=weeks)


def _slugs(request: web.Request) -> tuple[str, str]:
    return request.match_info["server"], request.match_info["member"]


async def page(request: web.Request) -> web.Response:
    """Serve a member's page, or the 404 page."""
    site = request.app[SITE_KEY]
    server, member = _slugs(request)
    if site.public_url is None or not (pages.valid_slug(server) and pages.valid_slug(member)):
        return not_found()
    try:
        found = await pages.load_page(site.sessionmaker, server, member, now=site.now())
    except Exception:  # the database: the page is not gone, just unreadable for now
        log.exception("could not read a public page")
        return _unavailable()
    if found is None:
        return not_found()
    url = pages.page_url(site.public_url, server, member)
    return _html_response(render_page(found, url=url, streak_src=member))


async def streak(request: web.Request) -> web.Response:
    """Serve the page's streak graph as a PNG: 26 weeks, or the last 13 for a phone's narrow screen."""
    site = request.app[SITE_KEY]
    server, member = _slugs(request)
    if site.public_url is None or not (pages.valid_slug(server) and pages.valid_slug(member)):
        return not_found()
    try:
        found = await pages.load_streak(site.sessionmaker, server, member, now=site.now())
        if found is None:
            return not_found()
        weeks = PHONE_WEEKS if request.path.endswith("/streak-phone.png") else checkins.PICTURE_WEEKS
        etag = _fingerprint("streak", *_streak_drawn(found.picture, found.display_name, weeks))
        return await _picture(request, etag, lambda: _streak_png(found.picture, found.display_name, weeks))
    except Exception:
        log.exception("could not draw a public page's streak")
        return _unavailable()


async def card(request: web.Request) -> web.Response:
    """Serve the page's 1200x630 preview card."""
    site = request.app[SITE_KEY]
    public_url = site.public_url
    server, member = _slugs(request)
    if public_url is None or not (pages.valid_slug(server) and pages.valid_slug(member)):
        return not_found()
    try:
        found = await pages.load_page(site.sessionmaker, server, member, now=site.now())
        drawn = await pages.load_streak(site.sessionmaker, server, member, now=site.now()) if found else None
        if found is None or drawn is None:
            return not_found()

        host = public_url.split("://", 1)[1]
        etag = _fingerprint(
            "card", host, found.display_name, found.server_name, found.prs_merged, found.goals_finished,
            found.streak, found.streak_unit, found.kudos,
            *_streak_drawn(drawn.picture, found.display_name, checkins.PICTURE_WEEKS),
        )  # fmt: skip

        def draw() -> bytes:
            return render_card(found, _streak_png(drawn.picture, found.display_name), host=host)

        return await _picture(request, etag, draw)
    except Exception:
        log.exception("could not draw a public page's card")
        return _unavailable()


def add_routes(
    app: web.Application,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    public_url: str | None,
    now: Callable[[], datetime],
) -> None:
    """Serve members' pages from `app` (every page is a 404 while `public_url` is None)."""
    app[SITE_KEY] = PageSite(sessionmaker, public_url, now)
    app.router.add_get("/u/{server}/{member}", page)
    app.router.add_get("/u/{server}/{member}/streak.png", streak)
    app.router.add_get("/u/{server}/{member}/streak-phone.png", streak)
    app.router.add_get("/u/{server}/{member}/card.png", card)
