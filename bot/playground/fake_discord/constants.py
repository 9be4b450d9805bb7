"""Discord's numbers the fake speaks: API prefix, intents, permissions, channel and interaction types."""

from __future__ import annotations

import discord

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1420070400000

# Gateway intents
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = {
    "members": INTENT_GUILD_MEMBERS,
    "presences": INTENT_GUILD_PRESENCES,
    "message_content": INTENT_MESSAGE_CONTENT,
}

# Permission bits (taken from discord.py so they can't drift)
_P = discord.Permissions
ALL_PERMISSIONS = _P.all().value
ADMINISTRATOR = _P(administrator=True).value
VIEW_CHANNEL = _P(view_channel=True).value
SEND_MESSAGES = _P(send_messages=True).value
ATTACH_FILES = _P(attach_files=True).value
EMBED_LINKS = _P(embed_links=True).value
MANAGE_ROLES = _P(manage_roles=True).value
MANAGE_MESSAGES = _P(manage_messages=True).value
DEFAULT_EVERYONE_PERMISSIONS = _P(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    read_message_history=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    use_external_emojis=True,
    use_application_commands=True,
    create_instant_invite=True,
    change_nickname=True,
    connect=True,
    speak=True,
).value
DEFAULT_BOT_PERMISSIONS = _P(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    read_message_history=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    use_application_commands=True,
    manage_roles=True,
    manage_messages=True,
).value

# Channel types


def permission_value(permissions: int | discord.Permissions) -> int:
    """The bits of ``permissions``, given as an int or as ``discord.Permissions``."""
    return permissions.value if isinstance(permissions, discord.Permissions) else int(permissions)


CHANNEL_TEXT = 0
CHANNEL_DM = 1
CHANNEL_VOICE = 2
CHANNEL_CATEGORY = 4
CHANNEL_NEWS = 5

# Message flags
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# Interaction types / callback types
ITYPE_COMMAND = 2
ITYPE_COMPONENT = 3
ITYPE_AUTOCOMPLETE = 4
ITYPE_MODAL_SUBMIT = 5
ALLOWED_CALLBACKS = {
    ITYPE_COMMAND: {4, 5, 9},
    ITYPE_COMPONENT: {4, 5, 6, 7, 9},
    ITYPE_AUTOCOMPLETE: {8},
    ITYPE_MODAL_SUBMIT: {4, 5, 6, 7},
}

SNOWFLAKE_MIN = 1 << 22
