"""What a test or the playground reads back: messages, DMs, commands, permissions, payloads."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.playground.fake_discord.constants import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    ATTACH_FILES,
    CHANNEL_DM,
    EMBED_LINKS,
    INTENT_GUILD_PRESENCES,
    SEND_MESSAGES,
    VIEW_CHANNEL,
)
from bot.playground.fake_discord.models import (
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    RecordedRequest,
    id_of,
)

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake


class QueriesMixin:
    """Read the fake's state as Discord would show it."""

    # ------------------------------------------------------------------ queries

    def permissions_for(
        self: Fake,
        member: FakeMember | FakeUser | int,
        channel: FakeChannel | int | None = None,
        *,
        guild: FakeGuild | int | None = None,
    ) -> int:
        """Discord's permission algorithm (owner/admin, roles, channel overwrites)."""
        if channel is not None:
            channel = self._channel(channel)
            if channel.type == CHANNEL_DM:
                return VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES
            guild = self._guild(channel.guild_id)
        elif guild is None:
            if isinstance(member, FakeMember):
                guild = self._guild(member.guild_id)
            else:
                raise ValueError("permissions_for() needs a channel or a guild")
        else:
            guild = self._guild(guild)
        m = guild.members.get(id_of(member))
        if m is None:
            return 0
        if m.id == guild.owner_id:
            return ALL_PERMISSIONS
        perms = guild.everyone.permissions
        for rid in m.role_ids:
            role = guild.roles.get(rid)
            if role is not None:
                perms |= role.permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel is None:
            return perms
        ows = {int(o["id"]): o for o in channel.overwrites}
        everyone = ows.get(guild.id)
        if everyone is not None:
            perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
        allow = deny = 0
        for rid in m.role_ids:
            o = ows.get(rid)
            if o is not None and o["type"] == 0:
                allow |= int(o["allow"])
                deny |= int(o["deny"])
        perms = (perms & ~deny) | allow
        own = ows.get(m.id)
        if own is not None and own["type"] == 1:
            perms = (perms & ~int(own["deny"])) | int(own["allow"])
        if not perms & VIEW_CHANNEL:
            return 0
        return perms

    def get_message(self: Fake, message_id: int | str) -> dict[str, Any] | None:
        """A copy of a stored message (attachments carry their bytes under ``"data"``)."""
        msg = self._messages.get(int(message_id))
        return None if msg is None else self._export(msg)

    def messages_in(
        self: Fake, channel: FakeChannel | int, *, include_interactions: bool = True
    ) -> list[dict[str, Any]]:
        """Messages currently in a channel, oldest first: channel posts and (unless
        ``include_interactions=False``) non-ephemeral interaction responses / follow-ups.
        Each is a copy of the Discord message payload plus ``allowed_mentions`` as sent;
        attachments include their bytes under ``"data"``."""
        out = []
        for mid in self._channel_messages.get(id_of(channel), []):
            msg = self._messages.get(mid)
            if msg is None:
                continue
            if not include_interactions and (msg.get("interaction_metadata") or msg.get("webhook_id")):
                continue
            out.append(self._export(msg))
        return out

    def last_message(self: Fake, channel: FakeChannel | int) -> dict[str, Any] | None:
        msgs = self.messages_in(channel)
        return msgs[-1] if msgs else None

    def dm_channel(self: Fake, user: FakeUser | FakeMember | int) -> FakeChannel | None:
        return self.dm_channels.get(id_of(user))

    def dms_to(self: Fake, user: FakeUser | FakeMember | int) -> list[dict[str, Any]]:
        """Messages in the bot's DM channel with ``user``."""
        ch = self.dm_channel(user)
        return [] if ch is None else self.messages_in(ch)

    def files_of(self: Fake, message: Mapping[str, Any]) -> list[FakeFile]:
        out = []
        for att in message.get("attachments", []):
            data = self._attachment_data.get(int(att["id"]), b"")
            out.append(FakeFile(att["filename"], data, att.get("content_type"), att.get("description")))
        return out

    def commands(self: Fake, guild: FakeGuild | int | None = None) -> list[dict[str, Any]]:
        """The application commands the bot synced (globally, or for ``guild``)."""
        scope = None if guild is None else id_of(guild)
        return copy.deepcopy(list(self._commands.get(scope, {}).values()))

    def requests_to(self: Fake, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Recorded requests filtered by method and a regex searched in the path."""
        rx = re.compile(path) if path else None
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper()) and (rx is None or rx.search(r.path))
        ]

    # payload builders (handy for dispatch())
    def user_payload(self: Fake, user: FakeUser | FakeMember | int) -> dict[str, Any]:
        if isinstance(user, FakeMember):
            return user.user.to_payload()
        return self._user(user).to_payload()

    def member_payload(self: Fake, member: FakeMember, *, with_guild_id: bool = True) -> dict[str, Any]:
        data = member.to_payload()
        if with_guild_id:
            data["guild_id"] = str(member.guild_id)
        return data

    def role_payload(self: Fake, role: FakeRole) -> dict[str, Any]:
        return role.to_payload()

    def channel_payload(self: Fake, channel: FakeChannel | int) -> dict[str, Any]:
        return self._channel(channel).to_payload()

    def guild_payload(
        self: Fake, guild: FakeGuild | int, *, full: bool = True, intents: int | None = None
    ) -> dict[str, Any]:
        """The guild object; ``full=True`` gives the GUILD_CREATE shape."""
        guild = self._guild(guild)
        data: dict[str, Any] = {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id) if guild.owner_id else None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.to_payload() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": list(guild.features),
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": guild.locale,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
        }
        if full:
            everyone = intents is None or bool(intents & INTENT_GUILD_PRESENCES)
            members = list(guild.members.values()) if everyone else [guild.members[self.bot_user.id]]
            data.update(
                joined_at=guild.joined_at,
                large=False,
                unavailable=False,
                member_count=len(guild.members),
                members=[m.to_payload() for m in members],
                channels=[c.to_payload() for c in guild.channels.values()],
                threads=[],
                presences=[],
                voice_states=[],
                stage_instances=[],
                guild_scheduled_events=[],
                soundboard_sounds=[],
            )
        return data
