"""A fake Discord (REST API + gateway) that a *real* discord.py 2.x client can log into.

It is Shiplog's Discord stand-in: the test suite drives the bot through it (``tests/harness.py``),
and so does ``shiplog playground`` (``bot/playground/world.py``), so what a newcomer tries in the
page is what the tests check. It owns what Discord would hold (guilds, members, channels, messages,
commands, interactions), in memory only: it writes no table of Shiplog's.

The package follows the fake's sections. ``server`` holds :class:`FakeDiscord` (its state,
starting and stopping, running bots), composed of one mixin per section: ``builders`` (guilds,
members, roles, channels), ``queries``, ``gateway``, ``interactions``, ``commands`` (an invocation
made into an interaction), ``messages``, ``validation`` (Discord's limits), ``faults`` (injected
failures, outages, rate limits) and ``rest/`` (routing, then one module of handlers per resource).
``models`` and ``constants`` are the data and numbers they share; ``base`` is the ``Fake``
protocol their methods run on, so mypy checks each section against the others. ``servers``
builds a server from a :class:`ServerSpec`: the tests' and the playground's both start that way.

The fake is an aiohttp server on ``127.0.0.1`` (random free port).  While it is running,
``discord.http.Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` point at it, so an
unmodified ``commands.Bot`` logs in, connects to the gateway (zlib-stream compressed, exactly
like discord.com), receives READY + GUILD_CREATE, syncs its command tree and answers
interactions that the test "clicks" or "types".

Typical use::

    async with FakeDiscord() as fake:
        guild = fake.add_guild(name="Builders")
        alice = fake.add_member(guild, "alice")
        goals = fake.add_text_channel(guild, "goals")
        bot = make_bot()
        async with fake.running(bot):              # login + connect + wait_until_ready, close on exit
            await bot.tree.sync(guild=discord.Object(guild.id))
            res = await fake.invoke(guild, alice, "goal add", text="ship it", in_channel=goals)
            assert res.content == "Added!" and res.ephemeral
            assert fake.messages_in(goals)[-1]["embeds"][0]["title"] == "New goal"

Everything the client sends over REST is recorded in ``fake.requests`` (unknown routes also in
``fake.unhandled``); faults can be injected with ``fake.fail_next(...)`` or ``fake.outage = True``.

Things worth knowing:

* Build guilds/members/channels/roles *before* the bot connects (they go out in GUILD_CREATE).
  Afterwards use the async variants that also send the gateway event (``member_join``,
  ``create_role``, ``create_channel``) or ``await fake.dispatch(EVENT, payload)``.
* Create the bot while the fake runs (or use ``fake.start_bot``/``fake.running``) so on_ready
  isn't delayed by discord.py's 2 s ``guild_ready_timeout``; always close the bot before the fake.
* discord.py's own retry/backoff sleeps are scaled down while the fake runs (``retry_sleep_scale``),
  so a 500 that discord.py retries after 1 s costs ~10 ms.
* Like Discord: the initial interaction response must come within 3 s (else 404 Unknown
  interaction), an interaction can be acknowledged once (else 400 40060), messages are validated
  (2000 chars, embed limits, empty message -> 50006), channel posts need View Channel + Send
  Messages (else 403 50013), unknown channels give 404 10003, closed DMs 403 50007.
* ``invoke``/``click`` return once the member would see the answer; for bots started with
  ``start_bot``/``running`` they also know when the command handler finished or raised (a
  command that raises without answering fails fast with the exception in the message).
"""

from __future__ import annotations

from bot.playground.fake_discord.constants import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    API_PREFIX,
    ATTACH_FILES,
    CHANNEL_CATEGORY,
    CHANNEL_DM,
    CHANNEL_NEWS,
    CHANNEL_TEXT,
    CHANNEL_VOICE,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DISCORD_EPOCH_MS,
    EMBED_LINKS,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILD_PRESENCES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    ITYPE_AUTOCOMPLETE,
    ITYPE_COMMAND,
    ITYPE_COMPONENT,
    ITYPE_MODAL_SUBMIT,
    MANAGE_MESSAGES,
    MANAGE_ROLES,
    SEND_MESSAGES,
    VIEW_CHANNEL,
)
from bot.playground.fake_discord.models import (
    FakeChannel,
    FakeDiscordError,
    FakeFile,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    FaultRule,
    InteractionResult,
    InteractionTimeout,
    RecordedRequest,
    snowflake,
)
from bot.playground.fake_discord.server import FakeDiscord
from bot.playground.fake_discord.servers import Channel, Member, Server, ServerSpec, build_server

__all__ = [
    "ADMINISTRATOR",
    "ALL_PERMISSIONS",
    "API_PREFIX",
    "ATTACH_FILES",
    "CHANNEL_CATEGORY",
    "CHANNEL_DM",
    "CHANNEL_NEWS",
    "CHANNEL_TEXT",
    "CHANNEL_VOICE",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "DISCORD_EPOCH_MS",
    "EMBED_LINKS",
    "FLAG_EPHEMERAL",
    "FLAG_LOADING",
    "INTENT_DIRECT_MESSAGES",
    "INTENT_GUILDS",
    "INTENT_GUILD_MEMBERS",
    "INTENT_GUILD_MESSAGES",
    "INTENT_GUILD_PRESENCES",
    "INTENT_MESSAGE_CONTENT",
    "ITYPE_AUTOCOMPLETE",
    "ITYPE_COMMAND",
    "ITYPE_COMPONENT",
    "ITYPE_MODAL_SUBMIT",
    "MANAGE_MESSAGES",
    "MANAGE_ROLES",
    "SEND_MESSAGES",
    "VIEW_CHANNEL",
    "Channel",
    "FakeChannel",
    "FakeDiscord",
    "FakeDiscordError",
    "FakeFile",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "FaultRule",
    "InteractionResult",
    "InteractionTimeout",
    "Member",
    "RecordedRequest",
    "Server",
    "ServerSpec",
    "build_server",
    "snowflake",
]
