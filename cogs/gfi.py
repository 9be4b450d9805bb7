"""/gfi: open good first issues from GitHub's search; for a linked member, where their merged work is first."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.services.github import gfi as for_you
from bot.services.github.api import Issue
from bot.services.github.subscriptions import parse_repo
from bot.services.wording import plural
from cogs._format import BRAND, NO_MENTIONS, escape, github_link, guild_id_of, join_lines, shorten

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
        if name is None:
            work = await for_you.merged_work(
                self.bot.sessionmaker, guild_id=guild_id_of(interaction), user_id=interaction.user.id
            )
            if work:
                await self._for_you(interaction, work, language=language, label=label)
                return
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
        embed = discord.Embed(
            title=shorten(f"Good first issues{where}", 256),
            description=join_lines([issue_line(i) for i in issues]),
            colour=BRAND,
        )
        embed.set_footer(text=FOOTER)
        await interaction.followup.send(embed=embed, allowed_mentions=NO_MENTIONS)

    async def _for_you(
        self,
        interaction: discord.Interaction[Shiplog],
        work: list[for_you.MergedRepo],
        *,
        language: str | None,
        label: str | None,
    ) -> None:
        """Answer a member with merged work: issues in their repositories, then in their languages, to them alone."""
        await interaction.response.defer(thinking=True, ephemeral=True)
        found = await for_you.find_for_you(self.bot.github, work, language=language, label=label)
        if not found.any:
            where = " or ".join(filter(None, [repo_names(found.repos), language_names(found.languages)]))
            where = where or "the repositories and languages of your merged work"
            await interaction.followup.send(
                f"No open, unassigned issues labelled **{escape(label or 'good first issue')}** in {where} "
                "right now. Try `/gfi language:...` or another label!",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        embed = discord.Embed(
            title="Good first issues for you", description=join_lines(for_you_lines(found)), colour=BRAND
        )
        embed.set_footer(text=FOOTER)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)


FOOTER = "From GitHub search, refreshed every few minutes. Comment on an issue before starting!"


def issue_line(issue: Issue) -> str:
    """One issue: its link, its title and how many comments it has."""
    return f"{github_link(f'{escape(issue.repo)}#{issue.number}', issue.url)} {escape(shorten(issue.title, 120))}" + (
        f" · 💬 {issue.comments}" if issue.comments else ""
    )


def path_words(found: for_you.RepoIssues) -> str:
    """Say how far the member is on the path to maintainer in a repository."""
    have = f"you have {plural(found.merges, 'merged PR')} here"
    if found.to_maintainer == 0:
        return f"{have}: you're on the path to maintainer"
    return f"{have}: {found.to_maintainer} more to the path to maintainer"


def repo_names(repos: list[for_you.RepoIssues]) -> str:
    return ", ".join(f"**{escape(r.repo)}**" for r in repos)


def language_names(languages: list[str]) -> str:
    return ", ".join(f"`{escape(language)}`" for language in languages)


def for_you_lines(found: for_you.ForYou) -> list[str]:
    """The repositories where the member merged, each with its mark and issues, then the issues in their languages."""
    lines: list[str] = []
    for r in found.repos:
        if r.issues:
            lines += ["", f"**{escape(r.repo)}**: {path_words(r)}", *(issue_line(i) for i in r.issues)]
    quiet = [r for r in found.repos if not r.issues]
    if quiet:
        lines += ["", f"Nothing open right now in {repo_names(quiet)}."]
    if found.by_language:
        lines += ["", f"**In {language_names(found.languages)}**", *(issue_line(i) for i in found.by_language)]
    if found.cut_short:
        lines += ["", f"Issues in your languages must wait: {escape(found.cut_short)}"]
    return lines[1:]


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(GoodFirstIssues(bot))
