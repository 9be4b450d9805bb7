"""Share buttons: a ready-to-copy #BuildInPublic post for the member a message is about.

Not an extension (the walker skips `_` modules): the cog that draws a message registers its button
(`bot.add_dynamic_items`). Each button's custom id holds what it needs, so it works after a
restart, and answers only the member it is about; others are invited to cheer instead.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.services.sharing import posts
from bot.tree import answer_error
from cogs._format import NO_MENTIONS, guild_id_of, share_embeds, streak_file

if TYPE_CHECKING:
    from bot.bot import Shiplog

LABEL = "Share it (#BuildInPublic)"


async def send_drafts(
    interaction: discord.Interaction[Shiplog],
    owner_id: int,
    drafts: dict[str, str],
    *,
    picture: Callable[[], Awaitable[discord.File]] | None = None,
) -> None:
    """Answer the member the drafts are about with them (ephemeral); anyone else with an invitation to cheer.

    `picture` draws an image to attach where it helps the post (the streak picture), for the owner only.
    """
    if interaction.user.id != owner_id:
        await interaction.response.send_message(
            f"This one is <@{owner_id}>'s to share, but you can cheer them on! 🎉",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
        return
    await interaction.response.send_message(
        "Here's a post ready to copy, cut to fit each network:"
        + (" The picture goes well with it." if picture is not None else ""),
        embeds=share_embeds(drafts),
        ephemeral=True,
        allowed_mentions=NO_MENTIONS,
        file=await picture() if picture is not None else discord.utils.MISSING,  # MISSING: no file, as if not given
    )


def _button(custom_id: str) -> discord.ui.Button:
    return discord.ui.Button(label=LABEL, emoji="📣", style=discord.ButtonStyle.secondary, custom_id=custom_id)


class ShareGoalButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"shiplog:share-goal:(?P<number>[0-9]{1,10})"
):
    """Under a finished goal's announcement."""

    def __init__(self, number: int) -> None:
        super().__init__(_button(f"shiplog:share-goal:{number}"))
        self.number = number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ShareGoalButton:
        return cls(int(match["number"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        # discord.py types this hook for a button of any client: this one only runs under Shiplog.
        bot: Shiplog = interaction.client
        # discord.py only logs a dynamic item's errors: answer them here, as the tree does for commands.
        try:
            post = await posts.goal_post(bot.sessionmaker, guild_id=guild_id_of(interaction), number=self.number)
            await send_drafts(interaction, post.user_id, post.drafts)
        except Exception as exc:
            await answer_error(interaction, exc, "the share button")


class ShareStreakButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"shiplog:share-streak:(?P<user>[0-9]{1,20}):(?P<length>[0-9]{1,7}):(?P<cadence>[dw])",
):
    """Under a streak milestone."""

    def __init__(self, user_id: int, length: int, cadence: str) -> None:
        super().__init__(_button(f"shiplog:share-streak:{user_id}:{length}:{cadence[0]}"))
        self.user_id, self.length, self.cadence = user_id, length, cadence

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ShareStreakButton:
        return cls(int(match["user"]), int(match["length"]), "weekly" if match["cadence"] == "w" else "daily")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: Shiplog = interaction.client  # as in ShareGoalButton.callback
        try:
            post = await posts.streak_post(
                bot.sessionmaker,
                guild_id=guild_id_of(interaction),
                user_id=self.user_id,
                length=self.length,
                cadence=self.cadence,
            )

            async def picture() -> discord.File:
                drawn = await posts.public_streak_picture(
                    bot.sessionmaker, guild_id=guild_id_of(interaction), user_id=self.user_id, now=bot.now()
                )
                return await streak_file(drawn, interaction.user.display_name)

            await send_drafts(interaction, post.user_id, post.drafts, picture=picture)
        except Exception as exc:
            await answer_error(interaction, exc, "the share button")
