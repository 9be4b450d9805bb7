"""/about: Shiplog's version, where its source lives, and this server's settings in short."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

import bot as shiplog
from bot.services import guilds
from cogs._format import BRAND, NO_MENTIONS, guild_id_of, settings_lines

if TYPE_CHECKING:
    from bot.bot import Shiplog


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
        for name, value in settings_lines(summary, self.bot.settings.public_url):
            embed.add_field(name=name, value=value, inline=False)
        embed.set_footer(text="/help lists the commands. Server managers change these with /settings.")
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(About(bot))
