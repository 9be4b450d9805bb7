"""The app-command tree and its one error handler."""

from __future__ import annotations

import contextlib
import logging
import secrets
from typing import Any, TypeVar

import discord
from discord import app_commands

from bot.errors import UserError

log = logging.getLogger(__name__)

# The tree serves whichever client it is built for (the bot passes itself): it needs nothing of
# Shiplog's own, so this module does not import bot.bot, which imports it.
ClientT = TypeVar("ClientT", bound=discord.Client)

NO_MENTIONS = discord.AllowedMentions.none()


def error_reference() -> str:
    """Return a short reference a member can quote and an admin can grep the logs for."""
    return secrets.token_hex(3).upper()


async def reply_ephemeral(interaction: discord.Interaction[Any], content: str) -> None:
    """Answer privately, whether or not the interaction was already answered or deferred."""
    try:
        if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            # A deferred reply may be public ("thinking..."), and the first follow-up would take its
            # place publicly: remove it so that the mistake is shown to the member alone.
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
            await interaction.followup.send(content, ephemeral=True, allowed_mentions=NO_MENTIONS)
        elif interaction.response.is_done():
            await interaction.followup.send(content, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(content, ephemeral=True, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException:
        log.warning("could not send an error reply for interaction %s", interaction.id, exc_info=True)


def describe_check_failure(error: app_commands.AppCommandError) -> str | None:
    """Return the polite line for a failed check, or None when the error is not a member's mistake."""
    if isinstance(error, app_commands.MissingPermissions):
        perms = ", ".join(p.replace("_", " ").replace("guild", "server").title() for p in error.missing_permissions)
        return f"You need the {perms} permission to do that. Ask a server admin."
    if isinstance(error, app_commands.BotMissingPermissions):
        perms = ", ".join(p.replace("_", " ").replace("guild", "server").title() for p in error.missing_permissions)
        return f"I'm missing the {perms} permission here. Ask a server admin to grant it."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works inside a server."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} seconds."
    if isinstance(error, app_commands.TransformerError):
        return f"`{discord.utils.escape_markdown(str(error.value))[:100]}` isn't a valid value for that option."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    return None


async def answer_error(interaction: discord.Interaction[Any], error: Exception, where: str) -> None:
    """Answer any error of a command or a component: politely for mistakes, with a reference otherwise."""
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, UserError):
        await reply_ephemeral(interaction, str(original))
        return
    message = describe_check_failure(error) if isinstance(error, app_commands.AppCommandError) else None
    if message is not None:
        await reply_ephemeral(interaction, message)
        return
    ref = error_reference()
    log.error(
        "unexpected error (ref %s) in %s for user %s in guild %s",
        ref,
        where,
        interaction.user.id,
        interaction.guild_id,
        exc_info=original,
    )
    await reply_ephemeral(interaction, f"Something went wrong on my side (ref {ref}). Please try again later.")


class ShiplogTree(app_commands.CommandTree[ClientT]):
    """A command tree that answers every error: politely for mistakes, with a reference otherwise."""

    async def on_error(self, interaction: discord.Interaction[ClientT], error: app_commands.AppCommandError) -> None:
        command = interaction.command.qualified_name if interaction.command else "?"
        await answer_error(interaction, error, f"/{command}")
