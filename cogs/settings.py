"""/settings: server configuration, for members with Manage Server."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.services import departures, guilds, outbox
from bot.services.rhythm import settings as rhythm
from bot.services.sharing import community as community_page
from bot.services.sharing import pages
from bot.tree import answer_error
from cogs._format import (
    BRAND,
    NO_MENTIONS,
    escape,
    guild_id_of,
    require_manage_guild,
    settings_lines,
    shorten,
    timezone_choices,
)

if TYPE_CHECKING:
    from bot.bot import Shiplog

Purpose = Literal["goals", "celebrations", "accountability", "digest", "github"]
PURPOSE_HELP = {
    "goals": "new and finished goals",
    "celebrations": "merged pull requests, milestones and kudos",
    "accountability": "check-ins and the weekly accountability ping",
    "digest": "the weekly digest",
    "github": "relayed GitHub events",
}
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
Cadence = Literal["weekly", "daily"]
PingWho = Literal["goals", "quiet"]
CADENCE_HELP = {
    "weekly": "a check-in (or merged PR, or finished goal) each week, Monday to Sunday, keeps a streak going",
    "daily": "a check-in (or merged PR, or finished goal) each day keeps a streak going",
}
NEEDED = discord.Permissions(view_channel=True, send_messages=True, embed_links=True, attach_files=True)


def _where(channel_id: int | None, kind: str) -> str:
    """Where a failed message was going: its channel, a member's DMs, or (an action) a role."""
    if channel_id:
        return f"<#{channel_id}>"
    return "DM" if kind.startswith("dm.") else "role"


class RetryFailedButton(discord.ui.DynamicItem[discord.ui.Button], template=r"shiplog:retry-failed"):
    """`/settings show`'s button: give every message that could not be delivered another try."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="Retry failed", emoji="🔁", style=discord.ButtonStyle.primary, custom_id="shiplog:retry-failed"
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RetryFailedButton:
        return cls()

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        # discord.py types this hook for a button of any client: this one only runs under Shiplog.
        bot: Shiplog = interaction.client
        try:
            require_manage_guild(interaction)
            count = await outbox.retry_failed(bot.sessionmaker, guild_id=guild_id_of(interaction), now=bot.now())
        except Exception as exc:
            await answer_error(interaction, exc, "the retry button")
            return
        bot.wake_outbox()
        text = (
            f"🔁 Brought back {count} message{'s' if count != 1 else ''} for another try. "
            "`/settings show` tells if any fail again."
            if count
            else "Nothing to retry: every message was delivered."
        )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Settings(commands.GroupCog, group_name="settings", group_description="Configure Shiplog for this server."):
    """Server settings."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(RetryFailedButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(RetryFailedButton)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        require_manage_guild(interaction)
        return True

    @app_commands.command(name="channel")
    async def channel(
        self,
        interaction: discord.Interaction[Shiplog],
        purpose: Purpose,
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Choose the channel Shiplog posts to for one purpose.

        Parameters
        ----------
        purpose
            What the channel is for.
        channel
            The channel (leave it out to stop posting for this purpose).
        """
        moved = await guilds.set_channel(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            purpose=purpose,
            channel_id=channel.id if channel else None,
            now=self.bot.now(),
        )
        if channel is None:
            text = f"I'll no longer post {PURPOSE_HELP[purpose]}."
        else:
            text = f"I'll post {PURPOSE_HELP[purpose]} in {channel.mention}."
            me = channel.guild.me
            missing = [
                name.replace("_", " ")
                for name, needed in NEEDED
                if needed and me is not None and not getattr(channel.permissions_for(me), name)
            ]
            if missing:
                text += f"\n⚠️ I can't post there yet: I'm missing {', '.join(missing)} in that channel."
        if moved:
            text += (
                f"\n📬 {moved} message{'s' if moved > 1 else ''} I couldn't deliver in the old channel will go here."
            )
            self.bot.wake_outbox()
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="show")
    async def show(self, interaction: discord.Interaction[Shiplog]) -> None:
        """Show this server's Shiplog settings and any messages I could not deliver."""
        settings = await guilds.get_settings(self.bot.sessionmaker, guild_id_of(interaction))
        summary = await guilds.summary(self.bot.sessionmaker, guild_id_of(interaction))
        embed = discord.Embed(title="Shiplog settings", colour=BRAND)
        embed.add_field(
            name="Channels",
            value="\n".join(
                f"**{purpose}**: {f'<#{cid}>' if cid else 'not set'} ({PURPOSE_HELP[purpose]})"
                for purpose, cid in settings.channels.items()
            ),
            inline=False,
        )
        for name, value in settings_lines(summary, self.bot.settings.public_url):
            if name != "Channels":  # shown above, with what each is for
                embed.add_field(name=name, value=value, inline=False)
        if settings.pending_messages:
            embed.add_field(name="Waiting to be posted", value=str(settings.pending_messages), inline=False)
        if settings.failed:
            lines = [
                f"{_where(f.channel_id, f.kind)} · {f.kind} · {escape(shorten(f.error, 150))}"
                + (f" (×{f.count})" if f.count > 1 else "")
                for f in settings.failed
            ]
            embed.add_field(name="⚠️ Could not deliver", value="\n".join(lines)[:1024], inline=False)
            embed.set_footer(text="Fixed the cause (a permission, a channel)? Retry them with the button.")
            view = discord.ui.View(timeout=None)
            view.add_item(RetryFailedButton())
            await interaction.response.send_message(
                embed=embed, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="schedule")
    @app_commands.autocomplete(timezone=timezone_choices)
    async def schedule(
        self,
        interaction: discord.Interaction[Shiplog],
        weekday: Weekday,
        time: app_commands.Range[str, 1, 20],
        timezone: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        """Choose when the weekly accountability ping and digest go out.

        Parameters
        ----------
        weekday
            The day of the week.
        time
            The time of day, 24-hour HH:MM, such as 09:00 or 17:30.
        timezone
            An IANA zone such as Europe/Berlin (start typing to search); leave out to keep the current one.
        """
        guild_id = guild_id_of(interaction)
        change = await rhythm.set_schedule(
            self.bot.sessionmaker, guild_id=guild_id, weekday=weekday, at=time, timezone=timezone, now=self.bot.now()
        )
        self.bot.dispatch("schedule_changed", guild_id)
        when = discord.utils.format_dt(change.next_run, "F")
        text = (
            f"The weekly accountability ping and digest now go out on **{change.schedule.describe()}**. "
            f"Next: {when} ({discord.utils.format_dt(change.next_run, 'R')})."
        )
        if change.unset_channels:
            text += (
                f"\n⚠️ No {' or '.join(change.unset_channels)} channel is set yet: choose one with `/settings channel`."
            )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="radar")
    async def radar(
        self,
        interaction: discord.Interaction[Shiplog],
        enabled: bool | None = None,
        own_repos: bool | None = None,
        review_wait_days: app_commands.Range[int, 1, 90] | None = None,
    ) -> None:
        """Choose how Shiplog watches linked members' pull requests anywhere on GitHub.

        Parameters
        ----------
        enabled
            Celebrate merges in any public repository, found through GitHub's search (on by default).
        own_repos
            Also celebrate merges into a member's own repositories (they always count for streaks).
        review_wait_days
            Days an open PR waits for a first review before its author is nudged (default 7).
        """
        radar = await guilds.set_radar(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            enabled=enabled,
            own_repos=own_repos,
            review_wait_days=review_wait_days,
            now=self.bot.now(),
        )
        lines = [
            "**Radar**: "
            + (
                "on: linked members' merges in any public repository are celebrated."
                if radar.enabled
                else "off: only merges delivered by webhooks are celebrated."
            ),
            "**Own repositories**: "
            + ("celebrated too." if radar.own_repos else "not celebrated (they still count for streaks and stats)."),
            f"**Review-wait nudges** after **{radar.review_wait_days}** days without a review "
            "(for members who chose them with `/me review-nudges`).",
        ]
        await interaction.response.send_message("\n".join(lines), ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="ping")
    async def ping(
        self,
        interaction: discord.Interaction[Shiplog],
        who: PingWho | None = None,
        cap: app_commands.Range[int, 0, 1_000_000] | None = None,
        role: discord.Role | None = None,
        clear_role: bool = False,
    ) -> None:
        """Choose who the weekly accountability ping mentions.

        Parameters
        ----------
        who
            goals: everyone with an open goal (default); quiet: only those with no check-in since the last ping.
        cap
            Mention at most this many members and name the rest as a count (0: no cap).
        role
            A role to mention instead of the members past the cap, such as @accountability.
        clear_role
            Stop mentioning a role past the cap.
        """
        if role is not None and (role.is_default() or role.managed):
            raise UserError(
                "That role can't be pinged for the weekly check-in: pick a normal role (not @everyone or a bot's role)."
            )
        settings = await rhythm.set_ping(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            quiet_only=None if who is None else who == "quiet",
            cap=cap,
            role_id=role.id if role else None,
            clear_role=clear_role,
        )
        lines = [
            "**Mentioned**: "
            + (
                "members with open goals who haven't checked in since the last ping."
                if settings.quiet_only
                else "every member with an open goal (or a streak at risk)."
            ),
            f"**Cap**: at most **{settings.cap:,}** members are mentioned; the rest are named as a count."
            if settings.cap is not None
            else "**Cap**: none: every one of them is mentioned.",
            f"**Role past the cap**: <@&{settings.role_id}>."
            if settings.role_id
            else "**Role past the cap**: none: the ping just says how many more.",
        ]
        if role is not None and settings.cap is None:
            lines.append("⚠️ The role is only mentioned past a cap: set one with `cap`.")
        await interaction.response.send_message("\n".join(lines), ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="cadence")
    async def cadence(self, interaction: discord.Interaction[Shiplog], cadence: Cadence) -> None:
        """Choose whether streaks count weeks or days.

        Parameters
        ----------
        cadence
            weekly: one check-in a week keeps a streak; daily: one a day.
        """
        await rhythm.set_cadence(
            self.bot.sessionmaker, guild_id=guild_id_of(interaction), cadence=cadence, now=self.bot.now()
        )
        await interaction.response.send_message(
            f"Streaks now count **{cadence}**: {CADENCE_HELP[cadence]}.", ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="pages")
    async def pages_setting(
        self, interaction: discord.Interaction[Shiplog], enabled: bool | None = None, community: bool | None = None
    ) -> None:
        """Allow members' public pages, or publish this server's community page (both off by default).

        Parameters
        ----------
        enabled
            True to let members make a page with /me page; False removes every member's page at once.
        community
            True to publish a page of what the server's members merged together; False takes it down at once.
        """
        if enabled is None and community is None:
            raise UserError(
                "Say what to change: `enabled` (members' own pages), `community` (the server's page), or both. "
                "Nothing was changed."
            )
        server_name = interaction.guild.name if interaction.guild is not None else ""
        lines = []
        if community is not None:  # first: it is the one that may refuse (no PUBLIC_URL), before anything changes
            lines.append(await self._community(interaction, community, server_name))
        if enabled is not None:
            lines.insert(0, await self._member_pages(interaction, enabled, server_name))
        await interaction.response.send_message("\n".join(lines), ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def _member_pages(self, interaction: discord.Interaction[Shiplog], enabled: bool, server_name: str) -> str:
        result = await pages.set_server_pages(
            self.bot.sessionmaker, guild_id=guild_id_of(interaction), enabled=enabled, server_name=server_name
        )
        if enabled:
            text = (
                "🌐 Public pages are **on**: members can opt in with `/me page enabled:true` to get a page of "
                "their goals, merged PRs, streak and kudos received, with this server's name on it. "
                "It holds no Discord ids, and turning pages off removes every one of them at once."
            )
            if self.bot.settings.public_url is None:
                text += (
                    "\n⚠️ This Shiplog has no `PUBLIC_URL` yet, so no page can be made until whoever runs it sets "
                    "the address its web server is reached at."
                )
        else:
            text = "Public pages are **off**."
            if result.removed:
                text += (
                    f" I removed {result.removed} member page{'s' if result.removed != 1 else ''}: "
                    "their links now show nothing. If you turn pages back on, members opt in again, with new links."
                )
        return text

    async def _community(self, interaction: discord.Interaction[Shiplog], enabled: bool, server_name: str) -> str:
        public_url = self.bot.settings.public_url
        result = await community_page.set_community(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            enabled=enabled,
            server_name=server_name,
            public_url=public_url,
        )
        if result.url is None:
            return "The community page is **off**: its address now shows nothing. Turn it on again to bring it back."
        return (
            f"🌍 The community page is **on**: {result.url}\n"
            "It shows the merged PRs this server's members shipped (by month, in all, and the top repositories), "
            "first-ever merged PRs and streaks going. It names only members with a public page of their own, "
            "counts everyone else, and shows nothing from private repositories."
        )

    @app_commands.command(name="member-left")
    async def member_left(
        self, interaction: discord.Interaction[Shiplog], member: discord.User, left: bool = True
    ) -> None:
        """Tell me a member has left, so I stop mentioning and messaging them (or that they are back).

        Parameters
        ----------
        member
            The member (if Discord no longer suggests them, paste their user id).
        left
            False if they are back in the server: I mention and message them again.
        """
        guild_id = guild_id_of(interaction)
        name = escape(member.display_name)
        if left and isinstance(member, discord.Member):  # Discord resolved them as one of the server's members
            text = f"{name} is still in this server, so I'll keep mentioning them. Run this again once they have left."
        elif left:
            closed = await departures.member_left(self.bot.sessionmaker, guild_id, member.id, now=self.bot.now())
            if await departures.has_left(self.bot.sessionmaker, guild_id, member.id):
                text = (
                    f"Noted: I'll no longer mention {name} in the weekly ping or send them DMs"
                    + (", and their public page is closed" if closed else "")
                    + ". Their goals and history stay. If they come back, run this with `left:False`."
                )
            else:
                text = f"I have nothing stored for {name} that would mention or message them: nothing to change."
        elif await departures.member_joined(self.bot.sessionmaker, guild_id, member.id):
            text = (
                f"Welcome back to {name}: I'll mention them in the weekly ping and message them again. "
                "Their public page stays closed until they open it with `/me page enabled:true`."
            )
        else:
            text = f"{name} isn't marked as gone: nothing to change."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(Settings(bot))
