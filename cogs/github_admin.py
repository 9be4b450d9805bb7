"""/github-admin: the GitHub commands for members with Manage Server (links, relays, roles, the radar)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.services.github import links as github_links
from bot.services.github import radar_status, subscriptions
from cogs._format import BRAND, NO_MENTIONS, escape, github_link, guild_id_of, join_lines, require_manage_guild

if TYPE_CHECKING:
    from bot.bot import Shiplog

Login = app_commands.Range[str, 1, 100]


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    return discord.utils.format_dt(when, "R") if abs((now - when).total_seconds()) > 1 else "just now"


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class GitHubAdmin(
    commands.GroupCog, group_name="github-admin", group_description="Manage GitHub links, relays and roles."
):
    """GitHub commands for server managers: Discord hides them from other members."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        # default_permissions only hides the group: an admin can re-grant it to anyone in the
        # server's Integrations settings, so every subcommand still checks for itself.
        require_manage_guild(interaction)
        return True

    @app_commands.command(name="link-member")
    async def link_member(
        self, interaction: discord.Interaction[Shiplog], member: discord.Member, username: Login
    ) -> None:
        """Link a member's GitHub account without a code.

        Parameters
        ----------
        member
            The member to link.
        username
            Their GitHub login.
        """
        await interaction.response.defer(ephemeral=True, thinking=True)
        account = await github_links.admin_link(
            self.bot.sessionmaker,
            self.bot.github,
            guild_id=guild_id_of(interaction),
            user_id=member.id,
            login=username,
            admin_id=interaction.user.id,
            now=self.bot.now(),
        )
        linked = github_link(escape(account.login), account.url, preview=False)
        await interaction.followup.send(
            f"✅ {member.mention} is linked to {linked}. Shiplog now watches "
            "their public pull requests on GitHub to celebrate merges in any project; they can stop it with "
            "`/github unlink`.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
        self.bot.wake_radar()

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction[Shiplog]) -> None:
        """Show how the radar is doing: linked members, the last pass, the rate limit."""
        info = await radar_status.status(self.bot.sessionmaker, guild_id_of(interaction))
        now = self.bot.now()
        radar = self.bot.radar
        if radar is not None and not self.bot.runs_fleet_jobs:
            await radar.load_state()  # the radar runs in another process of the fleet: read what it stored
        state = radar.state if radar else None
        lines = [
            f"**Radar**: {'on' if info['radar_enabled'] else 'off'} in this server "
            f"(`/settings radar`); every {self.bot.settings.github_poll_seconds} s.",
            f"**Linked members**: {info['linked']}"
            + (f" ({len(info['importing'])} still importing their history)" if info["importing"] else ""),
        ]
        if state is not None:
            mode = (
                "batched searches (up to 6 members each)"
                if state.mode == "batched"
                else "⚠️ one member per search (the batched query failed its self-check)"
            )
            if self.bot.github.limits.has_token:
                lines.append(
                    "**Mode**: GitHub's GraphQL API (with the token): 100 members a query; "
                    "open PRs are swept with searches."
                )
            else:
                lines.append("**Mode**: GitHub's search API (no token).")
            lines.append(f"**Query**: {mode}; {escape(state.mode_detail)}.")
            last = state.last_pass
            if radar is not None and radar.running is not None:
                lines.append(f"**Pass**: running since {_ago(datetime.fromisoformat(radar.running.started), now)}.")
            if last:
                ended = datetime.fromisoformat(last["finished"]) if last.get("finished") else None
                lines.append(
                    f"**Last pass** (all servers): {_ago(ended, now)}, took {last.get('seconds', 0):.0f} s; checked "
                    f"{last.get('checked', 0)} of {last.get('members', 0)} members with {last.get('searches', 0)} "
                    f"searches, {last.get('merges', 0)} merges seen, {last.get('celebrations', 0)} celebrated."
                    + (
                        f" GraphQL: {last.get('queries', 0)} queries, {last.get('points', 0)} points"
                        + (f", {last['points_left']} left this hour." if last.get("points_left") is not None else ".")
                        if last.get("mode") == "graphql"
                        else ""
                    )
                    + (f" Stopped early: {escape(last['stopped_because'])}" if last.get("stopped_because") else "")
                )
            else:
                lines.append("**Last pass**: none yet.")
        limits = self.bot.github.limits
        github_now = self.bot.github.now()  # a reset is in GitHub's time, not the bot's clock
        for resource in ("graphql", "search", "core"):
            bucket = limits.buckets[resource]
            if bucket.remaining is not None:
                if bucket.reset_at is None:
                    reset = ""
                elif bucket.reset_at > github_now:
                    reset = f", resets {_ago(bucket.reset_at, github_now)}"
                else:  # the figure is from the last call, and the budget has been reset since
                    reset = f", as of the last call (reset {_ago(bucket.reset_at, github_now)})"
                lines.append(f"**GitHub {resource} budget**: {bucket.remaining} of {bucket.limit} left{reset}.")
        lines.append(
            "**Token**: " + ("set (30 searches a minute)" if limits.has_token else "none (10 searches a minute)")
        )
        unknown = set(state.unknown_logins if state else [])
        gone = [f"<@{u}> ({escape(login)})" for u, login in info["gone"]]
        gone += [f"<@{u}> ({escape(login)})" for u, login in info["no_id"] if login in unknown]
        if gone:
            lines.append("**GitHub no longer knows (or won't search)**: " + ", ".join(gone))
        embed = discord.Embed(title="GitHub radar", colour=BRAND, description=join_lines(lines))
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="subscribe")
    async def subscribe(
        self,
        interaction: discord.Interaction[Shiplog],
        repo: app_commands.Range[str, 3, 200],
        channel: discord.TextChannel,
        events: app_commands.Range[str, 1, 100] | None = None,
        labels: app_commands.Range[str, 1, 500] | None = None,
        include_bots: bool = False,
    ) -> None:
        """Relay a repository's events into a channel.

        Parameters
        ----------
        repo
            The repository, as owner/name.
        channel
            Where to post.
        events
            Comma list of pulls, issues, releases, good-first-issues (all four if left out).
        labels
            Only issues and PRs with one of these labels (comma list).
        include_bots
            Also relay events by bots such as dependabot (off by default).
        """
        await interaction.response.defer(ephemeral=True, thinking=True)
        sub = await subscriptions.subscribe(
            self.bot.sessionmaker,
            self.bot.github,
            guild_id=guild_id_of(interaction),
            repo=repo,
            channel_id=channel.id,
            events=events,
            labels=labels,
            include_bots=include_bots,
            by=interaction.user.id,
        )
        extra = f", labels: {escape(', '.join(sub.labels))}" if sub.labels else ""
        await interaction.followup.send(
            f"📡 Relaying **{escape(sub.repo)}** ({', '.join(sub.events)}{extra}) into {channel.mention}.\n"
            "Point the repository's webhook (Settings → Webhooks) at this bot's `/github/webhook` URL, "
            "content type `application/json`, with the server's webhook secret.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="unsubscribe")
    async def unsubscribe(
        self,
        interaction: discord.Interaction[Shiplog],
        repo: app_commands.Range[str, 3, 200],
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Stop relaying a repository.

        Parameters
        ----------
        repo
            The repository, as owner/name.
        channel
            Only this channel (every channel if left out).
        """
        removed = await subscriptions.unsubscribe(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            repo=repo,
            channel_id=channel.id if channel else None,
        )
        await interaction.response.send_message(
            f"Stopped relaying `{escape(subscriptions.parse_repo(repo).lower())}` ({removed} subscription"
            f"{'s' if removed > 1 else ''}).",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="subscriptions")
    async def list_subscriptions(self, interaction: discord.Interaction[Shiplog]) -> None:
        """List the repositories relayed in this server."""
        subs = await subscriptions.list_subscriptions(self.bot.sessionmaker, guild_id=guild_id_of(interaction))
        if not subs:
            await interaction.response.send_message(
                "No subscriptions yet: `/github-admin subscribe repo:owner/name channel:#channel`.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        lines = [
            f"**{escape(s.repo)}** → <#{s.channel_id}> · {', '.join(s.events)}"
            + (f" · labels: {escape(', '.join(s.labels))}" if s.labels else "")
            + (" · bots too" if s.include_bots else "")
            for s in subs
        ]
        embed = discord.Embed(title="GitHub subscriptions", description=join_lines(lines), colour=BRAND)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="milestone-role")
    @app_commands.choices(
        milestone=[app_commands.Choice(name=label, value=key) for key, label in subscriptions.MILESTONES.items()]
    )
    async def milestone_role(
        self, interaction: discord.Interaction[Shiplog], milestone: str, role: discord.Role | None = None
    ) -> None:
        """Give members a role when they reach a milestone.

        Parameters
        ----------
        milestone
            The milestone.
        role
            The role to give (leave it out to stop giving one).
        """
        if role is not None and (role.is_default() or role.managed):
            raise UserError("That role can't be given to members: pick a normal role (not @everyone or a bot's role).")
        before = await subscriptions.set_milestone_role(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            milestone=milestone,
            role_id=role.id if role else None,
        )
        label = subscriptions.MILESTONES[milestone]
        if role is None:
            text = (
                f"Members who reach {label} no longer get <@&{before}>."
                if before
                else f"No role was set for reaching {label}: nothing to change."
            )
        else:
            text = f"Members who reach {label} get {role.mention}."
            me = interaction.guild.me if interaction.guild else None
            if me is not None and (not me.guild_permissions.manage_roles or role >= me.top_role):
                text += "\n⚠️ I can't give that role yet: I need Manage Roles and a role above it."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(GitHubAdmin(bot))
