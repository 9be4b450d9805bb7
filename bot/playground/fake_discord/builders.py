"""Building the pretend server: guilds, members, roles, channels and overwrites, and looking them up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord

from bot.playground.fake_discord.constants import (
    CHANNEL_CATEGORY,
    CHANNEL_NEWS,
    CHANNEL_TEXT,
    DEFAULT_EVERYONE_PERMISSIONS,
    permission_value,
)
from bot.playground.fake_discord.models import (
    FakeChannel,
    FakeDiscordError,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    InteractionResult,
    id_of,
    snowflake,
)

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake


class BuildersMixin:
    """Add guilds, members, roles and channels (before the bot connects), and find them by id."""

    # ------------------------------------------------------------------ builders

    def add_guild(
        self: Fake,
        name: str = "Test Guild",
        *,
        owner: FakeUser | str | None = "owner",
        general: bool = True,
        locale: str = "en-US",
    ) -> FakeGuild:
        """Create a guild with an @everyone role, the bot as a member (with a managed role
        carrying ``bot_permissions``), an owner member and (by default) a #general channel."""
        gid = snowflake()
        guild = FakeGuild(id=gid, name=name, locale=locale)
        guild.roles[gid] = FakeRole(id=gid, guild_id=gid, name="@everyone", permissions=DEFAULT_EVERYONE_PERMISSIONS)
        bot_role = FakeRole(
            id=snowflake(),
            guild_id=gid,
            name=self.bot_user.name,
            permissions=self.bot_permissions,
            position=1,
            managed=True,
            bot_id=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        self.guilds[gid] = guild
        guild.members[self.bot_user.id] = FakeMember(user=self.bot_user, guild_id=gid, role_ids=[bot_role.id])
        if owner is not None:
            if isinstance(owner, str):
                owner_member = self.add_member(guild, owner)
            else:
                owner_member = self.add_member(guild, user=owner)
            guild.owner_id = owner_member.id
        if general:
            self.add_text_channel(guild, "general")
        return guild

    def add_user(
        self: Fake, name: str, *, bot: bool = False, global_name: str | None = None, dms_open: bool = True
    ) -> FakeUser:
        user = FakeUser(id=snowflake(), name=name, bot=bot, global_name=global_name, dms_open=dms_open)
        self.users[user.id] = user
        return user

    def add_role(
        self: Fake,
        guild: FakeGuild | int,
        name: str,
        *,
        color: int = 0,
        hoist: bool = False,
        mentionable: bool = False,
        above_bot: bool = False,
        permissions: int | discord.Permissions = 0,
        **perms: bool,
    ) -> FakeRole:
        """Add a role.  Permissions via ``permissions=`` and/or flags (``manage_guild=True``).
        New roles sit just below the bot's role (so the bot can assign them) unless
        ``above_bot=True``."""
        guild = self._guild(guild)
        value = permission_value(permissions) | (discord.Permissions(**perms).value if perms else 0)
        bot_role = self._bot_role(guild)
        if above_bot:
            position = max(r.position for r in guild.roles.values()) + 1
        else:
            position = bot_role.position
            bot_role.position += 1
            for role in guild.roles.values():
                if role is not bot_role and role.position >= position and role.id != guild.id:
                    role.position += 1
        role = FakeRole(
            id=snowflake(),
            guild_id=guild.id,
            name=name,
            permissions=value,
            position=position,
            color=color,
            hoist=hoist,
            mentionable=mentionable,
        )
        guild.roles[role.id] = role
        return role

    def add_member(
        self: Fake,
        guild: FakeGuild | int,
        name: str | None = None,
        *,
        user: FakeUser | None = None,
        roles: Iterable[FakeRole | int] = (),
        nick: str | None = None,
        owner: bool = False,
        bot: bool = False,
        dms_open: bool = True,
        global_name: str | None = None,
        **perms: bool,
    ) -> FakeMember:
        """Add a member (creating the user unless ``user=`` is given).  Permission flags such
        as ``manage_guild=True`` give the member a personal role with those permissions;
        ``owner=True`` makes them the guild owner (all permissions)."""
        guild = self._guild(guild)
        if user is None:
            if name is None:
                raise ValueError("add_member() needs a name or a user")
            user = self.add_user(name, bot=bot, global_name=global_name, dms_open=dms_open)
        else:
            self.users.setdefault(user.id, user)
        role_ids = [id_of(r) for r in roles]
        if perms:
            role_ids.append(self.add_role(guild, f"{user.name}-perms", **perms).id)
        member = FakeMember(user=user, guild_id=guild.id, role_ids=role_ids, nick=nick)
        guild.members[user.id] = member
        if owner:
            guild.owner_id = user.id
        return member

    def add_text_channel(
        self: Fake,
        guild: FakeGuild | int,
        name: str,
        *,
        topic: str | None = None,
        category: FakeChannel | int | None = None,
        overwrites: Mapping[Any, discord.PermissionOverwrite] | None = None,
        bot_can_send: bool = True,
        news: bool = False,
        nsfw: bool = False,
    ) -> FakeChannel:
        """Add a text channel.  ``overwrites`` maps FakeRole/FakeMember/FakeUser (or ids) to
        ``discord.PermissionOverwrite``; ``bot_can_send=False`` denies the bot Send Messages."""
        return self.add_channel(
            guild,
            name,
            type=CHANNEL_NEWS if news else CHANNEL_TEXT,
            topic=topic,
            category=category,
            overwrites=overwrites,
            bot_can_send=bot_can_send,
            nsfw=nsfw,
        )

    def add_channel(
        self: Fake,
        guild: FakeGuild | int,
        name: str,
        *,
        type: int = CHANNEL_TEXT,
        topic: str | None = None,
        category: FakeChannel | int | None = None,
        overwrites: Mapping[Any, discord.PermissionOverwrite] | None = None,
        bot_can_send: bool = True,
        nsfw: bool = False,
    ) -> FakeChannel:
        guild = self._guild(guild)
        channel = FakeChannel(
            id=snowflake(),
            name=name,
            type=type,
            guild_id=guild.id,
            position=len(guild.channels),
            topic=topic,
            parent_id=id_of(category) if category is not None else None,
            nsfw=nsfw,
        )
        guild.channels[channel.id] = channel
        self._channel_messages[channel.id] = []
        for target, overwrite in (overwrites or {}).items():
            self.set_overwrite(channel, target, overwrite)
        if not bot_can_send:
            self.set_overwrite(channel, self.bot_user, discord.PermissionOverwrite(send_messages=False))
        return channel

    def add_category(self: Fake, guild: FakeGuild | int, name: str) -> FakeChannel:
        return self.add_channel(guild, name, type=CHANNEL_CATEGORY)

    def set_overwrite(
        self: Fake, channel: FakeChannel | int, target: Any, overwrite: discord.PermissionOverwrite | None
    ) -> None:
        """Set (or with None remove) a permission overwrite on a guild channel."""
        channel = self._channel(channel)
        guild = self._guild(channel.guild_id)
        target_id = id_of(target)
        is_role = isinstance(target, FakeRole)
        if not is_role and not isinstance(target, (FakeMember, FakeUser)):
            is_role = target_id in guild.roles
        kind = 0 if is_role else 1
        channel.overwrites = [o for o in channel.overwrites if int(o["id"]) != target_id]
        if overwrite is not None:
            allow, deny = overwrite.pair()
            channel.overwrites.append(
                {"id": str(target_id), "type": kind, "allow": str(allow.value), "deny": str(deny.value)}
            )

    def give_role(self: Fake, member: FakeMember, role: FakeRole | int) -> None:
        """Give a member a role in the model (no gateway event; see :meth:`dispatch`)."""
        rid = id_of(role)
        if rid not in member.role_ids:
            member.role_ids.append(rid)

    # ------------------------------------------------------------------ internals: lookups

    def _now(self: Fake) -> datetime:
        """The time messages are stamped with: the given clock's, or the real one."""
        return self.clock() if self.clock is not None else datetime.now(UTC)

    def _guild(self: Fake, guild: FakeGuild | int | None) -> FakeGuild:
        if isinstance(guild, FakeGuild):
            return guild
        try:
            return self.guilds[id_of(guild)]
        except (KeyError, TypeError):
            raise FakeDiscordError(f"unknown guild {guild!r}") from None

    def _member(self: Fake, guild: FakeGuild, member: FakeMember | FakeUser | int) -> FakeMember:
        m = guild.members.get(id_of(member))
        if m is None:
            raise FakeDiscordError(f"{member!r} is not a member of guild {guild.name!r}")
        return m

    def _user(self: Fake, user: FakeUser | FakeMember | int) -> FakeUser:
        if isinstance(user, FakeMember):
            return user.user
        if isinstance(user, FakeUser):
            return user
        try:
            return self.users[id_of(user)]
        except KeyError:
            raise FakeDiscordError(f"unknown user {user!r}") from None

    def _channel(self: Fake, channel: FakeChannel | int | None) -> FakeChannel:
        if isinstance(channel, FakeChannel):
            return channel
        found = self._find_channel(id_of(channel))
        if found is None:
            raise FakeDiscordError(f"unknown channel {channel!r}")
        return found

    def _find_channel(self: Fake, channel_id: int) -> FakeChannel | None:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild.channels[channel_id]
        for ch in self.dm_channels.values():
            if ch.id == channel_id:
                return ch
        return None

    def _bot_role(self: Fake, guild: FakeGuild) -> FakeRole:
        return next(r for r in guild.roles.values() if r.bot_id == self.bot_user.id)

    def _invocation_channel(self: Fake, guild: FakeGuild, channel: FakeChannel | int | None) -> FakeChannel:
        if channel is not None:
            ch = self._channel(channel)
            if ch.guild_id != guild.id:
                raise FakeDiscordError(f"channel {ch.name!r} is not in guild {guild.name!r}")
            return ch
        for ch in guild.channels.values():
            if ch.type in (CHANNEL_TEXT, CHANNEL_NEWS):
                return ch
        raise FakeDiscordError(f"guild {guild.name!r} has no text channel to run the command in")

    def _stored_message(self: Fake, message: Any) -> dict[str, Any]:
        if isinstance(message, InteractionResult):
            shown = message.message
            if shown is None:
                raise FakeDiscordError(f"{message!r} has no message to interact with")
            message = shown
        mid = id_of(message)
        msg = self._messages.get(mid)
        if msg is None:
            raise FakeDiscordError(f"unknown (or deleted) message {mid}")
        return msg
