"""/goal add|list|done|edit|drop: public goals, each member changing only their own."""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.services import goals, messages
from bot.services.github import mentors
from bot.services.goals import GoalView
from bot.services.wording import plural
from cogs._format import (
    BRAND,
    NO_MENTIONS,
    due_words,
    escape,
    guild_id_of,
    join_lines,
    link_markdown,
    shorten,
)
from cogs._share import ShareGoalButton

if TYPE_CHECKING:
    from bot.bot import Shiplog

GoalText = app_commands.Range[str, 1, goals.MAX_TEXT]
DueText = app_commands.Range[str, 1, 100]
LinkText = app_commands.Range[str, 1, 300]
GoalNumber = app_commands.Range[int, 1, 2**31 - 1]  # the column is a 32-bit integer
MAX_LISTED = 25

log = logging.getLogger(__name__)


def helpers_line(helpers: list[mentors.Mentor], repo: str) -> str:
    """Name the mentors who merged in the goal's repository and offered to help (the reply pings nobody)."""
    names = ", ".join(f"<@{m.user_id}> ({plural(m.merges, 'merged PR')})" for m in helpers)
    return (
        f"🤝 Who can help: {names} merged in **{escape(repo)}** and offered to help. "
        f"`/github who-knows repo:{repo}` shows their notes."
    )


def goal_line(goal: GoalView, today: date) -> str:
    """Render one goal as a line of a list."""
    parts = [f"`#{goal.number}` {escape(shorten(goal.text, 200))}"]
    if goal.status == "done" and goal.closed_at is not None:
        parts.append(f"finished {discord.utils.format_dt(goal.closed_at, 'R')}")
    elif goal.due is not None:
        parts.append(due_words(goal.due, today) or "")
    if goal.link is not None:
        parts.append(link_markdown(goal.link))
    return " · ".join(parts)


def render_added(goal: messages.GoalAdded) -> dict[str, Any]:
    """Draw the public announcement of a new goal."""
    embed = discord.Embed(title=f"Goal #{goal.number}", description=escape(goal.text), colour=BRAND)
    if goal.due:
        embed.add_field(name="Due", value=date.fromisoformat(goal.due).strftime("%a %d %b %Y"))
    if goal.link:
        embed.add_field(name="Link", value=link_markdown(goal.link))
    embed.set_footer(text="Cheer them on, and ask how it's going!")
    # The member set this goal themselves: their name shows, but they are not pinged about it.
    return {"content": f"<@{goal.user_id}> set a new goal.", "embed": embed, "allowed_mentions": NO_MENTIONS}


def render_done(goal: messages.GoalDone) -> dict[str, Any]:
    """Draw the small celebration of a finished goal."""
    embed = discord.Embed(title=f"🎉 Goal #{goal.number} done!", description=escape(goal.text), colour=BRAND)
    if goal.link:
        embed.add_field(name="Link", value=link_markdown(goal.link))
    view = discord.ui.View(timeout=None)
    view.add_item(ShareGoalButton(goal.number))
    return {
        "content": f"<@{goal.user_id}> finished a goal.",
        "embed": embed,
        "view": view,
        "allowed_mentions": NO_MENTIONS,
    }


@app_commands.guild_only()
class Goals(commands.GroupCog, group_name="goal", group_description="Set, list and finish your public goals."):
    """Public goals."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot
        bot.renderers[messages.GoalAdded.KIND] = render_added
        bot.renderers[messages.GoalDone.KIND] = render_done

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ShareGoalButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ShareGoalButton)

    async def goal_autocomplete(
        self, interaction: discord.Interaction[Shiplog], current: str
    ) -> list[app_commands.Choice[int]]:
        """Offer the member's own open goals."""
        views = await goals.open_goal_choices(
            self.bot.sessionmaker, guild_id=guild_id_of(interaction), user_id=interaction.user.id, query=current
        )
        return [app_commands.Choice(name=shorten(f"#{v.number} · {v.text}", 100), value=v.number) for v in views]

    @app_commands.command(name="add")
    async def add(
        self,
        interaction: discord.Interaction[Shiplog],
        text: GoalText,
        due: DueText | None = None,
        link: LinkText | None = None,
    ) -> None:
        """Set a new public goal.

        Parameters
        ----------
        text
            What you want to get done, in one sentence.
        due
            When: friday, tomorrow, in 2 weeks, next month, end of month, march 1, or YYYY-MM-DD.
        link
            A GitHub issue or pull request URL this goal is about.
        """
        change = await goals.add_goal(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            user_id=interaction.user.id,
            text=text,
            due=due,
            link=link,
            now=self.bot.now(),
        )
        # Even when nothing is announced here, a milestone may have been queued for the celebrations channel.
        self.bot.wake_outbox()
        goal = change.goal
        lines = [f"Goal **#{goal.number}** is set: {escape(goal.text)}"]
        if goal.due:
            lines.append(f"Due: {due_words(goal.due, change.today)}")
        if goal.link:
            lines.append(f"Linked to {link_markdown(goal.link)}")
        lines.append("I'm announcing it in the goals channel." if change.announced else "Finish it with `/goal done`.")
        if goal.link:
            try:
                helpers = await mentors.helpers_for(
                    self.bot.sessionmaker, guild_id=guild_id_of(interaction), repo=goal.link.repo, user_id=goal.user_id
                )
            except Exception:  # the goal is saved: a hint that cannot be read must not turn the reply into an error
                log.exception("could not read who can help with %s", goal.link.repo)
                helpers = []
            if helpers:
                lines.append(helpers_line(helpers, goal.link.repo))
        await interaction.response.send_message("\n".join(lines), ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="list")
    async def list_(self, interaction: discord.Interaction[Shiplog], member: discord.Member | None = None) -> None:
        """Show open goals and recently finished ones.

        Parameters
        ----------
        member
            Whose goals to show (yours if left out).
        """
        target = member or interaction.user
        result = await goals.list_goals(
            self.bot.sessionmaker, guild_id=guild_id_of(interaction), user_id=target.id, now=self.bot.now()
        )
        name = escape(target.display_name)
        if not result.open and not result.finished:
            whose = "You have" if target.id == interaction.user.id else f"{name} has"
            await interaction.response.send_message(
                f"{whose} no goals yet. Set one with `/goal add`.", ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        embed = discord.Embed(title=f"{target.display_name}'s goals"[:256], colour=BRAND)
        embed.set_thumbnail(url=target.display_avatar.url)
        open_lines = [goal_line(g, result.today) for g in result.open[:MAX_LISTED]]
        if len(result.open) > MAX_LISTED:
            open_lines.append(f"… and {len(result.open) - MAX_LISTED} more")
        embed.description = join_lines(open_lines, 3000) if open_lines else "No open goals."
        if result.finished:
            embed.add_field(
                name="Recently finished",
                value=join_lines([goal_line(g, result.today) for g in result.finished], 1024),
                inline=False,
            )
        await interaction.response.send_message(embed=embed, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="done")
    @app_commands.autocomplete(goal=goal_autocomplete)
    async def done(self, interaction: discord.Interaction[Shiplog], goal: GoalNumber) -> None:
        """Mark one of your goals as done.

        Parameters
        ----------
        goal
            The goal's number (start typing to pick one of yours).
        """
        change = await goals.finish_goal(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            user_id=interaction.user.id,
            number=goal,
            now=self.bot.now(),
        )
        # Even when nothing is announced here, a milestone may have been queued for the celebrations channel.
        self.bot.wake_outbox()
        await interaction.response.send_message(
            f"🎉 Goal **#{goal}** is done: {escape(change.goal.text)}. Well shipped!",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="edit")
    @app_commands.autocomplete(goal=goal_autocomplete)
    async def edit(
        self,
        interaction: discord.Interaction[Shiplog],
        goal: GoalNumber,
        text: GoalText | None = None,
        due: DueText | None = None,
        link: LinkText | None = None,
    ) -> None:
        """Change one of your open goals.

        Parameters
        ----------
        goal
            The goal's number (start typing to pick one of yours).
        text
            The new wording.
        due
            A new due date (friday, in 2 weeks, next month...), or "none" to remove it.
        link
            A new GitHub issue or pull request URL, or "none" to remove it.
        """
        change = await goals.edit_goal(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            user_id=interaction.user.id,
            number=goal,
            text=text,
            due=due,
            link=link,
            now=self.bot.now(),
        )
        await interaction.response.send_message(
            f"Goal updated: {goal_line(change.goal, change.today)}", ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="drop")
    @app_commands.autocomplete(goal=goal_autocomplete)
    async def drop(self, interaction: discord.Interaction[Shiplog], goal: GoalNumber) -> None:
        """Drop one of your open goals (plans change, and that's fine).

        Parameters
        ----------
        goal
            The goal's number (start typing to pick one of yours).
        """
        change = await goals.drop_goal(
            self.bot.sessionmaker,
            guild_id=guild_id_of(interaction),
            user_id=interaction.user.id,
            number=goal,
            now=self.bot.now(),
        )
        await interaction.response.send_message(
            f"Goal **#{goal}** dropped: {escape(change.goal.text)}. Plans change; that's fine.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(Goals(bot))
