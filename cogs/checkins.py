"""/checkin, /streak, /leaderboard and /kudos: the weekly rhythm of a #BuildInPublic server."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.services import messages
from bot.services.links import is_web_link
from bot.services.rhythm import checkins
from bot.services.rhythm.streaks import StreakState
from bot.services.wording import noun, period_word, periods, streak_words
from cogs._format import BRAND, NO_MENTIONS, escape, guild_id_of, mention_only, streak_file
from cogs._share import ShareStreakButton

if TYPE_CHECKING:
    from bot.bot import Shiplog

BOARD_TITLES = {
    "streaks": "🔥 Longest current streaks",
    "prs": "🚢 Most merged pull requests",
    "goals": "✅ Most finished goals",
    "kudos": "💜 Most kudos received",
}


def board_value(board: str, cadence: str, n: int) -> str:
    """The unit of a leaderboard's number: 'weeks' in a row, 'merged PRs', 'finished goals', 'kudos'."""
    if board == "streaks":
        return periods(n, cadence) + " in a row"
    return {"prs": noun(n, "merged PR"), "goals": noun(n, "finished goal"), "kudos": "kudos"}[board]


def unit(cadence: str, n: int, *, before: str = "") -> str:
    """Say '3 weeks' or '1 day' (with `before`: '3 active weeks')."""
    return f"{n} {before + ' ' if before else ''}{periods(n, cadence)}"


def streak_of(cadence: str, n: int) -> str:
    """Say '3-week streak' or '1-day streak'."""
    return f"{streak_words(n, cadence)} streak"


def streak_line(state: StreakState, *, who: str | None = None) -> str:
    """Describe a streak in one friendly line: to its member, or, given `who` (their name), to everyone."""
    period = period_word(state.cadence)
    if state.resting_now:
        if state.current == 0:
            if who is not None:
                return f"🌴 {who} is resting: nothing to lose; their next check-in starts a streak."
            return "🌴 Resting: nothing to lose while you rest; your next check-in starts a streak."
        whose = f"{who}'s" if who else "your"
        return f"🌴 Resting: {whose} {streak_of(state.cadence, state.current)} is frozen, not broken."
    if state.current == 0:
        if who is not None:
            return f"{who}'s streak starts with their next check-in."
        return "Your streak starts with your next check-in."
    line = f"🔥 {streak_of(state.cadence, state.current)}"
    if state.at_risk:
        line += f" ({who} checks in this {period} to keep it)" if who else f" (check in this {period} to keep it!)"
    if state.freezes:
        line += f" · 🧊 {state.freezes} freeze{'s' if state.freezes > 1 else ''} banked"
    return line


def render_checkin(checkin: messages.CheckinPosted) -> dict[str, Any]:
    """Draw a check-in posted in the accountability channel."""
    embed = discord.Embed(description=escape(checkin.note), colour=BRAND)
    # Checked again here: a check-in queued before links were checked strictly may hold markdown.
    if checkin.link and is_web_link(checkin.link, limit=checkins.MAX_LINK):
        embed.add_field(name="Link", value=checkin.link)
    if checkin.streak:
        embed.set_footer(text=f"🔥 {streak_of(checkin.cadence, checkin.streak)}")
    return {"content": f"📝 <@{checkin.user_id}> checked in.", "embed": embed, "allowed_mentions": NO_MENTIONS}


def render_kudos(kudos: messages.Kudos) -> dict[str, Any]:
    """Draw a public thank-you; it pings the member thanked, nobody else."""
    embed = discord.Embed(description=escape(kudos.reason), colour=discord.Colour.from_rgb(191, 90, 242))
    return {
        "content": f"💜 <@{kudos.from_user_id}> gave kudos to <@{kudos.to_user_id}>!",
        "embed": embed,
        "allowed_mentions": mention_only(kudos.to_user_id),
    }


def render_streak_milestone(milestone: messages.StreakMilestone) -> dict[str, Any]:
    """Draw a streak milestone."""
    view = discord.ui.View(timeout=None)
    view.add_item(ShareStreakButton(milestone.user_id, milestone.streak, milestone.cadence))
    return {
        "content": f"🔥 <@{milestone.user_id}> reached a **{streak_of(milestone.cadence, milestone.streak)}**! "
        "Consistency is a superpower.",
        "view": view,
        "allowed_mentions": mention_only(milestone.user_id),
    }


def render_goal_milestone(milestone: messages.GoalsMilestone) -> dict[str, Any]:
    """Draw a finished-goals milestone."""
    return {
        "content": f"🏁 <@{milestone.user_id}> has finished **{milestone.goals} goals**! Keep shipping.",
        "allowed_mentions": mention_only(milestone.user_id),
    }


class Rhythm(commands.Cog):
    """Check-ins, streaks, the leaderboard and kudos."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot
        bot.renderers[messages.CheckinPosted.KIND] = render_checkin
        bot.renderers[messages.Kudos.KIND] = render_kudos
        bot.renderers[messages.StreakMilestone.KIND] = render_streak_milestone
        bot.renderers[messages.GoalsMilestone.KIND] = render_goal_milestone

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ShareStreakButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ShareStreakButton)

    @app_commands.command(name="checkin")
    @app_commands.guild_only()
    async def checkin(
        self,
        interaction: discord.Interaction[Shiplog],
        note: app_commands.Range[str, 1, checkins.MAX_NOTE],
        link: app_commands.Range[str, 1, 300] | None = None,
    ) -> None:
        """Log your progress; it keeps your streak going.

        Parameters
        ----------
        note
            What you did, learned or got stuck on.
        link
            A link to show it (a PR, a commit, a post).
        """
        result = await checkins.check_in(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            user_id=interaction.user.id,
            note=note,
            link=link,
            now=self.bot.now(),
        )
        # Even when nothing is announced here, a milestone may have been queued for the celebrations channel.
        self.bot.wake_outbox()
        text = f"✅ Checked in. {streak_line(result.streak)}"
        if result.posted:
            text += "\nI'm sharing it in the accountability channel."
        elif result.held_until is not None:
            minutes = int(checkins.CHECKIN_COOLDOWN.total_seconds() // 60)
            text += (
                f"\nIt counts for your streak, but it isn't posted again: I share one check-in per member every "
                f"{minutes} minutes. Your next one can be shared {discord.utils.format_dt(result.held_until, 'R')}."
            )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="streak")
    @app_commands.guild_only()
    async def streak(self, interaction: discord.Interaction[Shiplog], member: discord.Member | None = None) -> None:
        """Show a streak: current, best and total, with a picture of the last 26 weeks.

        Parameters
        ----------
        member
            Whose streak to show (yours if left out).
        """
        target = member or interaction.user
        picture = await checkins.streak_picture(
            self.bot.sessionmaker, guild_id=guild_id_of(interaction), user_id=target.id, now=self.bot.now()
        )
        state = picture.state
        embed = discord.Embed(title=f"{target.display_name}'s streak"[:256], colour=BRAND)
        embed.add_field(name="Current", value=unit(state.cadence, state.current))
        embed.add_field(name="Best", value=unit(state.cadence, state.best))
        embed.add_field(name="Total", value=unit(state.cadence, state.total, before="active"))
        # The answer is public: its line names the member, for everyone who reads it.
        embed.description = (
            streak_line(state, who=escape(target.display_name)) if target.id == interaction.user.id else None
        )
        embed.set_image(url="attachment://streak.png")
        await interaction.response.send_message(
            embed=embed, file=await streak_file(picture, target.display_name), allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="leaderboard")
    @app_commands.guild_only()
    async def leaderboard(
        self,
        interaction: discord.Interaction[Shiplog],
        board: Literal["streaks", "prs", "goals", "kudos"] = "streaks",
    ) -> None:
        """Show the top 10, and your own place.

        Parameters
        ----------
        board
            What to rank by.
        """
        result = await checkins.leaderboard(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            board=board,
            user_id=interaction.user.id,
            now=self.bot.now(),
        )
        medals = {1: "🥇", 2: "🥈", 3: "🥉"}
        counted = functools.partial(board_value, board, result.cadence)
        lines = [
            f"{medals.get(i, f'`{i}.`')} <@{uid}> · **{value}** {counted(value)}"
            for i, (uid, value) in enumerate(result.top, 1)
        ]
        embed = discord.Embed(
            title=BOARD_TITLES[board], colour=BRAND, description="\n".join(lines) or "Nobody on this board yet."
        )
        # The board is public: the footer names who asked, for everyone who reads it.
        name = interaction.user.display_name
        embed.set_footer(
            text=f"{name}: #{result.my_rank} with {result.my_value} {counted(result.my_value)}"
            if result.my_rank
            else f"{name} isn't on this board yet."
        )
        await interaction.response.send_message(embed=embed, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="kudos")
    @app_commands.guild_only()
    async def kudos(
        self,
        interaction: discord.Interaction[Shiplog],
        member: discord.Member,
        reason: app_commands.Range[str, 1, checkins.MAX_REASON],
    ) -> None:
        """Thank a member in public.

        Parameters
        ----------
        member
            Who to thank.
        reason
            What for.
        """
        posted = await checkins.give_kudos(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            from_user_id=interaction.user.id,
            to_user_id=member.id,
            to_is_bot=member.bot,
            reason=reason,
            now=self.bot.now(),
        )
        if posted:
            self.bot.wake_outbox()
            await interaction.response.send_message(
                f"💜 Kudos to {member.mention} shared in the celebrations channel.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
        else:
            # No celebrations channel: the thank-you is public right here.
            await interaction.response.send_message(
                **render_kudos(messages.Kudos(from_user_id=interaction.user.id, to_user_id=member.id, reason=reason))
            )


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(Rhythm(bot))
