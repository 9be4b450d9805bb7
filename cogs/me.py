"""/me: a member's own preferences."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import discord
from discord import app_commands
from discord.ext import commands

from bot.services import guilds, messages, privacy
from bot.services.github import mentors, nudges
from bot.services.rhythm import checkins
from bot.services.rhythm.settings import set_reminders, set_streak_dms
from bot.services.sharing import pages, posts, recap
from bot.tree import answer_error
from cogs._format import NO_MENTIONS, escape, guild_id_of, share_embeds, streak_file, timezone_choices

if TYPE_CHECKING:
    from bot.bot import Shiplog

NudgeMode = Literal["off", "ping", "dm"]
Week = Literal["this", "last"]
# How long /me forget waits to tell how the removal of the member's messages went.
CLEANUP_WAIT = 10.0


@app_commands.guild_only()
class Me(commands.GroupCog, group_name="me", group_description="Your own Shiplog settings."):
    """A member's own settings."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot
        bot.actions[messages.RecapDM.KIND] = self.send_recap_dm

    async def send_recap_dm(self, guild_id: int | None, dm: messages.RecapDM, nonce: str) -> None:
        """DM a member their weekly recap (an outbox action, queued with the digest)."""
        guild = self.bot.get_guild(guild_id) if guild_id is not None else None
        channel = await self.bot.create_dm(discord.Object(dm.user_id))
        where = f"in **{guild.name}**" if guild else ""
        intro = (
            f"🌱 A quieter week {where} (digest to digest), and that's fine. Here's a post if you want to share "
            "where you're heading:"
            if dm.quiet
            else f"📅 Your week {where}, digest to digest, ready to post:"
        )
        await channel.send(
            " ".join(intro.split()), embeds=share_embeds(dict(dm.drafts)), allowed_mentions=NO_MENTIONS, nonce=nonce
        )

    @app_commands.command(name="recap")
    async def recap(self, interaction: discord.Interaction[Shiplog], week: Week = "this") -> None:
        """Get a ready-to-post recap of your week: PRs, goals, check-ins, streak and kudos.

        Parameters
        ----------
        week
            This week so far (since the last digest), or the week the last digest showed.
        """
        guild_id = guild_id_of(interaction)
        summary = await recap.member_week(
            self.bot.sessionmaker,
            guild_id=guild_id,
            user_id=interaction.user.id,
            now=self.bot.now(),
            weeks_back=0 if week == "this" else 1,
        )
        # The picture goes with drafts meant for outside Discord: drawn as it may be published.
        picture = await posts.public_streak_picture(
            self.bot.sessionmaker, guild_id=guild_id, user_id=interaction.user.id, now=self.bot.now()
        )
        # The week the server's digest counts (digest to digest), shown in the member's own time zone.
        start = discord.utils.format_dt(summary.start, "f")
        days = (
            f"since the digest of {start}"
            if week == "this"
            else f"digest to digest, {start} to {discord.utils.format_dt(summary.end, 'f')}"
        )
        intro = (
            f"🌱 Your week {days}: a quieter week, and that's fine. A post about what's next:"
            if summary.quiet
            else f"📅 Your week {days}, ready to post, with your streak picture:"
        )
        await interaction.response.send_message(
            intro,
            embeds=share_embeds(summary.drafts),
            file=await streak_file(picture, interaction.user.display_name),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="recap-dms")
    async def recap_dms(self, interaction: discord.Interaction[Shiplog], enabled: bool) -> None:
        """Get your weekly recap by DM after the weekly digest.

        Parameters
        ----------
        enabled
            True to get it each week.
        """
        await recap.set_recap_dms(
            self.bot.sessionmaker, guild_id=guild_id_of(interaction), user_id=interaction.user.id, enabled=enabled
        )
        text = (
            "📬 After each weekly digest I'll DM you a recap of your week, ready to post (keep DMs from server "
            "members open). `/me recap` shows it any time."
            if enabled
            else "No more recap DMs. `/me recap` still shows yours any time."
        )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="mentor")
    async def mentor(
        self,
        interaction: discord.Interaction[Shiplog],
        enabled: bool,
        note: app_commands.Range[str, 1, mentors.NOTE_MAX] | None = None,
    ) -> None:
        """Offer to help in the repositories where you merged: /github who-knows and new goals name you.

        Parameters
        ----------
        enabled
            True to be named as someone who can help (off by default); False to stop.
        note
            A short note shown with your name, like "happy to review docs PRs" (up to 100 characters).
        """
        setting = await mentors.set_mentor(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            user_id=interaction.user.id,
            enabled=enabled,
            note=note,
        )
        if setting.enabled:
            text = (
                "🤝 Thank you! `/github who-knows` and new goals in the repositories where you have merged PRs "
                "will now name you as someone who can help"
                + (f", with your note: “{escape(setting.note)}”." if setting.note else ".")
                + " Nobody is pinged. `/me mentor enabled:false` stops it at once."
            )
        else:
            text = (
                "You're no longer named as a mentor (your note is deleted too). Your merged PRs are still counted, "
                "without your name. `/me mentor enabled:true` whenever you like."
            )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="page")
    async def page(self, interaction: discord.Interaction[Shiplog], enabled: bool) -> None:
        """Get (or remove) a public page of your goals, merged PRs, streak and kudos, to share anywhere.

        Parameters
        ----------
        enabled
            True to get the page's link (run it again to refresh your name on it); False removes it at once.
        """
        guild_id = guild_id_of(interaction)
        if not enabled:
            closed = await pages.close_page(self.bot.sessionmaker, guild_id=guild_id, user_id=interaction.user.id)
            text = (
                "Your public page is gone: its link now shows nothing. `/me page enabled:true` makes a new one "
                "(with a new link) whenever you like."
                if closed
                else "You have no public page here, so there's nothing to remove."
            )
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        link = await pages.open_page(
            self.bot.sessionmaker,
            guild_id=guild_id,
            user_id=interaction.user.id,
            display_name=interaction.user.display_name,
            public_url=self.bot.settings.public_url,
        )
        first = "🌐 Your public page is ready" if link.created else "🌐 Your public page (your name on it is refreshed)"
        await interaction.response.send_message(
            f"{first}: {link.url}\n"
            "It shows your goals, your merged PRs by repository, your streak and how many kudos you received "
            "here, as the server sees them; no Discord ids, nothing private. Links to it preview with a card on "
            "X, LinkedIn and Bluesky. `/me page enabled:false` removes it at once.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="timezone")
    @app_commands.autocomplete(tz=timezone_choices)
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

    @app_commands.command(name="rest")
    async def rest(self, interaction: discord.Interaction[Shiplog], weeks: app_commands.Range[int, 1, 4]) -> None:
        """Take a break: your streak is frozen, not broken, while you rest.

        Parameters
        ----------
        weeks
            How long, from today: 1 to 4 weeks.
        """
        start, end = await checkins.start_rest(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            user_id=interaction.user.id,
            weeks=weeks,
            now=self.bot.now(),
        )
        await interaction.response.send_message(
            f"🌴 Enjoy your rest, from {start:%a %d %b} to {end:%a %d %b}. Your streak waits for you; "
            "a check-in meanwhile still counts.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="review-nudges")
    async def review_nudges(self, interaction: discord.Interaction[Shiplog], mode: NudgeMode) -> None:
        """Hear about your open PRs that wait too long for a review, with a polite follow-up to copy.

        Parameters
        ----------
        mode
            off, ping (a line in the weekly accountability ping) or dm (a direct message).
        """
        await nudges.set_mode(
            self.bot.sessionmaker, guild_id=guild_id_of(interaction), user_id=interaction.user.id, mode=mode
        )
        text = {
            "off": "No more review-wait nudges.",
            "ping": "Your PRs waiting for a first review will show in your line of the weekly accountability ping.",
            "dm": "I'll DM you when a PR of yours waits for a first review, with a follow-up you can copy.",
        }[mode]
        if mode != "off":
            text += " Each PR is nudged at most once a week; `/github prs` shows them any time."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="reminders")
    async def reminders(self, interaction: discord.Interaction[Shiplog], enabled: bool) -> None:
        """Be mentioned (or not) in the weekly accountability ping.

        Parameters
        ----------
        enabled
            True to be reminded of your goals and streak each week.
        """
        await set_reminders(self.bot.sessionmaker, guild_id_of(interaction), interaction.user.id, enabled)
        text = (
            "🔔 You'll be mentioned in the weekly accountability ping."
            if enabled
            else "🔕 You won't be mentioned in the weekly ping any more. Your goals and streak stay."
        )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="streak-dms")
    async def streak_dms(self, interaction: discord.Interaction[Shiplog], enabled: bool) -> None:
        """Get a direct message a day before your streak would break.

        Parameters
        ----------
        enabled
            True to get the warning by DM.
        """
        await set_streak_dms(self.bot.sessionmaker, guild_id_of(interaction), interaction.user.id, enabled)
        text = (
            "📬 I'll DM you a day before your streak would break (keep DMs from server members open)."
            if enabled
            else "No more streak DMs."
        )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="export")
    async def export(self, interaction: discord.Interaction[Shiplog]) -> None:
        """Get a JSON file of everything Shiplog stores about you in this server."""
        data = await privacy.export(
            self.bot.sessionmaker, guild_id=guild_id_of(interaction), user_id=interaction.user.id, now=self.bot.now()
        )
        await interaction.response.send_message(
            "Here is everything I store about you in this server.",
            file=discord.File(io.BytesIO(data), filename="shiplog-export.json"),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="forget")
    async def forget(self, interaction: discord.Interaction[Shiplog]) -> None:
        """Delete everything Shiplog stores about you in this server (asks first)."""
        view = ForgetView(self.bot, interaction.user.id)
        await interaction.response.send_message(
            "This deletes your goals, check-ins, streak, kudos, GitHub link, merged-PR history and public page "
            "in this server, for good. (Only the times of your last day's kudos and of your last shared check-in stay, "
            "without your name, until the limits on them have passed.) Are you sure?",
            view=view,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


class ForgetView(discord.ui.View):
    """Confirm or cancel /me forget; only the member who asked can answer."""

    def __init__(self, bot: Shiplog, user_id: int) -> None:
        super().__init__(timeout=120)
        self.bot = bot
        self.user_id = user_id

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.user_id

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        await answer_error(interaction, error, "the forget buttons")

    @discord.ui.button(label="Delete my data", style=discord.ButtonStyle.danger, custom_id="shiplog:forget:yes")
    async def confirm(self, interaction: discord.Interaction[Shiplog], button: discord.ui.Button[ForgetView]) -> None:
        forgotten = await privacy.forget(
            self.bot.sessionmaker, guild_id=guild_id_of(interaction), user_id=self.user_id, now=self.bot.now()
        )
        self.stop()
        done = f"Done: I deleted everything about you here ({forgotten.records} records)."
        if not forgotten.cleanup:
            await interaction.response.edit_message(content=f"{done} Welcome back any time.", view=None)
            return
        await interaction.response.edit_message(
            content=f"{done} Now removing my {len(forgotten.cleanup)} messages about you from the channels…",
            view=None,
        )
        self.bot.wake_outbox()
        deadline = asyncio.get_running_loop().time() + CLEANUP_WAIT
        while True:
            status = await privacy.cleanup_status(self.bot.sessionmaker, forgotten.cleanup)
            if not status.pending or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.25)
        lines = [
            done,
            f"I took you out of {status.done} of my messages in the channels "
            "(deleted, or edited where they named others too).",
        ]
        if status.failed:
            lines.append(
                f"⚠️ {status.failed} could not be removed: {'; '.join(status.reasons)[:500]}. "
                "A server admin can delete them (`/settings show` lists them)."
            )
        if status.pending:
            lines.append(f"{status.pending} more are still being removed; that goes on without you.")
        lines.append("Welcome back any time.")
        await interaction.edit_original_response(content="\n".join(lines))

    @discord.ui.button(label="Keep it", style=discord.ButtonStyle.secondary, custom_id="shiplog:forget:no")
    async def cancel(self, interaction: discord.Interaction[Shiplog], button: discord.ui.Button[ForgetView]) -> None:
        self.stop()
        await interaction.response.edit_message(content="Nothing was deleted.", view=None)


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(Me(bot))
