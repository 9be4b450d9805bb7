"""A server's community page on the bot's web server: the HTML, its chart, and the route of its card.

`GET /c/<slug>` is the page, server-rendered HTML (templates/community.html, with the members'
pages' CSS and templates/community.css) with no script; its 12-month chart is inline SVG with a
title, a description and a table of the same numbers. `…/card.png` is the 1200x630 picture link
previews show. Both go out the way members' pages do (`bot.web.pages`): the same headers, CSP, 404
and 503 pages and picture cache. The data comes from `bot.services.sharing.community`, which holds
no id; every text a member or GitHub wrote is escaped here (`pages._text`).
"""

from __future__ import annotations

import logging
from functools import cache

from aiohttp import web

from bot.images.card import CARD_SIZE, render_community_card
from bot.services import bidi
from bot.services.sharing import community
from bot.services.wording import periods, plural
from bot.web import pages as member_pages
from bot.web.pages import FAVICON, SITE_KEY, _date, _html_response, _picture, _read, _template, _text

log = logging.getLogger(__name__)

# The chart's drawing box (the SVG scales to the width of its section).
CHART_WIDTH, CHART_HEIGHT, CHART_BASE = 720, 250, 210


@cache
def _css() -> str:
    return _read("page.css") + _read("community.css")


def describe(page: community.CommunityPage) -> str:
    """Return the one-line summary that previews show under the title."""
    return (
        f"{plural(page.this_month, 'merged PR')} this month, {page.in_all:,} in all, in "
        f"{plural(page.repositories, 'repository', 'repositories')}. "
        f"{bidi.isolate(page.server_name)} builds in public with Shiplog."
    )


def _month(day: object) -> str:
    return f"{day:%b %Y}"


def chart(page: community.CommunityPage) -> str:
    """Return the 12-month chart: inline SVG (no script) with a title and a description, and its table."""
    highest = max((n for _, n in page.months), default=0)
    step = CHART_WIDTH / len(page.months)
    bars = []
    for index, (month, merged) in enumerate(page.months):
        height = round((CHART_BASE - 34) * merged / highest) if highest else 0
        x = round(index * step + 6, 1)
        width = round(step - 12, 1)
        cls = "now" if index == len(page.months) - 1 else "bar"
        bars.append(
            f'<rect class="{cls}" x="{x}" y="{CHART_BASE - height}" width="{width}" height="{height}"></rect>'
            f'<text class="n" x="{x + width / 2}" y="{CHART_BASE - height - 6}" text-anchor="middle">{merged:,}</text>'
            f'<text x="{x + width / 2}" y="{CHART_BASE + 28}" text-anchor="middle">{month:%b}</text>'
        )
    first, last = page.months[0][0], page.months[-1][0]
    busiest = max(page.months, key=lambda item: item[1])
    desc = (
        f"{sum(n for _, n in page.months):,} merged pull requests from {_month(first)} to "
        f"{_month(last)}; {page.this_month:,} this month"
        + (f"; the busiest month was {_month(busiest[0])}, with {busiest[1]:,}." if highest else ".")
    )
    rows = "".join(f'<tr><th scope="row">{_month(month)}</th><td class="n">{n:,}</td></tr>' for month, n in page.months)
    return (
        f'<svg class="chart" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" '
        'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">'
        '<title id="chart-title">Merged pull requests by month, the last 12 months</title>'
        f'<desc id="chart-desc">{desc}</desc>{"".join(bars)}</svg>'
        "<details><summary>The numbers</summary><table><caption>Merged pull requests by month</caption>"
        f'<thead><tr><th scope="col">Month</th><th scope="col">Merged</th></tr></thead><tbody>{rows}</tbody></table>'
        "</details>"
    )


def _who(name: str, path: str, public_url: str) -> str:
    """A member with a public page: their name, linked to it."""
    return f'<a href="{_text(public_url + path)}">{_text(name)}</a>'


def _firsts(page: community.CommunityPage, public_url: str) -> str:
    if not page.firsts_count:
        return '<p class="empty">No first-ever merged pull requests in the last 12 months.</p>'
    head = f"<p>{plural(page.firsts_count, 'member')} merged their first pull request in the last 12 months.</p>"
    if not page.firsts:  # nobody among them has a public page: the number is all there is
        return head
    items = "".join(
        f"<li>{_who(f.name, f.path, public_url)} · {_text(f.repo)}#{f.number} "
        f'<span class="when">· {_date(f.merged_at)}</span></li>'
        for f in page.firsts
    )
    more = page.more_firsts
    tail = f'<p class="empty">…and {plural(more, "more member")}.</p>' if more > 0 else ""
    return f'{head}<ul class="list">{items}</ul>{tail}'


def _streaks(page: community.CommunityPage, public_url: str) -> str:
    if not page.streaks_count:
        return '<p class="empty">No streaks going right now.</p>'
    items = "".join(
        f"<li>{_who(s.name, s.path, public_url)} "
        f'<span class="count">{s.value} {periods(s.value, page.cadence)}</span></li>'
        for s in page.streaks
    )
    head = f"<p>{plural(page.streaks_count, 'member has', 'members have')} a streak going.</p>"
    if not page.streaks:  # nobody with a streak has a public page: the number is all there is
        return head
    more = page.more_streaks
    tail = f'<p class="empty">…and {plural(more, "more member")}.</p>' if more > 0 else ""
    return f'{head}<ul class="list">{items}</ul>{tail}'


def _repos(page: community.CommunityPage) -> str:
    if not page.top_repos:
        return '<p class="empty">No merged pull requests yet.</p>'
    items = "".join(
        f'<li class="repo">{_text(repo)}<span class="count">{plural(n, "PR")}</span></li>' for repo, n in page.top_repos
    )
    return f'<ul class="list">{items}</ul>'


def render_community(page: community.CommunityPage, *, url: str, public_url: str) -> str:
    """Return the community page's HTML; `url` is its public address (previews need absolute ones)."""
    server = _text(page.server_name)
    stats = (
        (page.this_month, "merged this month"),
        (page.in_all, "merged in all"),
        (page.repositories, "repository" if page.repositories == 1 else "repositories"),
    )
    return _template("community.html").substitute(
        title=f"{server} · our community ships",
        favicon=FAVICON,
        description=_text(describe(page)),
        url=_text(url),
        card=_text(f"{url}/card.png"),
        card_width=CARD_SIZE[0],
        card_height=CARD_SIZE[1],
        server=server,
        css=_css(),
        stats="".join(f"<li><b>{value:,}</b><span>{label}</span></li>" for value, label in stats),
        chart=chart(page),
        firsts=_firsts(page, public_url),
        streaks=_streaks(page, public_url),
        repos=_repos(page),
    )


async def page(request: web.Request) -> web.Response:
    """Serve a server's community page, or the 404 page."""
    site = request.app[SITE_KEY]
    slug = request.match_info["slug"]
    if site.public_url is None or not community.valid_slug(slug):
        return member_pages.not_found()
    try:
        found = await community.load_community(site.sessionmaker, slug, now=site.now())
    except Exception:  # the database: the page is not gone, just unreadable for now
        log.exception("could not read a community page")
        return member_pages._unavailable()
    if found is None:
        return member_pages.not_found()
    url = community.community_url(site.public_url, slug)
    return _html_response(render_community(found, url=url, public_url=site.public_url))


async def card(request: web.Request) -> web.Response:
    """Serve the community page's 1200x630 preview card."""
    site = request.app[SITE_KEY]
    public_url = site.public_url
    slug = request.match_info["slug"]
    if public_url is None or not community.valid_slug(slug):
        return member_pages.not_found()
    try:
        found = await community.load_community(site.sessionmaker, slug, now=site.now())
        if found is None:
            return member_pages.not_found()
        host = public_url.split("://", 1)[1]
        etag = member_pages._fingerprint(
            "community-card", host, found.server_name, found.this_month, found.in_all, found.repositories,
            tuple(found.months),
        )  # fmt: skip
        return await _picture(request, etag, lambda: render_community_card(found, host=host))
    except Exception:
        log.exception("could not draw a community page's card")
        return member_pages._unavailable()


def add_routes(app: web.Application) -> None:
    """Serve community pages from `app` (after `bot.web.pages.add_routes`, whose site they share)."""
    app.router.add_get("/c/{slug}", page)
    app.router.add_get("/c/{slug}/card.png", card)
