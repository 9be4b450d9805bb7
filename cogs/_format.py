"""Rendering helpers shared by the cogs (not an extension: the walker skips `_` modules)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from datetime import date
from typing import Any

import discord
from discord import app_commands

from bot.images.streak import render_streak_png
from bot.services import guilds
from bot.services.dates import describe_due, search_timezones
from bot.services.github.urls import safe_url
from bot.services.links import IssueRef
from bot.services.rhythm import checkins
from bot.services.rhythm.when import Schedule
from bot.services.sharing import share
from bot.services.sharing.community import community_url
from bot.services.wording import plural
from bot.tree import NO_MENTIONS as NO_MENTIONS  # the one definition; the cogs take it from here

EMBED_DESCRIPTION_LIMIT = 4096
BRAND = discord.Colour.from_rgb(46, 160, 67)  # GitHub's "merged" green


def escape(text: str) -> str:
    """Escape markdown and neutralise mass mentions in member- or GitHub-written text.

    discord.py's escape_markdown escapes only the first "[" of a line holding masked links (its
    pattern is greedy), so `[a](x) [Verify your account](https://evil.example)` kept its second
    link: every "[" is escaped here, which no masked link survives.
    """
    return "\\[".join(discord.utils.escape_mentions(discord.utils.escape_markdown(part)) for part in text.split("["))


def shorten(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mention_only(*user_ids: int, role_ids: Sequence[int] = ()) -> discord.AllowedMentions:
    """Allow pinging exactly these users (and these roles) and nobody else."""
    return discord.AllowedMentions(
        everyone=False,
        roles=[discord.Object(r) for r in role_ids] if role_ids else False,
        replied_user=False,
        users=[discord.Object(u) for u in user_ids],
    )


def link_markdown(ref: IssueRef | str) -> str:
    """Render an issue reference as a markdown link."""
    if isinstance(ref, str):
        repo, _, number = ref.partition("#")
        ref = IssueRef(repo, int(number))
    return f"[{escape(str(ref))}]({ref.url})"


def github_link(text: str, url: object, *, preview: bool = True) -> str:
    """Return `[text](url)` for a link from GitHub that is safe to show (`urls.safe_url`), else `text` alone.

    `text` is already escaped. `preview=False` wraps the address in <> so Discord shows no preview.
    """
    safe = safe_url(url)
    if safe is None:
        return text
    return f"[{text}]({safe})" if preview else f"[{text}](<{safe}>)"


def due_words(due: date | None, today: date) -> str | None:
    """Describe a due date relative to the member's today, with the date itself."""
    if due is None:
        return None
    return f"{describe_due(due, today=today)} ({due:%a %d %b %Y})"


def join_lines(lines: list[str], limit: int = EMBED_DESCRIPTION_LIMIT) -> str:
    """Join lines up to `limit` characters, ending with 'and N more' when some do not fit."""
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        remaining = len(lines) - index
        tail = f"\n… and {remaining} more" if remaining > 1 else ""
        if used + len(line) + 1 + len(tail) > limit and out:
            out.append(f"… and {remaining} more")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def guild_id_of(interaction: discord.Interaction[Any]) -> int:
    """Return the interaction's server id; commands here are guild-only, so a DM is refused."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id


async def timezone_choices(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete IANA zone names matching what was typed."""
    return [app_commands.Choice(name=name, value=name) for name in search_timezones(current, limit=25)]


def require_manage_guild(interaction: discord.Interaction[Any]) -> None:
    """Refuse members without Manage Server: default_permissions only hides a command, admins can re-grant it."""
    perms = interaction.permissions
    if not (perms.manage_guild or perms.administrator):
        raise app_commands.MissingPermissions(["manage_guild"])


def share_embeds(drafts: dict[str, str]) -> list[discord.Embed]:
    """One embed per network: its name, how much of its limit the draft uses, and the draft to copy."""
    return [
        discord.Embed(title=title, description=body, colour=discord.Colour.blurple())
        for title, body in share.render(drafts)
    ]


async def streak_file(picture: checkins.StreakPicture, name: str) -> discord.File:
    """Draw the streak picture (/streak, /me recap) as an attachment named streak.png."""
    # Drawing is CPU work: keep it off the event loop.
    png = await asyncio.to_thread(
        render_streak_png,
        picture.days,
        today=picture.today,
        rests=picture.rests,
        name=name,
        weeks=checkins.PICTURE_WEEKS,
    )
    return discord.File(io.BytesIO(png), filename="streak.png")


def settings_lines(summary: guilds.ServerSummary, public_url: str | None = None) -> list[tuple[str, str]]:
    """Turn a server's settings into (name, value) lines for an embed (/about, /settings show)."""
    channels = " · ".join(
        f"{purpose} <#{channel_id}>" if channel_id else f"{purpose} not set"
        for purpose, channel_id in summary.channels.items()
    )
    when = Schedule.read(summary.schedule_weekday, summary.schedule_time, summary.schedule_timezone)
    who = "quiet members with open goals" if summary.ping_quiet_only else "members with open goals"
    cap = f", at most {summary.ping_cap:,}" if summary.ping_cap else ""
    radar = summary.radar
    return [
        ("Channels", channels),
        ("Weekly ping and digest", f"{when.describe()}; mentions {who}{cap}"),
        ("Streaks", f"{summary.cadence}, in each member's time zone"),
        (
            "GitHub",
            f"radar {'on' if radar.enabled else 'off'}"
            + (", own repositories celebrated" if radar.own_repos else "")
            + f"; review nudges after {plural(radar.review_wait_days, 'day')}; "
            f"{plural(summary.linked_members, 'linked member')}; "
            f"{plural(summary.relayed_repos, 'relayed repository', 'relayed repositories')}",
        ),
        ("Community page", _community_line(summary.community_slug, public_url)),
    ]


def _community_line(slug: str | None, public_url: str | None) -> str:
    if slug is None:
        return "off (`/settings pages community:true` publishes it)"
    if public_url is None:
        return "on, but this Shiplog has no `PUBLIC_URL`, so nobody can open it"
    return community_url(public_url, slug)
