"""The weekly accountability ping, the weekly digest and the streak-at-risk DM: drawing and sending.

The scheduler that queues them is a worker (bot/workers/scheduler.py), started by the bot. This
extension draws what it queues, and tells it about a schedule changed by /settings schedule (the
`schedule_changed` event).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord.ext import commands

from bot.services import messages
from bot.services.wording import noun, period_word, streak_words
from cogs._format import BRAND, NO_MENTIONS, escape, github_link, join_lines, mention_only, shorten

if TYPE_CHECKING:
    from bot.bot import Shiplog

log = logging.getLogger(__name__)

FIELD_LIMIT = 1024


def render_ping(ping: messages.Ping) -> dict[str, Any]:
    """Draw one message of the accountability ping: it pings exactly the members it lists, and the role
    it names for the members past the cap."""
    return {"content": ping.content, "allowed_mentions": mention_only(*ping.user_ids, role_ids=ping.role_ids)}


def _timestamp(iso: str, style: Literal["f", "R"]) -> str:
    return discord.utils.format_dt(datetime.fromisoformat(iso), style)


def _counted(count: int, word: str) -> str:
    return f"**{count}** {noun(count, word)}"


def render_digest(digest: messages.Digest) -> dict[str, Any]:
    """Draw the weekly digest: an embed that names members but pings nobody."""
    # "The week" is digest to digest (rhythm.when.week_closed_by), the same week `/me recap` counts.
    if digest.start and digest.end:
        span = f"this week, digest to digest: from {_timestamp(digest.start, 'f')} to {_timestamp(digest.end, 'f')}"
    else:
        span = "this week"
    embed = discord.Embed(title="🗓️ Weekly digest", description=f"What the server shipped {span}.", colour=BRAND)
    lines = [
        f"{_counted(digest.pr_count, 'pull request')} merged by {_counted(digest.pr_authors, 'member')}."
        if digest.pr_count
        else "None this week. A first PR is a fine goal: `/goal add`."
    ]
    for pr in digest.prs:
        link = github_link(f"{escape(pr.repo)}#{pr.number}", pr.url)
        lines.append(f"{link} {escape(shorten(pr.title, 80))} · <@{pr.user_id}>")
    embed.add_field(name="🚀 Merged pull requests", value=join_lines(lines, FIELD_LIMIT), inline=False)

    lines = [f"{_counted(digest.goals_set, 'goal')} set, {digest.goals_finished} finished."]
    lines += [f"✅ `#{goal.number}` {escape(shorten(goal.text, 80))} · <@{goal.user_id}>" for goal in digest.goals]
    embed.add_field(name="🎯 Goals", value=join_lines(lines, FIELD_LIMIT), inline=False)

    medals = ["🥇", "🥈", "🥉"]
    lines = [
        f"{medals[rank] if rank < len(medals) else '🔥'} <@{row.user_id}> · "
        f"{streak_words(row.current, row.cadence)} streak"
        for rank, row in enumerate(digest.streaks)
    ]
    embed.add_field(
        name="🔥 Longest current streaks",
        value=join_lines(lines, FIELD_LIMIT) if lines else "No streaks yet: a `/checkin` starts one.",
        inline=False,
    )

    lines = [f"**{digest.kudos_count}** kudos given."]
    if digest.kudos_top:
        lines.append("Most thanked: " + ", ".join(f"<@{row.user_id}> ({row.count})" for row in digest.kudos_top))
    embed.add_field(name="💜 Kudos", value=join_lines(lines, FIELD_LIMIT), inline=False)
    embed.set_footer(text="Set a goal with /goal add, and check in with /checkin. Keep shipping!")
    return {"embed": embed, "allowed_mentions": NO_MENTIONS}


def streak_dm_text(guild_name: str, dm: messages.StreakDM) -> str:
    """Write the streak-at-risk direct message."""
    period = period_word(dm.cadence)
    ends = _timestamp(dm.ends_at, "R") if dm.ends_at else "soon"
    text = (
        f"🔥 Your {streak_words(dm.streak, dm.cadence)} streak in **{escape(guild_name)}** is at risk: "
        f"this {period} ends {ends}. A `/checkin` there keeps it going."
    )
    if dm.freezes:
        text += f" (A banked freeze would cover a miss, but it's yours to keep: you have {dm.freezes}.)"
    return text + "\n-# `/me streak-dms` in the server turns these messages off."


class WeeklyRhythm(commands.Cog):
    """Draws what the scheduler queues, and follows changed schedules."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot
        bot.renderers[messages.Ping.KIND] = render_ping
        bot.renderers[messages.Digest.KIND] = render_digest
        bot.actions[messages.StreakDM.KIND] = self.send_streak_dm

    @commands.Cog.listener()
    async def on_schedule_changed(self, guild_id: int) -> None:
        """Follow a schedule changed by /settings schedule, or Shiplog's removal from a server or its return."""
        scheduler = self.bot.scheduler
        if scheduler is not None:
            job = await scheduler.reschedule(guild_id)
            if job is None:
                log.info("guild %s: no weekly job while Shiplog is not in the server", guild_id)
            else:
                log.info("guild %s: weekly job now %s, next at %s", guild_id, job.name, job.next_run_time)

    async def send_streak_dm(self, guild_id: int | None, dm: messages.StreakDM, nonce: str) -> None:
        """Send the streak-at-risk DM (an outbox action); Discord's errors go back to the sender to retry."""
        guild = self.bot.get_guild(guild_id) if guild_id is not None else None
        channel = await self.bot.create_dm(discord.Object(dm.user_id))
        await channel.send(
            streak_dm_text(guild.name if guild else "your server", dm),
            allowed_mentions=NO_MENTIONS,
            nonce=nonce,
        )


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(WeeklyRhythm(bot))
