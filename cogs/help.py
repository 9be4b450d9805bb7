"""/help: every command a member can use, read from the registered command tree so it never drifts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._format import BRAND, NO_MENTIONS, join_lines

if TYPE_CHECKING:
    from bot.bot import Shiplog

# Two embeds of at most this much each stay under Discord's 6,000 characters for one message.
SECTION_LIMIT = 2900


@dataclass(frozen=True, slots=True)
class Section:
    """One top-level command (a group with its subcommands, or the loose commands) and who may see it."""

    title: str
    lines: list[str]
    required: discord.Permissions | None


def usage(command: app_commands.Command) -> str:
    """Write `/goal add text [due] [link]`: required options bare, optional ones in brackets."""
    options = [p.display_name if p.required else f"[{p.display_name}]" for p in command.parameters]
    return " ".join([f"/{command.qualified_name}", *options])


def line(command: app_commands.Command) -> str:
    """Describe a command in one line."""
    return f"`{usage(command)}` {command.description}"


def sections(tree: app_commands.CommandTree, guild: discord.abc.Snowflake | None) -> list[Section]:
    """Group the tree's slash commands: loose commands first, then one section per group, by name."""
    top = {c.name: c for c in tree.get_commands(type=discord.AppCommandType.chat_input)}
    if guild is not None:
        top |= {c.name: c for c in tree.get_commands(guild=guild, type=discord.AppCommandType.chat_input)}
    loose = [c for c in top.values() if isinstance(c, app_commands.Command)]
    groups = sorted((c for c in top.values() if isinstance(c, app_commands.Group)), key=lambda g: g.name)
    out: list[Section] = []
    for required in sorted({c.default_permissions for c in loose}, key=lambda p: -1 if p is None else p.value):
        chosen = sorted((c for c in loose if c.default_permissions == required), key=lambda c: c.name)
        out.append(Section("Everyday" if required is None else "Server tools", [line(c) for c in chosen], required))
    for group in groups:
        leaves = [c for c in group.walk_commands() if isinstance(c, app_commands.Command)]
        out.append(Section(f"/{group.name}: {group.description}", [line(c) for c in leaves], group.default_permissions))
    return out


def may_use(required: discord.Permissions | None, permissions: discord.Permissions) -> bool:
    """Tell whether Discord offers a command with these default permissions to this member."""
    return required is None or permissions.administrator or required <= permissions


def render(parts: list[Section]) -> str:
    """Write sections as bold titles over their lines."""
    return join_lines([text for s in parts for text in (f"**{s.title}**", *s.lines)], limit=SECTION_LIMIT)


class Help(commands.Cog):
    """What Shiplog can do."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot

    @app_commands.command(name="help")
    @app_commands.guild_only()
    async def help(self, interaction: discord.Interaction[Shiplog]) -> None:
        """List the commands you can use, one line each."""
        everyone, managers = [], []
        for section in sections(self.bot.tree, interaction.guild):
            if section.required is None:
                everyone.append(section)
            elif may_use(section.required, interaction.permissions):
                managers.append(section)
        embeds = [
            discord.Embed(title="What you can do with Shiplog", colour=BRAND, description=render(everyone)).set_footer(
                text="Options in [brackets] can be left out. /about shows the version and this server's settings."
            )
        ]
        if managers:
            embeds.append(
                discord.Embed(
                    title="For server managers",
                    colour=BRAND,
                    description="Only members who can manage the server see these.\n" + render(managers),
                )
            )
        await interaction.response.send_message(embeds=embeds, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(Help(bot))
