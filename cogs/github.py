"""/github: members link their account and see their PRs; merge celebrations, relays and milestone roles.

The admin commands that set relays and roles up live in cogs/github_admin.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.services import messages
from bot.services.github import events as github_events
from bot.services.github import history, mentors, nudges
from bot.services.github import links as github_links
from bot.services.github.events import ordinal
from bot.services.github.urls import safe_url
from bot.services.wording import noun, plural
from bot.tree import answer_error
from cogs._format import (
    BRAND,
    EMBED_DESCRIPTION_LIMIT,
    NO_MENTIONS,
    escape,
    github_link,
    guild_id_of,
    join_lines,
    mention_only,
    shorten,
)
from cogs._linking import HOW_TO_LINK, DeviceLinks, linked_text
from cogs._share import send_drafts

if TYPE_CHECKING:
    from bot.bot import Shiplog

log = logging.getLogger(__name__)

Login = app_commands.Range[str, 1, 100]
KIND_WORDS = {
    ("pulls", "opened"): ("PR opened", discord.Colour.from_rgb(35, 134, 54)),
    ("pulls", "merged"): ("PR merged", discord.Colour.from_rgb(130, 80, 223)),
    ("issues", "opened"): ("Issue opened", discord.Colour.from_rgb(26, 127, 55)),
    ("good-first-issues", "opened"): ("Good first issue", discord.Colour.from_rgb(112, 87, 255)),
    ("good-first-issues", "labeled"): ("Good first issue", discord.Colour.from_rgb(112, 87, 255)),
    ("releases", "published"): ("Release", discord.Colour.from_rgb(9, 105, 218)),
}
EMBED_TOTAL_LIMIT = 6000

WATCH_NOTE = (
    "Shiplog now watches your **public** pull requests on GitHub (merged and open), so merges in any "
    "project are celebrated here, with your true count. `/github unlink` stops it at once."
)


class ShareButton(discord.ui.DynamicItem[discord.ui.Button], template=r"shiplog:share:(?P<id>[0-9]{1,19})"):
    """The celebration's button: the member gets a ready-to-copy #BuildInPublic post."""

    def __init__(self, merged_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Share it (#BuildInPublic)",
                emoji="📣",
                style=discord.ButtonStyle.secondary,
                custom_id=f"shiplog:share:{merged_id}",
            )
        )
        self.merged_id = merged_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ShareButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        # discord.py types a callback for any client; this button is only ever added by Shiplog.
        # discord.py only logs a dynamic item's errors: answer them here, as the tree does for commands.
        try:
            await self._share(interaction)
        except Exception as exc:
            await answer_error(interaction, exc, "the share button")

    async def _share(self, interaction: discord.Interaction[Shiplog]) -> None:
        post = await github_events.share_post(
            interaction.client.sessionmaker, guild_id=guild_id_of(interaction), merged_id=self.merged_id
        )
        await send_drafts(interaction, post.user_id, post.drafts)


def render_merged(merged: messages.Merged) -> dict[str, Any]:
    """Draw a merge celebration."""
    # `repo` is lowercased for matching; `repo_name` is as GitHub spells it (rows queued before it had
    # none: the contract reads them as `repo`).
    user_id, repo, number = merged.user_id, merged.repo_name or merged.repo, merged.number
    total, in_repo = merged.total, merged.in_repo
    if not merged.known:
        # The member's history isn't imported yet (GitHub was away): claim no "first".
        which = f"Their {ordinal(total)} merged PR celebrated here."
    elif not merged.exact:
        which = f"One more for their **{total}+** merged PRs."
    elif total == 1:
        which = "🥇 Their **first merged pull request**! Welcome to open source."
    elif in_repo == 1:
        which = f"Their first PR in **{escape(repo)}**, and their {ordinal(total)} merged PR overall."
    else:
        which = f"Their **{ordinal(total)}** merged PR ({ordinal(in_repo)} in {escape(repo)})."
    lines = [f"<@{user_id}> got {github_link(f'{escape(repo)}#{number}', merged.url)} merged!", which]
    for key in merged.milestones:
        kind, _, value = key.partition(":")
        if kind == "repo":
            lines.append(f"🛤️ {ordinal(int(value))} in {escape(repo)}: on the path to maintainer!")
        elif value != "1":
            lines.append(f"🏆 Milestone: {value} merged PRs!")
    finished = [f"`#{g.number}` {escape(shorten(g.text, 150))}" for g in merged.goals]
    if len(finished) == 1:
        lines.append(f"✅ Goal finished: {finished[0]}")
    elif finished:
        lines += ["✅ Goals finished:", *finished]
    embed = discord.Embed(
        title=shorten(f"🎉 {escape(merged.title)}", 256),
        url=safe_url(merged.url),
        colour=BRAND,
        description=join_lines(lines),
    )
    embed.set_footer(text=f"{repo} · #{number}"[:2048])
    view = discord.ui.View(timeout=None)
    if merged.merged_id and not merged.private:  # a private repository's merge is not for posting
        view.add_item(ShareButton(merged.merged_id))
    return {
        "content": f"🎉 Congratulations <@{user_id}>!",
        "embed": embed,
        "view": view,
        "allowed_mentions": mention_only(user_id),
    }


# All a celebration says once its PR is labelled spam or invalid: no name, no link, no count.
WITHDRAWN_TEXT = "This pull request was labelled spam or invalid, so it no longer counts."


def render_merge_withdrawn(withdrawn: messages.MergeWithdrawn) -> dict[str, Any]:
    """Draw what a celebration becomes when its PR no longer counts (drawn over it by a DiscordEdit)."""
    return {"content": WITHDRAWN_TEXT, "embeds": [], "view": None, "allowed_mentions": NO_MENTIONS}


def relay_line(item: messages.Relay) -> str:
    """Describe one relayed event in a line."""
    words, _ = KIND_WORDS.get((item.event, item.action), ("Event", BRAND))
    ref = f"{item.repo}#{item.number}" if item.number else item.repo
    if item.event == "releases":
        ref = f"{item.repo} {item.tag or ''}".strip()
    by = f" by {escape(item.author)}" if item.author else ""
    title = escape(shorten(item.title, 120))
    return f"**{words}** {github_link(escape(ref), item.url)}: {title}{by}"


def render_relay(relays: messages.Relay | Sequence[messages.Relay]) -> dict[str, Any]:
    """Draw relayed GitHub events: one compact embed, or one summary for a burst (a fold)."""
    items = [relays] if isinstance(relays, messages.Relay) else list(relays)
    if len(items) == 1:
        item = items[0]
        words, colour = KIND_WORDS.get((item.event, item.action), ("Event", BRAND))
        embed = discord.Embed(
            title=shorten(f"[{item.repo}] {words}: {escape(item.title)}", 256),
            url=safe_url(item.url),
            colour=colour,
        )
        if item.author:
            embed.set_author(name=shorten(item.author, 256))
        if item.labels:
            embed.add_field(name="Labels", value=shorten(", ".join(escape(x) for x in item.labels), 1024))
        return {"embed": embed}
    lines = [relay_line(item) for item in items]
    used = fitting(lines, EMBED_DESCRIPTION_LIMIT)
    shown = items[:used]
    repos = sorted({item.repo for item in shown})
    title = f"{len(shown)} GitHub events in " + (repos[0] if len(repos) == 1 else f"{len(repos)} repositories")
    embed = discord.Embed(title=shorten(title, 256), colour=BRAND, description="\n".join(lines[:used]))
    # The rest of the burst goes out in the next message(s): every event is named.
    return {"embed": embed, "used": used}


def fitting(lines: list[str], limit: int) -> int:
    """Return how many of `lines`, joined by newlines, fit in `limit` characters (at least one)."""
    used, total = 0, -1
    for line in lines:
        total += len(line) + 1
        if total > limit and used:
            break
        used += 1
    return used


def review_nudge_text(guild_name: str, prs: Sequence[messages.NudgedPR]) -> str:
    """Write the review-wait DM: each waiting PR with a polite follow-up to copy."""
    lines = [f"⏳ Some of your pull requests are waiting for a first review (from **{escape(guild_name)}**):"]
    for pr in prs:
        lines.append(
            f"\n**{github_link(escape(pr.ref), pr.url, preview=False)}** "
            f"{escape(shorten(pr.title, 100))}: open {pr.days} days. "
            f"A polite follow-up you can copy:\n```\n{pr.text.replace('```', '')}\n```"
        )
    lines.append("-# `/me review-nudges` in the server changes or stops these messages.")
    return shorten("\n".join(lines), 2000)


MENTORS_SHOWN = 10  # the most merges first; the rest are counted with the members who did not opt in


def mentor_line(mentor: mentors.Mentor) -> str:
    """One opted-in member for /github who-knows: their merges there, the date of the last one, their note."""
    line = (
        f"<@{mentor.user_id}> · **{plural(mentor.merges, 'merged PR')}**, "
        f"the last {discord.utils.format_dt(mentor.last_merged_at, 'D')}"
    )
    return line + (f" · “{escape(mentor.note)}”" if mentor.note else "")


def more_members(count: int) -> str:
    """Say how many more members merged in the repository (not named: they did not opt in)."""
    return f"and {plural(count, 'more member')} {noun(count, 'has', 'have')} merged PRs here"


def who_knows_text(people: mentors.RepoPeople, shown_repo: str) -> tuple[str, list[str]]:
    """Return the reply's first line and its mentor lines (none when nobody opted in)."""
    repo = escape(shown_repo)
    if not people.anyone:
        return (
            f"Nobody here has merged a PR in **{repo}** yet, so there's nobody to ask for now. Why not be the "
            f"first? `/gfi repo:{shown_repo}` finds good first issues there.",
            [],
        )
    named = people.mentors[:MENTORS_SHOWN]
    more = people.others + len(people.mentors) - len(named)
    if not named:
        has = noun(more, "has", "have")
        return (
            f"{plural(more, 'member')} {has} merged PRs in **{repo}**, but none of them has offered to help yet. "
            "Members offer with `/me mentor`.",
            [],
        )
    lines = [mentor_line(m) for m in named]
    if more:
        lines.append(more_members(more) + ".")
    return f"🤝 Who can help in **{repo}**: members who merged PRs there and offered to help.", lines


@app_commands.guild_only()
class GitHub(
    commands.GroupCog, group_name="github", group_description="Link your GitHub account and see merged pull requests."
):
    """GitHub integration."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot
        bot.renderers[messages.Merged.KIND] = render_merged
        bot.renderers[messages.MergeWithdrawn.KIND] = render_merge_withdrawn
        bot.renderers[messages.Relay.KIND] = render_relay
        bot.actions[messages.RoleGrant.KIND] = self.grant_role
        bot.actions[messages.ReviewNudge.KIND] = self.send_review_nudge
        self.device_links = DeviceLinks(bot, WATCH_NOTE)  # /github link in one step (cogs/_linking.py)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ShareButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ShareButton)
        await self.device_links.stop()

    async def grant_role(self, guild_id: int | None, grant: messages.RoleGrant, nonce: str) -> None:
        """Give a member a milestone role (an outbox action)."""
        await self.bot.http.add_role(guild_id or 0, grant.user_id, grant.role_id, reason=grant.reason)

    async def send_review_nudge(self, guild_id: int | None, nudge: messages.ReviewNudge, nonce: str) -> None:
        """DM a member about their PRs waiting for review (an outbox action)."""
        guild = self.bot.get_guild(guild_id) if guild_id is not None else None
        channel = await self.bot.create_dm(discord.Object(nudge.user_id))
        await channel.send(
            review_nudge_text(guild.name if guild else "your server", nudge.prs),
            allowed_mentions=NO_MENTIONS,
            nonce=nonce,
        )

    # Linking -----------------------------------------------------------------------------------

    @app_commands.command(name="link")
    async def link(self, interaction: discord.Interaction[Shiplog], username: Login | None = None) -> None:
        """Link your GitHub account: approve it on GitHub, or show a code on your profile.

        Parameters
        ----------
        username
            Your GitHub login, like octocat, to link with a code in your bio (leave out to approve on GitHub).
        """
        if username is None:
            if self.bot.device_flow is None:
                raise UserError(HOW_TO_LINK)
            await self.device_links.start(interaction, self.bot.device_flow)
            return
        challenge = await github_links.start_link(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            user_id=interaction.user.id,
            login=username,
            now=self.bot.now(),
        )
        await interaction.response.send_message(
            f"To prove **{escape(challenge.login)}** is you, put this code in your GitHub profile bio "
            f"(github.com/settings/profile) or in a public gist:\n```\n{challenge.code}\n```"
            f"Then run `/github verify` (the code works until {discord.utils.format_dt(challenge.expires_at, 't')}). "
            "You can remove it once you're verified.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="verify")
    async def verify(self, interaction: discord.Interaction[Shiplog]) -> None:
        """Check the code on your GitHub profile and finish linking."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        account = await github_links.verify_link(
            self.bot.sessionmaker,
            self.bot.github,
            guild_id=guild_id_of(interaction),
            user_id=interaction.user.id,
            now=self.bot.now(),
        )
        await interaction.followup.send(
            linked_text(account, WATCH_NOTE),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
        self.bot.wake_radar()

    @app_commands.command(name="unlink")
    async def unlink(self, interaction: discord.Interaction[Shiplog]) -> None:
        """Unlink your GitHub account."""
        account = await github_links.unlink(
            self.bot.sessionmaker, guild_id=guild_id_of(interaction), user_id=interaction.user.id
        )
        await interaction.response.send_message(
            f"Unlinked from {escape(account.login)}: Shiplog no longer watches your pull requests. "
            "Your past merges here stay counted.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="whois")
    async def whois(self, interaction: discord.Interaction[Shiplog], member: discord.Member) -> None:
        """Show which GitHub account a member linked.

        Parameters
        ----------
        member
            The member to look up.
        """
        account = await github_links.whois(self.bot.sessionmaker, guild_id=guild_id_of(interaction), user_id=member.id)
        text = (
            f"{member.mention} is {github_link(escape(account.login), account.url, preview=False)} on GitHub."
            if account
            else f"{member.mention} hasn't linked a GitHub account."
        )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def merged_repo_autocomplete(
        self, interaction: discord.Interaction[Shiplog], current: str
    ) -> list[app_commands.Choice[str]]:
        """Offer the public repositories the server's members have merged in."""
        repos = await mentors.merged_repos(self.bot.sessionmaker, guild_id=guild_id_of(interaction), typed=current)
        return [app_commands.Choice(name=repo, value=repo) for repo in repos if len(repo) <= 100]

    @app_commands.command(name="who-knows")
    @app_commands.autocomplete(repo=merged_repo_autocomplete)
    async def who_knows(self, interaction: discord.Interaction[Shiplog], repo: app_commands.Range[str, 3, 300]) -> None:
        """See who here has merged PRs in a repository and offers to help there.

        Parameters
        ----------
        repo
            The repository, as owner/name or a GitHub address (start typing to pick one members merged in).
        """
        name = mentors.parse_repo(repo)
        people = await mentors.who_knows(self.bot.sessionmaker, guild_id=guild_id_of(interaction), repo=name)
        intro, lines = who_knows_text(people, name)
        embed = None
        if lines:
            embed = discord.Embed(description=join_lines(lines), colour=BRAND)
            embed.set_footer(
                text="Counted from every merged PR Shiplog knows, public repositories only. Offer: /me mentor"
            )
        await interaction.response.send_message(
            intro, embed=embed or discord.utils.MISSING, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="prs")
    async def prs(self, interaction: discord.Interaction[Shiplog], member: discord.Member | None = None) -> None:
        """Show a member's merged PRs (their whole history), top repositories and open PRs.

        Parameters
        ----------
        member
            Whose PRs (yours if left out).
        """
        target = member or interaction.user
        summary = await history.summary(
            self.bot.sessionmaker, guild_id=guild_id_of(interaction), user_id=target.id, now=self.bot.now()
        )
        mine = target.id == interaction.user.id
        if summary is None:
            text = (
                "You haven't linked a GitHub account: `/github link username:<your login>`."
                if mine
                else f"{target.mention} hasn't linked a GitHub account."
            )
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        if not summary.known:
            await interaction.response.send_message(
                f"{target.mention} is **{escape(summary.login)}** on GitHub. I'm still reading their merged PRs; "
                "try again in a few minutes.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        count = f"{summary.total}+" if not summary.exact else str(summary.total)
        lines = [f"**{count}** merged pull request{'' if summary.total == 1 else 's'}"]
        if summary.first_merged_at is not None:
            lines[0] += f", the first {discord.utils.format_dt(summary.first_merged_at, 'D')}"
        embed = discord.Embed(
            title=shorten(f"{summary.login} on GitHub", 256),
            url=safe_url(f"https://github.com/{summary.login}"),
            colour=BRAND,
            description=join_lines(lines),
        )
        if summary.repos:
            embed.add_field(
                name="Repositories",
                value=shorten("\n".join(f"{escape(repo)}: **{n}**" for repo, n in summary.repos), 1024),
                inline=False,
            )
        if summary.open_prs:
            open_lines = [
                f"{github_link(f'{escape(pr.repo)}#{pr.number}', pr.url, preview=False)} "
                f"{escape(shorten(pr.title, 80))} · {pr.days_open} days"
                + (" · ⏳ no review yet" if pr.unreviewed else "")
                for pr in summary.open_prs[:10]
            ]
            embed.add_field(name="Open pull requests", value=shorten("\n".join(open_lines), 1024), inline=False)
        waiting = [pr for pr in summary.open_prs if pr.unreviewed and pr.days_open >= 1]
        if mine and waiting:
            oldest = waiting[0]
            text = nudges.follow_up(
                nudges.WaitingPR(oldest.repo, oldest.number, oldest.title, oldest.url, oldest.days_open)
            )
            embed.add_field(
                name=f"A polite follow-up for {shorten(oldest.repo, 100)}#{oldest.number}",
                value=f"```\n{text.replace('```', '')}\n```",
                inline=False,
            )
        embed.set_footer(text="Open PRs are checked every few hours. Counts cover every public repository.")
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(GitHub(bot))
