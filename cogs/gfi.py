"""/gfi: open good first issues from GitHub's search."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.services.github.subscriptions import parse_repo
from cogs._format import BRAND, NO_MENTIONS, escape, github_link, join_lines, shorten

if TYPE_CHECKING:
    from bot.bot import Shiplog


class GoodFirstIssues(commands.Cog):
    """Finding a first contribution."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot

    @app_commands.command(name="gfi")
    @app_commands.guild_only()
    async def gfi(
        self,
        interaction: discord.Interaction[Shiplog],
        language: app_commands.Range[str, 1, 30] | None = None,
        label: app_commands.Range[str, 1, 50] | None = None,
        repo: app_commands.Range[str, 3, 200] | None = None,
    ) -> None:
        """Find open good first issues to start contributing.

        Parameters
        ----------
        language
            A programming language, like python or rust.
        label
            Look for this label instead of "good first issue" (for example "help wanted").
        repo
            Only this repository (owner/name).
        """
        name = parse_repo(repo) if repo else None
        await interaction.response.defer(thinking=True)
        issues = await self.bot.github.good_first_issues(language=language, label=label, repo=name, limit=10)
        where = (f" in `{escape(language)}`" if language else "") + (f" in {escape(name)}" if name else "")
        if not issues:
            await interaction.followup.send(
                f"No open, unassigned issues labelled **{escape(label or 'good first issue')}**{where} right now. "
                "Try another language or label!",
                allowed_mentions=NO_MENTIONS,
            )
            return
        lines = [
            f"{github_link(f'{escape(i.repo)}#{i.number}', i.url)} {escape(shorten(i.title, 120))}"
            + (f" · 💬 {i.comments}" if i.comments else "")
            for i in issues
        ]
        embed = discord.Embed(
            title=shorten(f"Good first issues{where}", 256), description=join_lines(lines), colour=BRAND
        )
        embed.set_footer(text="From GitHub search, refreshed every few minutes. Comment on an issue before starting!")
        await interaction.followup.send(embed=embed, allowed_mentions=NO_MENTIONS)


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(GoodFirstIssues(bot))
