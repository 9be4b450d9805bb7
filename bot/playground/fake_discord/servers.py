"""One way to build a pretend server, for the tests and the playground alike.

A :class:`ServerSpec` names the guild, its owner and what it holds (members and channels, in the
order they are made: their ids follow that order); :func:`build_server` makes it in a fake that has
not connected a bot yet, so everything arrives in the gateway's GUILD_CREATE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord

from bot.playground.fake_discord.models import FakeChannel, FakeGuild, FakeMember

if TYPE_CHECKING:
    from bot.playground.fake_discord.server import FakeDiscord


@dataclass(frozen=True)
class Member:
    """A member to add; each of ``permissions`` (``"manage_guild"``, ...) goes on a personal role."""

    name: str
    permissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Channel:
    """A text channel to add."""

    name: str
    topic: str | None = None


@dataclass(frozen=True)
class ServerSpec:
    """A guild: its name, its owner (made first, ``None`` for none), a #general channel or not, and its contents."""

    name: str
    owner: str | None = "owner"
    general: bool = True
    contents: tuple[Member | Channel, ...] = ()


@dataclass
class Server:
    """The server :func:`build_server` made: members (owner first) and channels by name."""

    guild: FakeGuild
    owner: FakeMember | None
    members: dict[str, FakeMember] = field(default_factory=dict)
    channels: dict[str, FakeChannel] = field(default_factory=dict)


def build_server(fake: FakeDiscord, spec: ServerSpec) -> Server:
    """Make the guild of ``spec`` in ``fake``, then its members and channels in their order."""
    guild = fake.add_guild(name=spec.name, owner=spec.owner, general=spec.general)
    owner = guild.owner
    server = Server(guild=guild, owner=owner)
    if owner is not None:
        server.members[owner.name] = owner
    server.channels.update((channel.name, channel) for channel in guild.channels.values() if channel.name)
    for item in spec.contents:
        if isinstance(item, Member):
            member = fake.add_member(guild, item.name)
            if item.permissions:
                # As add_member(name, manage_guild=True) does: a personal role, made after the user.
                flags = discord.Permissions(**dict.fromkeys(item.permissions, True))
                fake.give_role(member, fake.add_role(guild, f"{item.name}-perms", permissions=flags))
            server.members[item.name] = member
        else:
            server.channels[item.name] = fake.add_text_channel(guild, item.name, topic=item.topic)
    return server
