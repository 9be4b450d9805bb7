"""/about: Shiplog's version, where its source lives, and this server's settings in short."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

import bot as shiplog
from bot.services import guilds
from bot.services import schedule as rhythm
from cogs._format import BRAND, NO_MENTIONS, guild_id_of, plural

if TYPE_CHECKING:
    from bot.bot import Shiplog


def describe(summary: guilds.ServerSummary) -> list[tuple[str, str]]:
    """Turn a server's settings into (name, value) lines for the embed."""
    channels = " · ".join(
        f"{purpose} <#{channel_id}>" if channel_id else f"{purpose} not set"
        for purpose, channel_id in summary.channels.items()
    )
    when = rhythm.Schedule.read(summary.schedule_weekday, summary.schedule_time, summary.schedule_timezone)
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
    ]


class About(commands.Cog):
    """What Shiplog is."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot

    @app_commands.command(name="about")
    @app_commands.guild_only()
    async def about(self, interaction: discord.Interaction[Shiplog]) -> None:
        """Show Shiplog's version, its source code and this server's settings."""
        summary = await guilds.summary(self.bot.sessionmaker, guild_id_of(interaction))
        embed = discord.Embed(
            title=f"Shiplog {shiplog.__version__}",
            url=shiplog.SOURCE_URL,
            colour=BRAND,
            description=(
                "Goals, streaks and GitHub celebrations for #BuildInPublic communities. "
                f"Open source (MIT): [read the code, report a bug or contribute]({shiplog.SOURCE_URL})."
            ),
        )
        for name, value in describe(summary):
            embed.add_field(name=name, value=value, inline=False)
        embed.set_footer(text="/help lists the commands. Server managers change these with /settings.")
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(About(bot))
