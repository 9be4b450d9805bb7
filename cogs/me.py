"""/me: a member's own preferences."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import discord
from discord import app_commands
from discord.ext import commands

from bot.services import guilds
from bot.services.dates import search_timezones
from cogs._format import NO_MENTIONS, guild_id_of

if TYPE_CHECKING:
    from bot.bot import Shiplog


@app_commands.guild_only()
class Me(commands.GroupCog, group_name="me", group_description="Your own Shiplog settings."):
    """A member's own settings."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot

    async def tz_autocomplete(
        self, interaction: discord.Interaction[Shiplog], current: str
    ) -> list[app_commands.Choice[str]]:
        """Offer IANA zone names matching what the member typed."""
        return [app_commands.Choice(name=name, value=name) for name in search_timezones(current, limit=25)]

    @app_commands.command(name="timezone")
    @app_commands.autocomplete(tz=tz_autocomplete)
    async def timezone(self, interaction: discord.Interaction[Shiplog], tz: app_commands.Range[str, 1, 64]) -> None:
        """Set your time zone, used for due dates and streaks.

        Parameters
        ----------
        tz
            An IANA time zone such as Europe/Berlin or America/New_York (start typing to search).
        """
        name = await guilds.set_timezone(
            self.bot.sessionmaker, guild_id=guild_id_of(interaction), user_id=interaction.user.id, name=tz
        )
        local = self.bot.now().astimezone(ZoneInfo(name))
        await interaction.response.send_message(
            f"Your time zone is now **{name}** (it's {local:%H:%M} on {local:%A} there). "
            "Due dates and streaks follow it.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(Me(bot))
