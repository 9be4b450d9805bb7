"""A fake Discord (REST API + gateway) that a *real* discord.py 2.x client can log into.

It is Shiplog's Discord stand-in: the test suite drives the bot through it (``tests/harness.py``),
and so does ``shiplog playground`` (``bot/playground/world.py``), so what a newcomer tries in the
page is what the tests check.

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

# Test helpers naturally take `timeout=` arguments.

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import logging
import mimetypes
import re
import secrets
import socket
import time
import types
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord
import discord.client
import discord.gateway
import discord.http
import discord.state
import discord.webhook.async_
import yarl
from aiohttp import web

__all__ = [
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
    "RecordedRequest",
]

_log = logging.getLogger("bot.playground.fake_discord")

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1420070400000

# Gateway intents
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
_PRIVILEGED_INTENTS = {
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
_ALLOWED_CALLBACKS = {
    ITYPE_COMMAND: {4, 5, 9},
    ITYPE_COMPONENT: {4, 5, 6, 7, 9},
    ITYPE_AUTOCOMPLETE: {8},
    ITYPE_MODAL_SUBMIT: {4, 5, 6, 7},
}

_SNOWFLAKE_MIN = 1 << 22


class FakeDiscordError(AssertionError):
    """The bot (or the test driving the fake) did something the fake considers wrong."""


class InteractionTimeout(FakeDiscordError):
    """The bot did not answer (or did not finish answering) an interaction in time."""


# --------------------------------------------------------------------------------------
# helpers


_last_snowflake = 0
_snowflake_increment = itertools.count()


def snowflake(at: datetime | None = None, *, after: int = 0) -> int:
    """A realistic, strictly increasing Discord snowflake (timestamp << 22 | worker | increment).

    Made at `at` (a clock's time, after the id `after`), it does not move the process's sequence:
    one playground clock pushed weeks ahead would otherwise leave every later id of every fake in
    the process with the same time bits (and so on the same shard).
    """
    global _last_snowflake
    ms = int((at.timestamp() if at is not None else time.time()) * 1000) - DISCORD_EPOCH_MS
    candidate = (ms << 22) | (1 << 17) | (next(_snowflake_increment) & 0xFFF)
    if at is not None:
        return max(candidate, after + 1)
    if candidate <= _last_snowflake:
        candidate = _last_snowflake + 1
    _last_snowflake = candidate
    return candidate


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _id_of(obj: Any) -> int:
    if isinstance(obj, int):
        return obj
    if isinstance(obj, str) and obj.isdigit():
        return int(obj)
    if isinstance(obj, Mapping) and "id" in obj:
        return int(obj["id"])
    if hasattr(obj, "id"):
        return int(obj.id)
    raise TypeError(f"cannot get a Discord id from {obj!r}")


_OPTION_TYPE_NAMES = {4: "integer", 6: "user", 7: "channel", 8: "role", 9: "user or role", 10: "number", 11: "file"}


def _content_type(file: FakeFile) -> str | None:
    if file.content_type and file.content_type != "application/octet-stream":
        return file.content_type
    return mimetypes.guess_type(file.filename)[0] or file.content_type


def _json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    # discord.py's json_or_text() only parses JSON when the content-type is *exactly*
    # "application/json" (no charset), so don't use web.json_response().
    hdrs = {"Content-Type": "application/json"}
    if headers:
        hdrs.update(headers)
    return web.Response(body=json.dumps(data).encode(), status=status, headers=hdrs)


def _error_response(status: int, code: int, message: str, errors: Mapping[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return _json_response(body, status)


def _form_error(errors: Mapping[str, Any]) -> web.Response:
    return _error_response(400, 50035, "Invalid Form Body", errors)


def _field_error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def _qualified_name(data: Mapping[str, Any]) -> str:
    """Return an invoked command's full name, its subcommand group and subcommand included."""
    parts = [str(data.get("name", ""))]
    options = data.get("options") or []
    while options and options[0].get("type") in (1, 2):
        parts.append(options[0]["name"])
        options = options[0].get("options") or []
    return " ".join(parts)


def _walk_components(components: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for comp in components or ():
        yield comp
        yield from _walk_components(comp.get("components") or ())
        if isinstance(comp.get("accessory"), Mapping):
            yield from _walk_components([comp["accessory"]])
        if isinstance(comp.get("component"), Mapping):
            yield from _walk_components([comp["component"]])


# --------------------------------------------------------------------------------------
# model


@dataclass(eq=False)
class FakeFile:
    """A file uploaded by the bot (or given to a slash command attachment option)."""

    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass(eq=False)
class FakeUser:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None
    dms_open: bool = True
    avatar: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": self.avatar,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "primary_guild": None,
        }


@dataclass(eq=False)
class FakeRole:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    managed: bool = False
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        return "@everyone" if self.id == self.guild_id else f"<@&{self.id}>"

    def to_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": self.hoist,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass(eq=False)
class FakeMember:
    user: FakeUser
    guild_id: int
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=_now_iso, repr=False)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def mention(self) -> str:
        return f"<@{self.user.id}>"

    def to_payload(self, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in self.role_ids],
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_payload()
        return data


@dataclass(eq=False)
class FakeChannel:
    id: int
    name: str | None
    type: int = CHANNEL_TEXT
    guild_id: int | None = None
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    nsfw: bool = False
    overwrites: list[dict[str, Any]] = field(default_factory=list, repr=False)
    recipients: list[FakeUser] = field(default_factory=list, repr=False)

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def to_payload(self) -> dict[str, Any]:
        if self.type == CHANNEL_DM:
            return {
                "id": str(self.id),
                "type": CHANNEL_DM,
                "last_message_id": None,
                "recipients": [u.to_payload() for u in self.recipients],
                "flags": 0,
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": copy.deepcopy(self.overwrites),
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "nsfw": self.nsfw,
            "flags": 0,
        }
        if self.type in (CHANNEL_TEXT, CHANNEL_NEWS):
            data.update(topic=self.topic, last_message_id=None, rate_limit_per_user=0)
        if self.type == CHANNEL_VOICE:
            data.update(bitrate=64000, user_limit=0, rtc_region=None)
        return data


@dataclass(eq=False)
class FakeGuild:
    id: int
    name: str
    owner_id: int = 0
    locale: str = "en-US"
    roles: dict[int, FakeRole] = field(default_factory=dict, repr=False)
    channels: dict[int, FakeChannel] = field(default_factory=dict, repr=False)
    members: dict[int, FakeMember] = field(default_factory=dict, repr=False)
    features: list[str] = field(default_factory=list, repr=False)
    joined_at: str = field(default_factory=_now_iso, repr=False)

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]

    @property
    def owner(self) -> FakeMember | None:
        return self.members.get(self.owner_id)

    def channel_named(self, name: str) -> FakeChannel:
        for ch in self.channels.values():
            if ch.name == name:
                return ch
        raise KeyError(name)

    def member_named(self, name: str) -> FakeMember:
        for m in self.members.values():
            if m.name == name:
                return m
        raise KeyError(name)

    def role_named(self, name: str) -> FakeRole:
        for r in self.roles.values():
            if r.name == name:
                return r
        raise KeyError(name)


@dataclass
class RecordedRequest:
    """One REST request the client made (path is relative to /api/v10)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    files: list[FakeFile] = field(default_factory=list)
    status: int | None = None
    response: Any = None

    def __repr__(self) -> str:
        return f"<RecordedRequest {self.method} {self.path} -> {self.status}>"


@dataclass
class FaultRule:
    method: str | None
    pattern: re.Pattern[str]
    status: int
    remaining: int
    body: Any
    headers: dict[str, str]
    hits: list[RecordedRequest] = field(default_factory=list)

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and (self.method in (None, "*") or self.method == method)
            and self.pattern.search(path) is not None
        )


# --------------------------------------------------------------------------------------
# gateway plumbing


def _make_stream_compressor(kind: str | None) -> Callable[[bytes], bytes] | None:
    """Transport compression as discord.com does it: one compression context per connection,
    every message flushed so the client can decode it on its own.

    * ``zlib-stream``: each message ends with the Z_SYNC_FLUSH marker ``00 00 ff ff``
      (discord.py buffers until it sees it).
    * ``zstd-stream``: requested by discord.py when ``zstandard`` (or Python 3.14's
      ``compression.zstd``) is importable; each message is a flushed zstd block.
    """
    if kind is None:
        return None
    if kind == "zlib-stream":
        zctx = zlib.compressobj()
        return lambda data: zctx.compress(data) + zctx.flush(zlib.Z_SYNC_FLUSH)
    if kind == "zstd-stream":
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError:
            from compression import zstd  # type: ignore[import-not-found]

            stdlib_ctx = zstd.ZstdCompressor()
            return lambda data: stdlib_ctx.compress(data, mode=zstd.ZstdCompressor.FLUSH_BLOCK)
        zstd_ctx = zstandard.ZstdCompressor().compressobj()
        return lambda data: zstd_ctx.compress(data) + zstd_ctx.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    raise ValueError(f"unsupported gateway compression {kind!r}")


class _GatewayConnection:
    def __init__(self, ws: web.WebSocketResponse, *, compress: str | None, path: str, query: dict[str, str]):
        self.ws = ws
        self.compress = compress
        self.path = path
        self.query = query
        self.session: _Session | None = None
        self.resumed = False
        self.closed = False
        self.received: list[dict[str, Any]] = []
        self.heartbeat_waiters: list[asyncio.Future[None]] = []
        self._lock = asyncio.Lock()
        self._compress = _make_stream_compressor(compress)

    async def send(self, payload: Mapping[str, Any]) -> None:
        raw = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self.closed or self.ws.closed:
                return
            try:
                if self._compress is not None:
                    await self.ws.send_bytes(self._compress(raw.encode()))
                else:
                    await self.ws.send_str(raw)
            except (ConnectionError, RuntimeError) as exc:  # socket went away under us
                _log.debug("gateway send failed: %r", exc)

    def __repr__(self) -> str:
        return f"<GatewayConnection {self.path} compress={self.compress} closed={self.closed}>"


class _Session:
    def __init__(self, *, intents: int, shard: list[int] | None):
        self.id = secrets.token_hex(16)
        self.intents = intents
        self.shard = shard
        self.seq = 0
        self.conn: _GatewayConnection | None = None
        self.events: deque[dict[str, Any]] = deque(maxlen=5000)
        self.lock = asyncio.Lock()
        self.resumable = True

    @property
    def live(self) -> bool:
        return self.conn is not None and not self.conn.closed


# --------------------------------------------------------------------------------------
# interactions


@dataclass(eq=False)
class _PendingInteraction:
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    guild_id: int
    channel_id: int
    created: float
    component_message_id: int | None = None
    callback: dict[str, Any] | None = None
    callback_type: int | None = None
    original_id: int | None = None
    loading: bool = False
    followup_ids: list[int] = field(default_factory=list)
    updates: int = 0
    done: bool = False
    error: BaseException | None = None


class InteractionResult:
    """What happened to one interaction, seen from the member's side.

    ``message`` is what the member sees as the answer: the initial response message (type 4),
    the deferred "thinking" message once it was completed by a follow-up or an edit of
    ``@original`` (type 5), or the component's message after an update (types 6/7).  The
    properties below read from it and are always up to date (edits, deletions).
    """

    def __init__(self, fake: FakeDiscord, pending: _PendingInteraction):
        self._fake = fake
        self._pi = pending

    # -- raw
    @property
    def interaction(self) -> dict[str, Any]:
        """The INTERACTION_CREATE payload that was sent to the bot."""
        return copy.deepcopy(self._pi.payload)

    @property
    def id(self) -> int:
        return self._pi.id

    @property
    def token(self) -> str:
        return self._pi.token

    @property
    def acknowledged(self) -> bool:
        return self._pi.callback is not None

    @property
    def type(self) -> int | None:
        """The callback type the bot answered with (4 message, 5 deferred, 6 deferred update,
        7 update message, 8 autocomplete, 9 modal) or None if it never answered."""
        return self._pi.callback_type

    @property
    def callback(self) -> dict[str, Any] | None:
        return copy.deepcopy(self._pi.callback)

    @property
    def data(self) -> dict[str, Any]:
        """The ``data`` of the initial callback (empty dict if none)."""
        return copy.deepcopy((self._pi.callback or {}).get("data") or {})

    @property
    def deferred(self) -> bool:
        return self._pi.callback_type in (5, 6)

    @property
    def pending(self) -> bool:
        """True while a deferred (type 5) response still shows "thinking..."."""
        return self._pi.loading

    @property
    def error(self) -> BaseException | None:
        """The exception the command raised (only known for bots started with ``fake.start_bot``)."""
        return self._pi.error

    # -- messages
    @property
    def original(self) -> dict[str, Any] | None:
        if self._pi.original_id is None:
            return None
        return self._fake.get_message(self._pi.original_id)

    @property
    def followups(self) -> list[dict[str, Any]]:
        found = (self._fake.get_message(mid) for mid in self._pi.followup_ids)
        return [m for m in found if m is not None]

    @property
    def messages(self) -> list[dict[str, Any]]:
        seen: set[str] = set()
        out = []
        for m in [self.original, *self.followups]:
            if m is not None and m["id"] not in seen:
                seen.add(m["id"])
                out.append(m)
        return out

    @property
    def message(self) -> dict[str, Any] | None:
        original = self.original
        if original is not None and not (original.get("flags", 0) & FLAG_LOADING):
            return original
        followups = self.followups
        if followups:
            return followups[0]
        return original

    @property
    def content(self) -> str | None:
        msg = self.message
        return None if msg is None else msg.get("content")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        msg = self.message
        return [] if msg is None else msg.get("embeds", [])

    @property
    def embed(self) -> dict[str, Any] | None:
        embeds = self.embeds
        return embeds[0] if embeds else None

    @property
    def components(self) -> list[dict[str, Any]]:
        msg = self.message
        return [] if msg is None else msg.get("components", [])

    @property
    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in _walk_components(self.components) if "custom_id" in c]

    @property
    def flags(self) -> int:
        msg = self.message
        if msg is not None:
            return int(msg.get("flags", 0))
        return int(self.data.get("flags", 0) or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        msg = self.message
        return None if msg is None else msg.get("allowed_mentions")

    @property
    def files(self) -> list[FakeFile]:
        msg = self.message
        return [] if msg is None else self._fake.files_of(msg)

    # -- other callback kinds
    @property
    def choices(self) -> list[dict[str, Any]]:
        return self.data.get("choices", []) if self._pi.callback_type == 8 else []

    @property
    def modal(self) -> dict[str, Any] | None:
        return self.data if self._pi.callback_type == 9 else None

    async def wait_for(
        self, predicate: Callable[[InteractionResult], bool], *, timeout: float = 5.0
    ) -> InteractionResult:
        """Wait until ``predicate(self)`` is true (e.g. ``lambda r: len(r.followups) >= 2``)."""
        loop = asyncio.get_running_loop()
        if not await self._fake._wait_until(lambda: predicate(self), loop.time() + timeout):
            raise InteractionTimeout(f"condition not met within {timeout}s for {self!r}")
        return self

    def __repr__(self) -> str:
        name = (self._pi.payload.get("data") or {}).get("name") or (self._pi.payload.get("data") or {}).get("custom_id")
        return (
            f"<InteractionResult {name!r} type={self.type} content={self.content!r} "
            f"ephemeral={self.ephemeral} followups={len(self._pi.followup_ids)}>"
        )


# --------------------------------------------------------------------------------------
# discord.py patches


class _ScaledAsyncio(types.ModuleType):
    """Stands in for the ``asyncio`` module inside discord.http, discord.webhook.async_ and
    discord.client so that their sleeps are scaled down: HTTP retries (1 s, 3 s, ... on 5xx),
    rate-limit waits (retry_after on 429), the 5 s ``before_identify_hook`` wait before every
    re-IDENTIFY and the reconnect backoff.  Everything else is forwarded to the real asyncio."""

    def __init__(self, scale: float):
        super().__init__("asyncio")
        self._scale = scale

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        return await asyncio.sleep(max(0.0, delay) * self._scale, result)


_SCALED_MODULES: tuple[Any, ...] = (discord.http, discord.webhook.async_, discord.client)


# --------------------------------------------------------------------------------------
# the fake


class FakeDiscord:
    """A fake Discord API + gateway.  Use as ``async with FakeDiscord() as fake: ...``.

    Parameters
    ----------
    bot_name:
        Username of the bot user (its id is also the application id).
    bot_permissions:
        Permissions of the bot's managed role in every guild (int or ``discord.Permissions``).
    privileged_intents:
        Privileged intents enabled in the "developer portal" (subset of members, presences,
        message_content).  Identifying with others closes the gateway with 4014.
    retry_sleep_scale:
        Factor applied to discord.py's internal sleeps while the fake runs: HTTP 5xx retries and
        429 waits, the 5 s pause before a re-IDENTIFY and the reconnect backoff (so a 500 that
        discord.py retries after 1 s only costs 10 ms).  ``None`` leaves them alone.
    interaction_deadline:
        Seconds within which the initial interaction callback must arrive (Discord: 3 s).
        Later callbacks get ``404 Unknown interaction`` like on Discord.  ``None`` disables.
    channel_rate_limit:
        ``(messages, seconds)``: enforce Discord's per-channel limit on posting messages, e.g.
        ``(5, 5.0)``.  Each channel has a window that starts at its first post; past the limit
        the fake answers 429 with ``retry_after`` (and the ``X-RateLimit-*`` headers on every
        post, like Discord).  ``None`` (the default) enforces nothing.
    clock:
        What time it is for the messages' timestamps (and their ids, which carry the time), e.g.
        the playground's movable clock.  ``None`` (the default) uses the real time.
    heartbeat_ack_delay:
        Seconds before a heartbeat is acknowledged: a network's round trip.  At once, the ACK can
        beat discord.py's keep-alive thread to noting when it sent, which it reads as a latency of
        a whole heartbeat interval.
    guild_ready_timeout:
        discord.py waits this long after the last GUILD_CREATE before firing ``on_ready``
        (its default of 2 s slows tests down).  Applied to bots started with
        :meth:`start_bot` and, with ``patch_ready_timeout``, to every client constructed
        while the fake runs without an explicit ``guild_ready_timeout=``.
    """

    def __init__(
        self,
        *,
        bot_name: str = "Shiplog",
        bot_permissions: int | discord.Permissions = DEFAULT_BOT_PERMISSIONS,
        privileged_intents: Iterable[str] = ("members", "presences", "message_content"),
        retry_sleep_scale: float | None = 0.01,
        interaction_deadline: float | None = 3.0,
        heartbeat_interval: float = 41.25,
        heartbeat_ack_delay: float = 0.05,
        guild_ready_timeout: float = 0.1,
        patch_ready_timeout: bool = True,
        channel_rate_limit: tuple[int, float] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.clock = clock
        self._last_clocked_id = 0  # message ids made at the clock's time only increase
        self.token = f"FAKE.{secrets.token_urlsafe(18)}.{secrets.token_urlsafe(8)}"
        self.bot_user = FakeUser(id=snowflake(), name=bot_name, bot=True)
        self.app_owner = FakeUser(id=snowflake(), name="app-owner")
        self.application_id = self.bot_user.id
        self.bot_permissions = int(getattr(bot_permissions, "value", bot_permissions))
        unknown = set(privileged_intents) - set(_PRIVILEGED_INTENTS)
        if unknown:
            raise ValueError(f"unknown privileged intents: {unknown}")
        self.privileged_intents = set(privileged_intents)
        self.retry_sleep_scale = retry_sleep_scale
        self.interaction_deadline = interaction_deadline
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_ack_delay = heartbeat_ack_delay
        self._acks: set[asyncio.Task[None]] = set()
        self.guild_ready_timeout = guild_ready_timeout
        self.patch_ready_timeout = patch_ready_timeout

        self.guilds: dict[int, FakeGuild] = {}
        # Guilds the bot was removed from (remove_bot): kept for invite_bot, unknown to the API meanwhile.
        self.departed_guilds: dict[int, FakeGuild] = {}
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user, self.app_owner.id: self.app_owner}
        self.dm_channels: dict[int, FakeChannel] = {}  # user id -> DM channel

        # records
        self.requests: list[RecordedRequest] = []
        self.unhandled: list[RecordedRequest] = []
        self.command_overrides: set[tuple[int, str]] = set()
        self.gateway_connections: list[_GatewayConnection] = []
        self.gateway_errors: list[str] = []
        self.deleted_messages: list[dict[str, Any]] = []
        self.presence: dict[str, Any] | None = None
        self.identify_count = 0
        self.resume_count = 0
        self.bot_errors: list[BaseException] = []

        # fault injection
        self.outage = False
        self.rest_delay = 0.0
        self._faults: list[FaultRule] = []
        # Set to an asyncio.Event to hold the gateway: a new connection gets no HELLO until the
        # event is set (the bot logs in over REST, but is not ready).
        self.gateway_hold: asyncio.Event | None = None
        self.channel_rate_limit = channel_rate_limit
        # What GET /gateway/bot recommends: an AutoShardedClient without shard_count runs this many.
        self.recommended_shards = 1
        self._channel_windows: dict[str, tuple[float, int]] = {}  # channel id -> (window start, posts)
        self.rate_limited = 0  # posts answered 429 by channel_rate_limit

        # state
        self._messages: dict[int, dict[str, Any]] = {}
        self._channel_messages: dict[int, list[int]] = {}
        self._attachment_data: dict[int, bytes] = {}
        self._commands: dict[int | None, dict[tuple[int, str], dict[str, Any]]] = {}
        self._interactions: dict[int, _PendingInteraction] = {}
        self._interactions_by_token: dict[str, _PendingInteraction] = {}
        self._sessions: dict[str, _Session] = {}
        self._conns: set[_GatewayConnection] = set()
        self._connect_generation = 0
        self._bots: dict[discord.Client, asyncio.Task[None]] = {}
        self._inflight = 0
        self._last_activity = 0.0
        self._changed: asyncio.Event | None = None
        self._watched: list[discord.Client] = []

        self._routes = self._build_routes()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._saved: dict[str, Any] = {}

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway-resume"

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._ws_handler)
        app.router.add_get("/gateway-resume", self._ws_handler)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment_handler)
        app.router.add_route("*", "/{tail:.*}", self._rest_handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        self._changed = asyncio.Event()

        # point discord.py at us
        self._saved["route_base"] = discord.http.Route.BASE
        self._saved["gateway"] = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        if self.retry_sleep_scale is not None:
            scaled = _ScaledAsyncio(self.retry_sleep_scale)
            for module in _SCALED_MODULES:
                self._saved[f"asyncio:{module.__name__}"] = module.asyncio
                module.asyncio = scaled
        if self.patch_ready_timeout:
            # discord.py fires on_ready `guild_ready_timeout` (default 2 s) after the last
            # GUILD_CREATE.  Clients *created while the fake runs* that don't pass the option
            # get the fake's (short) value instead, so manual login/connect flows are fast too.
            original_init = discord.state.ConnectionState.__init__
            ready_timeout = self.guild_ready_timeout

            def __init__(state: Any, *args: Any, **options: Any) -> None:
                original_init(state, *args, **options)
                if "guild_ready_timeout" not in options:
                    state.guild_ready_timeout = ready_timeout

            self._saved["state_init"] = original_init
            discord.state.ConnectionState.__init__ = __init__  # type: ignore[method-assign]

    async def close(self) -> None:
        for ack in list(self._acks):
            ack.cancel()
        for bot in list(self._bots):
            with contextlib.suppress(Exception):
                await self.stop_bot(bot)
        for conn in list(self._conns):
            conn.closed = True
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"fake discord shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if "route_base" in self._saved:
            discord.http.Route.BASE = self._saved.pop("route_base")
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved.pop("gateway")
        if "state_init" in self._saved:
            discord.state.ConnectionState.__init__ = self._saved.pop("state_init")  # type: ignore[method-assign]
        for module in _SCALED_MODULES:
            if f"asyncio:{module.__name__}" in self._saved:
                module.asyncio = self._saved.pop(f"asyncio:{module.__name__}")

    # ------------------------------------------------------------------ running a bot

    async def start_bot(self, bot: discord.Client, *, timeout: float = 10.0) -> None:
        """Log ``bot`` in with :attr:`token`, connect it in a background task and wait until
        it is ready.  Also hooks the command tree so :meth:`invoke` knows when a command
        finished (or raised) instead of relying on timing alone."""
        conn_state = bot._connection
        conn_state.guild_ready_timeout = min(conn_state.guild_ready_timeout, self.guild_ready_timeout)
        await bot.login(self.token)
        self.watch(bot)
        task = asyncio.create_task(bot.connect(reconnect=True), name="fake-discord-bot-connect")
        self._bots[bot] = task
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if ready in done:
            return
        ready.cancel()
        if task in done:
            self._bots.pop(bot, None)
            await bot.close()
            task.result()  # re-raise why connect() ended
            raise FakeDiscordError("bot.connect() returned before the bot became ready")
        raise InteractionTimeout(f"bot not ready after {timeout}s (gateway: {self.gateway_connections})")

    async def stop_bot(self, bot: discord.Client) -> None:
        """``await bot.close()`` and wait for its connect task to finish."""
        task = self._bots.pop(bot, None)
        await bot.close()
        if task is not None:
            try:
                await asyncio.wait_for(task, timeout=5.0)
            except (Exception, asyncio.CancelledError) as exc:
                self.bot_errors.append(exc)

    @contextlib.asynccontextmanager
    async def running(self, bot: discord.Client, *, timeout: float = 10.0) -> AsyncIterator[discord.Client]:
        """``async with fake.running(bot): ...`` — start_bot() on enter, stop_bot() on exit."""
        await self.start_bot(bot, timeout=timeout)
        try:
            yield bot
        finally:
            await self.stop_bot(bot)

    def watch(self, bot: discord.Client) -> None:
        """Hook ``bot`` so the fake learns when an app command finished or failed.

        Uses only public hooks: the ``app_command_completion`` event and ``tree.on_error``
        (wrapped; the original still runs)."""
        tree = getattr(bot, "tree", None)
        if tree is None or not hasattr(bot, "add_listener") or getattr(tree, "_fake_discord_watched", False):
            return
        tree._fake_discord_watched = True
        self._watched.append(bot)

        async def on_app_command_completion(interaction: discord.Interaction, command: Any) -> None:
            self._mark_done(interaction.id, None)

        bot.add_listener(on_app_command_completion, "on_app_command_completion")
        original_on_error = tree.on_error

        async def on_error(interaction: discord.Interaction, error: Exception, /) -> None:
            pi = self._interactions.get(interaction.id)
            if pi is not None:
                pi.error = error
            try:
                await original_on_error(interaction, error)
            finally:
                self._mark_done(interaction.id, error)

        tree.on_error = on_error

    def _mark_done(self, interaction_id: int, error: BaseException | None) -> None:
        pi = self._interactions.get(interaction_id)
        if pi is not None:
            pi.done = True
            if error is not None:
                pi.error = error
            self._notify()

    # ------------------------------------------------------------------ builders

    def add_guild(
        self,
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
        self, name: str, *, bot: bool = False, global_name: str | None = None, dms_open: bool = True
    ) -> FakeUser:
        user = FakeUser(id=snowflake(), name=name, bot=bot, global_name=global_name, dms_open=dms_open)
        self.users[user.id] = user
        return user

    def add_role(
        self,
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
        value = int(getattr(permissions, "value", permissions)) | (_P(**perms).value if perms else 0)
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
        self,
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
        role_ids = [_id_of(r) for r in roles]
        if perms:
            role_ids.append(self.add_role(guild, f"{user.name}-perms", **perms).id)
        member = FakeMember(user=user, guild_id=guild.id, role_ids=role_ids, nick=nick)
        guild.members[user.id] = member
        if owner:
            guild.owner_id = user.id
        return member

    def add_text_channel(
        self,
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
        self,
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
            parent_id=_id_of(category) if category is not None else None,
            nsfw=nsfw,
        )
        guild.channels[channel.id] = channel
        self._channel_messages[channel.id] = []
        for target, overwrite in (overwrites or {}).items():
            self.set_overwrite(channel, target, overwrite)
        if not bot_can_send:
            self.set_overwrite(channel, self.bot_user, discord.PermissionOverwrite(send_messages=False))
        return channel

    def add_category(self, guild: FakeGuild | int, name: str) -> FakeChannel:
        return self.add_channel(guild, name, type=CHANNEL_CATEGORY)

    def set_overwrite(
        self, channel: FakeChannel | int, target: Any, overwrite: discord.PermissionOverwrite | None
    ) -> None:
        """Set (or with None remove) a permission overwrite on a guild channel."""
        channel = self._channel(channel)
        guild = self._guild(channel.guild_id)
        target_id = _id_of(target)
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

    def give_role(self, member: FakeMember, role: FakeRole | int) -> None:
        """Give a member a role in the model (no gateway event; see :meth:`dispatch`)."""
        rid = _id_of(role)
        if rid not in member.role_ids:
            member.role_ids.append(rid)

    # ------------------------------------------------------------------ queries

    def permissions_for(
        self,
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
        m = guild.members.get(_id_of(member))
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

    def get_message(self, message_id: int | str) -> dict[str, Any] | None:
        """A copy of a stored message (attachments carry their bytes under ``"data"``)."""
        msg = self._messages.get(int(message_id))
        return None if msg is None else self._export(msg)

    def messages_in(self, channel: FakeChannel | int, *, include_interactions: bool = True) -> list[dict[str, Any]]:
        """Messages currently in a channel, oldest first: channel posts and (unless
        ``include_interactions=False``) non-ephemeral interaction responses / follow-ups.
        Each is a copy of the Discord message payload plus ``allowed_mentions`` as sent;
        attachments include their bytes under ``"data"``."""
        out = []
        for mid in self._channel_messages.get(_id_of(channel), []):
            msg = self._messages.get(mid)
            if msg is None:
                continue
            if not include_interactions and (msg.get("interaction_metadata") or msg.get("webhook_id")):
                continue
            out.append(self._export(msg))
        return out

    def last_message(self, channel: FakeChannel | int) -> dict[str, Any] | None:
        msgs = self.messages_in(channel)
        return msgs[-1] if msgs else None

    def dm_channel(self, user: FakeUser | FakeMember | int) -> FakeChannel | None:
        return self.dm_channels.get(_id_of(user))

    def dms_to(self, user: FakeUser | FakeMember | int) -> list[dict[str, Any]]:
        """Messages in the bot's DM channel with ``user``."""
        ch = self.dm_channel(user)
        return [] if ch is None else self.messages_in(ch)

    def files_of(self, message: Mapping[str, Any]) -> list[FakeFile]:
        out = []
        for att in message.get("attachments", []):
            data = self._attachment_data.get(int(att["id"]), b"")
            out.append(FakeFile(att["filename"], data, att.get("content_type"), att.get("description")))
        return out

    def commands(self, guild: FakeGuild | int | None = None) -> list[dict[str, Any]]:
        """The application commands the bot synced (globally, or for ``guild``)."""
        scope = None if guild is None else _id_of(guild)
        return copy.deepcopy(list(self._commands.get(scope, {}).values()))

    def requests_to(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Recorded requests filtered by method and a regex searched in the path."""
        rx = re.compile(path) if path else None
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper()) and (rx is None or rx.search(r.path))
        ]

    # payload builders (handy for dispatch())
    def user_payload(self, user: FakeUser | FakeMember | int) -> dict[str, Any]:
        if isinstance(user, FakeMember):
            return user.user.to_payload()
        return self._user(user).to_payload()

    def member_payload(self, member: FakeMember, *, with_guild_id: bool = True) -> dict[str, Any]:
        data = member.to_payload()
        if with_guild_id:
            data["guild_id"] = str(member.guild_id)
        return data

    def role_payload(self, role: FakeRole) -> dict[str, Any]:
        return role.to_payload()

    def channel_payload(self, channel: FakeChannel | int) -> dict[str, Any]:
        return self._channel(channel).to_payload()

    def guild_payload(self, guild: FakeGuild | int, *, full: bool = True, intents: int | None = None) -> dict[str, Any]:
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

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str | None,
        path_regex: str,
        status: int,
        times: int = 1,
        json: Any = None,
        *,
        retry_after: float = 0.05,
        is_global: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> FaultRule:
        """Answer the next ``times`` requests whose method matches (None/"*" = any) and whose
        path (relative to /api/v10, e.g. ``/channels/123/messages``) matches ``path_regex``
        (``re.search``) with ``status``.  Sensible Discord-style bodies are used by default
        (403 -> 50013 Missing Permissions, 429 -> retry_after + the headers discord.py needs)."""
        hdrs = dict(headers or {})
        if json is None:
            json = self._default_error_body(status, retry_after=retry_after, is_global=is_global)
        if status == 429:
            hdrs.setdefault("Retry-After", str(max(1, int(retry_after + 0.999))))
            hdrs.setdefault("X-RateLimit-Limit", "5")
            hdrs.setdefault("X-RateLimit-Remaining", "0")
            hdrs.setdefault("X-RateLimit-Reset-After", str(retry_after))
            hdrs.setdefault("X-RateLimit-Bucket", "fake-bucket")
            hdrs.setdefault("X-RateLimit-Scope", "global" if is_global else "user")
            if is_global:
                hdrs.setdefault("X-RateLimit-Global", "true")
            # discord.py treats a 429 without a Via header as a Cloudflare ban.
            hdrs.setdefault("Via", "1.1 google")
        rule = FaultRule(
            method=method.upper() if method else None,
            pattern=re.compile(path_regex),
            status=status,
            remaining=times,
            body=json,
            headers=hdrs,
        )
        self._faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        self._faults.clear()

    @staticmethod
    def _default_error_body(status: int, *, retry_after: float = 0.05, is_global: bool = False) -> Any:
        if status == 429:
            return {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": is_global,
                "code": 0,
            }
        known = {
            400: {"message": "400: Bad Request", "code": 0},
            401: {"message": "401: Unauthorized", "code": 0},
            403: {"message": "Missing Permissions", "code": 50013},
            404: {"message": "404: Not Found", "code": 0},
            500: {"message": "500: Internal Server Error", "code": 0},
            502: {"message": "502: Bad Gateway", "code": 0},
            503: {"message": "503: Service Unavailable", "code": 0},
        }
        return known.get(status, {"message": f"{status}: Error", "code": 0})

    # ------------------------------------------------------------------ gateway API

    @property
    def connected(self) -> bool:
        return any(s.live for s in self._sessions.values())

    async def dispatch(
        self, event: str, data: Mapping[str, Any], *, sync: bool = True, intent: int | None = None
    ) -> None:
        """Send a gateway DISPATCH (``{"op":0,"t":event,"d":data}``) to every session.  With
        ``sync=True`` this returns once the client has parsed it (event handlers are then
        scheduled, though not necessarily finished).  ``intent`` restricts it to sessions that
        identified with that intent bit."""
        sessions = [s for s in self._sessions.values() if intent is None or s.intents & intent]
        if not sessions:
            if intent is None:
                raise FakeDiscordError("no bot has connected to the fake gateway")
            return
        for session in sessions:
            await self._dispatch_to(session, event, dict(data))
        if sync:
            await self.sync()

    async def sync(self, timeout: float = 5.0) -> None:
        """Round-trip a server-requested heartbeat on every live connection: when it returns,
        every frame sent before has been processed by the client's gateway loop."""
        loop = asyncio.get_running_loop()
        futures = []
        for conn in list(self._conns):
            if conn.session is None or conn.closed:
                continue
            fut: asyncio.Future[None] = loop.create_future()
            conn.heartbeat_waiters.append(fut)
            futures.append(fut)
            await conn.send({"op": 1, "d": None})
        if futures:
            await asyncio.wait_for(asyncio.gather(*futures), timeout)
        for _ in range(3):
            await asyncio.sleep(0)

    async def disconnect_clients(
        self, code: int = 4000, *, wait_for_reconnect: bool = True, timeout: float = 5.0
    ) -> None:
        """Close every gateway connection with ``code``.  Resumable codes (e.g. the default
        4000) make discord.py RESUME on ``resume_gateway_url``; with ``wait_for_reconnect``
        this returns once it has (RESUMED or a new READY was sent)."""
        conns = [c for c in self._conns if not c.closed]
        generation = self._connect_generation
        for conn in conns:
            with contextlib.suppress(Exception):
                await conn.ws.close(code=code, message=b"fake disconnect")
        if wait_for_reconnect and conns:
            loop = asyncio.get_running_loop()
            if not await self._wait_until(lambda: self._connect_generation > generation, loop.time() + timeout):
                raise InteractionTimeout(f"client did not reconnect within {timeout}s")

    def invalidate_sessions(self) -> None:
        """Make every existing session non-resumable: the client's next RESUME gets
        INVALID_SESSION (op 9, d=false) and it has to IDENTIFY again."""
        for session in self._sessions.values():
            session.resumable = False

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT to every live connection (the client then resumes)."""
        for conn in list(self._conns):
            if conn.session is not None and not conn.closed:
                await conn.send({"op": 7, "d": None})

    async def member_join(self, guild: FakeGuild | int, name: str | None = None, **kwargs: Any) -> FakeMember:
        """add_member() + GUILD_MEMBER_ADD to sessions with the members intent."""
        member = self.add_member(guild, name, **kwargs)
        await self.dispatch("GUILD_MEMBER_ADD", self.member_payload(member), intent=INTENT_GUILD_MEMBERS)
        return member

    async def create_role(self, guild: FakeGuild | int, name: str, **kwargs: Any) -> FakeRole:
        """add_role() + GUILD_ROLE_CREATE (for roles created while the bot is connected)."""
        role = self.add_role(guild, name, **kwargs)
        await self.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(role.guild_id), "role": role.to_payload()})
        return role

    async def create_channel(self, guild: FakeGuild | int, name: str, **kwargs: Any) -> FakeChannel:
        """add_channel() + CHANNEL_CREATE (for channels created while the bot is connected)."""
        channel = self.add_channel(guild, name, **kwargs)
        await self.dispatch("CHANNEL_CREATE", channel.to_payload())
        return channel

    async def member_leave(self, member: FakeMember) -> None:
        guild = self._guild(member.guild_id)
        guild.members.pop(member.id, None)
        await self.dispatch(
            "GUILD_MEMBER_REMOVE",
            {"guild_id": str(guild.id), "user": member.user.to_payload()},
            intent=INTENT_GUILD_MEMBERS,
        )

    async def remove_bot(self, guild: FakeGuild | int) -> None:
        """Kick the bot from a guild: GUILD_DELETE without ``unavailable`` (a removal, not an outage)
        to sessions with the guilds intent. From then on the guild and its channels are unknown to
        the bot's REST calls (404), and a new connection's READY no longer lists it."""
        guild = self._guild(guild)
        self.guilds.pop(guild.id, None)
        self.departed_guilds[guild.id] = guild
        await self.dispatch("GUILD_DELETE", {"id": str(guild.id)}, intent=INTENT_GUILDS)

    async def invite_bot(self, guild: FakeGuild | int) -> None:
        """Add the bot to a guild (again): GUILD_CREATE without ``unavailable``, which discord.py
        reads as a join (``on_guild_join``), to sessions with the guilds intent."""
        gid = _id_of(guild)
        found = self.departed_guilds.pop(gid, None) or (guild if isinstance(guild, FakeGuild) else None)
        if found is None:
            raise FakeDiscordError(f"unknown guild {guild!r}")
        self.guilds[found.id] = found
        found.members.setdefault(
            self.bot_user.id, FakeMember(user=self.bot_user, guild_id=found.id, role_ids=[self._bot_role(found).id])
        )
        for session in [s for s in self._sessions.values() if s.intents & INTENT_GUILDS]:
            payload = self.guild_payload(found, intents=session.intents)
            payload.pop("unavailable", None)
            await self._dispatch_to(session, "GUILD_CREATE", payload)
        await self.sync()

    async def member_rejoin(self, member: FakeMember) -> FakeMember:
        """A member who left joins again (same user): GUILD_MEMBER_ADD to sessions with the members intent."""
        return await self.member_join(member.guild_id, user=member.user)

    async def user_message(
        self, channel: FakeChannel | int, author: FakeMember | FakeUser, content: str = "", **fields: Any
    ) -> dict[str, Any]:
        """A (non-bot) user posts a message: stored and sent as MESSAGE_CREATE (content is
        blanked for bots without the message_content intent, like Discord does)."""
        channel = self._channel(channel)
        user = author.user if isinstance(author, FakeMember) else author
        body = {"content": content, **fields}
        msg = self._create_message(channel, user, body, [])
        await self._echo_message_event("MESSAGE_CREATE", msg, sync=True)
        return self._export(msg)

    # ------------------------------------------------------------------ interactions API

    async def invoke(
        self,
        guild: FakeGuild | int,
        member: FakeMember | int,
        command: str,
        /,
        *,
        in_channel: FakeChannel | int | None = None,
        options: Mapping[str, Any] | None = None,
        timeout: float = 5.0,
        settle: float = 0.05,
        expect_response: bool = True,
        locale: str = "en-US",
        **kwargs: Any,
    ) -> InteractionResult:
        """Run a slash command as ``member``, e.g. ``invoke(g, alice, "goal add", text="x")``.

        ``command`` is the full qualified name (groups / subcommands separated by spaces).
        Options come from ``options=`` and keyword arguments and are typed using the command
        as the bot *synced* it (FakeMember/FakeUser/FakeChannel/FakeRole/ids for entity
        options, FakeFile for attachments).  The command runs in ``in_channel`` (default: the
        guild's first text channel); a ``channel=`` keyword is taken as ``in_channel`` unless
        the command has an option called ``channel``.

        Returns once the bot answered — and for deferred answers, once the follow-up/edit
        arrived — plus ``settle`` seconds of REST silence.  Raises InteractionTimeout if the
        bot didn't answer within ``timeout`` (unless ``expect_response=False``)."""
        guild = self._guild(guild)
        member = self._member(guild, member)
        values = dict(options or {})
        name = command.strip().lstrip("/")
        parts = name.split()
        cmd, scope = self._find_command(guild, parts[0], 1)
        leaf = self._command_leaf(cmd, parts)
        leaf_names = {o["name"] for o in leaf.get("options", [])}
        if "channel" in kwargs and "channel" not in leaf_names and in_channel is None:
            in_channel = kwargs.pop("channel")
        values.update(kwargs)
        channel = self._invocation_channel(guild, in_channel)
        self._check_can_use(guild, member, channel, cmd, name)
        options_payload, resolved = self._build_options(guild, channel, cmd, parts, values, focused=None)
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": options_payload}
        if scope is not None:
            data["guild_id"] = str(scope)
        if resolved:
            data["resolved"] = resolved
        pi = await self._send_interaction(ITYPE_COMMAND, guild, member, channel, data, locale=locale)
        return await self._await_result(pi, timeout=timeout, settle=settle, expect_response=expect_response)

    async def invoke_context_menu(
        self,
        guild: FakeGuild | int,
        member: FakeMember | int,
        name: str,
        target: Any,
        /,
        *,
        in_channel: FakeChannel | int | None = None,
        timeout: float = 5.0,
        settle: float = 0.05,
        expect_response: bool = True,
    ) -> InteractionResult:
        """Run a user (target = member/user) or message (target = message dict) context menu."""
        guild = self._guild(guild)
        member = self._member(guild, member)
        is_message = isinstance(target, Mapping) and "content" in target
        ctype = 3 if is_message else 2
        cmd, scope = self._find_command(guild, name, ctype)
        resolved: dict[str, Any] = {}
        if is_message:
            msg = self._messages.get(int(target["id"]))
            if msg is None:
                raise FakeDiscordError(f"unknown message {target['id']}")
            channel = self._channel(int(msg["channel_id"]))
            resolved["messages"] = {msg["id"]: self._public(msg)}
            target_id = msg["id"]
        else:
            channel = self._invocation_channel(guild, in_channel)
            self._resolve_user(guild, channel, target, resolved)
            target_id = str(_id_of(target))
        self._check_can_use(guild, member, channel, cmd, name)
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": ctype,
            "target_id": target_id,
            "resolved": resolved,
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        pi = await self._send_interaction(ITYPE_COMMAND, guild, member, channel, data)
        return await self._await_result(pi, timeout=timeout, settle=settle, expect_response=expect_response)

    async def autocomplete(
        self,
        guild: FakeGuild | int,
        member: FakeMember | int,
        command: str,
        option: str,
        value: str = "",
        /,
        *,
        in_channel: FakeChannel | int | None = None,
        options: Mapping[str, Any] | None = None,
        timeout: float = 5.0,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Type ``value`` into the autocompleted ``option`` of ``command`` (other options already
        filled in via ``options=``/kwargs) and return the bot's choices
        (``[{"name": ..., "value": ...}, ...]``)."""
        guild = self._guild(guild)
        member = self._member(guild, member)
        parts = command.strip().lstrip("/").split()
        cmd, scope = self._find_command(guild, parts[0], 1)
        leaf = self._command_leaf(cmd, parts)
        opt_def = next((o for o in leaf.get("options", []) if o["name"] == option), None)
        if opt_def is None:
            raise FakeDiscordError(f"/{' '.join(parts)} has no option {option!r}")
        if not opt_def.get("autocomplete"):
            raise FakeDiscordError(f"option {option!r} of /{' '.join(parts)} is not synced with autocomplete=True")
        values = dict(options or {})
        leaf_names = {o["name"] for o in leaf.get("options", [])}
        if "channel" in kwargs and "channel" not in leaf_names and in_channel is None:
            in_channel = kwargs.pop("channel")
        values.update(kwargs)
        values[option] = value
        channel = self._invocation_channel(guild, in_channel)
        options_payload, resolved = self._build_options(guild, channel, cmd, parts, values, focused=option)
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": options_payload}
        if scope is not None:
            data["guild_id"] = str(scope)
        if resolved:
            data["resolved"] = resolved
        pi = await self._send_interaction(ITYPE_AUTOCOMPLETE, guild, member, channel, data)
        res = await self._await_result(pi, timeout=timeout, settle=0.0, expect_response=True)
        if res.type != 8:
            raise FakeDiscordError(f"autocomplete answered with callback type {res.type}, expected 8")
        return res.choices

    async def click(
        self,
        guild: FakeGuild | int,
        member: FakeMember | int,
        message: Any,
        custom_id: str,
        /,
        *,
        values: Sequence[Any] | None = None,
        timeout: float = 5.0,
        settle: float = 0.05,
        expect_response: bool = True,
    ) -> InteractionResult:
        """Click a button (or choose ``values`` in a select) with ``custom_id`` on ``message``
        (a message dict, message id, or an InteractionResult whose message to use)."""
        guild = self._guild(guild)
        member = self._member(guild, member)
        msg = self._stored_message(message)
        comp = next((c for c in _walk_components(msg.get("components", [])) if c.get("custom_id") == custom_id), None)
        if comp is None:
            ids = [c["custom_id"] for c in _walk_components(msg.get("components", [])) if "custom_id" in c]
            raise FakeDiscordError(f"message {msg['id']} has no component {custom_id!r}; it has {ids}")
        if comp.get("disabled"):
            raise FakeDiscordError(f"component {custom_id!r} is disabled")
        channel = self._channel(int(msg["channel_id"]))
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": comp["type"]}
        ctype = comp["type"]
        if ctype == 2:
            if values:
                raise FakeDiscordError("buttons take no values")
        else:
            data.update(self._select_values(guild, channel, comp, values or []))
        pi = await self._send_interaction(
            ITYPE_COMPONENT,
            guild,
            member,
            channel,
            data,
            message=self._public(msg),
            component_message_id=int(msg["id"]),
        )
        return await self._await_result(pi, timeout=timeout, settle=settle, expect_response=expect_response)

    async def submit_modal(
        self,
        guild: FakeGuild | int,
        member: FakeMember | int,
        source: InteractionResult,
        values: Mapping[str, Any],
        /,
        *,
        timeout: float = 5.0,
        settle: float = 0.05,
        expect_response: bool = True,
    ) -> InteractionResult:
        """Fill in and submit the modal the bot opened in ``source`` (a result of type 9).
        ``values`` maps text-input custom_ids to strings (select custom_ids to lists)."""
        modal = source.modal
        if modal is None:
            raise FakeDiscordError(f"{source!r} did not open a modal")
        guild = self._guild(guild)
        member = self._member(guild, member)
        unknown = set(values)
        components = self._fill_modal(modal.get("components", []), values, unknown)
        if unknown:
            raise FakeDiscordError(f"modal {modal.get('custom_id')!r} has no inputs {sorted(unknown)}")
        data = {"custom_id": modal["custom_id"], "components": components}
        src = source._pi
        channel = self._channel(src.channel_id)
        message = None
        if src.component_message_id is not None and src.component_message_id in self._messages:
            message = self._public(self._messages[src.component_message_id])
        pi = await self._send_interaction(
            ITYPE_MODAL_SUBMIT,
            guild,
            member,
            channel,
            data,
            message=message,
            component_message_id=src.component_message_id,
        )
        return await self._await_result(pi, timeout=timeout, settle=settle, expect_response=expect_response)

    async def wait_for_message(
        self,
        channel: FakeChannel | int,
        *,
        check: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
        existing: bool = False,
    ) -> dict[str, Any]:
        """Wait for a message in ``channel`` matching ``check``; only messages created after the
        call count unless ``existing=True``."""
        cid = _id_of(channel)
        skip = set() if existing else set(self._channel_messages.get(cid, []))
        found: list[dict[str, Any]] = []

        def ready() -> bool:
            for mid in self._channel_messages.get(cid, []):
                if mid in skip or mid not in self._messages:
                    continue
                msg = self._export(self._messages[mid])
                if check is None or check(msg):
                    found.append(msg)
                    return True
            return False

        loop = asyncio.get_running_loop()
        if not await self._wait_until(ready, loop.time() + timeout):
            raise InteractionTimeout(f"no matching message in channel {cid} within {timeout}s")
        return found[0]

    async def wait_for_request(
        self, method: str | None, path_regex: str, *, timeout: float = 5.0, existing: bool = False
    ) -> RecordedRequest:
        start = 0 if existing else len(self.requests)
        rx = re.compile(path_regex)
        found: list[RecordedRequest] = []

        def ready() -> bool:
            for r in self.requests[start:]:
                if (method is None or r.method == method.upper()) and rx.search(r.path) and r.status is not None:
                    found.append(r)
                    return True
            return False

        loop = asyncio.get_running_loop()
        if not await self._wait_until(ready, loop.time() + timeout):
            raise InteractionTimeout(f"no {method} {path_regex} request within {timeout}s")
        return found[0]

    # ------------------------------------------------------------------ internals: lookups

    def _now(self) -> datetime:
        """The time messages are stamped with: the given clock's, or the real one."""
        return self.clock() if self.clock is not None else datetime.now(UTC)

    def _guild(self, guild: FakeGuild | int | None) -> FakeGuild:
        if isinstance(guild, FakeGuild):
            return guild
        try:
            return self.guilds[_id_of(guild)]
        except (KeyError, TypeError):
            raise FakeDiscordError(f"unknown guild {guild!r}") from None

    def _member(self, guild: FakeGuild, member: FakeMember | FakeUser | int) -> FakeMember:
        m = guild.members.get(_id_of(member))
        if m is None:
            raise FakeDiscordError(f"{member!r} is not a member of guild {guild.name!r}")
        return m

    def _user(self, user: FakeUser | FakeMember | int) -> FakeUser:
        if isinstance(user, FakeMember):
            return user.user
        if isinstance(user, FakeUser):
            return user
        try:
            return self.users[_id_of(user)]
        except KeyError:
            raise FakeDiscordError(f"unknown user {user!r}") from None

    def _channel(self, channel: FakeChannel | int | None) -> FakeChannel:
        if isinstance(channel, FakeChannel):
            return channel
        found = self._find_channel(_id_of(channel))
        if found is None:
            raise FakeDiscordError(f"unknown channel {channel!r}")
        return found

    def _find_channel(self, channel_id: int) -> FakeChannel | None:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild.channels[channel_id]
        for ch in self.dm_channels.values():
            if ch.id == channel_id:
                return ch
        return None

    def _bot_role(self, guild: FakeGuild) -> FakeRole:
        return next(r for r in guild.roles.values() if r.bot_id == self.bot_user.id)

    def _invocation_channel(self, guild: FakeGuild, channel: FakeChannel | int | None) -> FakeChannel:
        if channel is not None:
            ch = self._channel(channel)
            if ch.guild_id != guild.id:
                raise FakeDiscordError(f"channel {ch.name!r} is not in guild {guild.name!r}")
            return ch
        for ch in guild.channels.values():
            if ch.type in (CHANNEL_TEXT, CHANNEL_NEWS):
                return ch
        raise FakeDiscordError(f"guild {guild.name!r} has no text channel to run the command in")

    def _stored_message(self, message: Any) -> dict[str, Any]:
        if isinstance(message, InteractionResult):
            shown = message.message
            if shown is None:
                raise FakeDiscordError(f"{message!r} has no message to interact with")
            message = shown
        mid = _id_of(message)
        msg = self._messages.get(mid)
        if msg is None:
            raise FakeDiscordError(f"unknown (or deleted) message {mid}")
        return msg

    # ------------------------------------------------------------------ internals: commands

    def _find_command(self, guild: FakeGuild, name: str, ctype: int) -> tuple[dict[str, Any], int | None]:
        for scope in (guild.id, None):
            cmd = self._commands.get(scope, {}).get((ctype, name))
            if cmd is not None:
                return cmd, scope
        synced = sorted({n for scope in (guild.id, None) for (t, n) in self._commands.get(scope, {}) if t == ctype})
        if not self._commands:
            hint = "the bot has not synced any commands (call `await bot.tree.sync(guild=...)`)"
        else:
            hint = f"synced for this guild/globally: {synced}"
        kind = {1: "slash command", 2: "user command", 3: "message command"}[ctype]
        raise FakeDiscordError(f"{kind} {name!r} is not synced; {hint}")

    @staticmethod
    def _command_leaf(cmd: dict[str, Any], parts: list[str]) -> dict[str, Any]:
        node = cmd
        for part in parts[1:]:
            sub = next((o for o in node.get("options", []) if o["name"] == part and o["type"] in (1, 2)), None)
            if sub is None:
                subs = [o["name"] for o in node.get("options", []) if o["type"] in (1, 2)]
                raise FakeDiscordError(f"/{' '.join(parts)}: no subcommand {part!r} (available: {subs})")
            node = sub
        subs = [o["name"] for o in node.get("options", []) if o["type"] in (1, 2)]
        if subs:
            raise FakeDiscordError(f"/{' '.join(parts)} is a group; pick one of its subcommands: {subs}")
        return node

    def allow_everyone(self, guild: FakeGuild, command: str) -> None:
        """Let every member use a top-level command whatever its default permissions, as a server
        admin can in Server Settings -> Integrations (the bot must then check for itself)."""
        self.command_overrides.add((guild.id, command))

    def _check_can_use(
        self, guild: FakeGuild, member: FakeMember, channel: FakeChannel, cmd: dict[str, Any], name: str
    ) -> None:
        required = cmd.get("default_member_permissions")
        if required is None or (guild.id, cmd["name"]) in self.command_overrides:
            return
        perms = self.permissions_for(member, channel)
        required = int(required)
        if perms & ADMINISTRATOR or perms == ALL_PERMISSIONS:
            return
        if required == 0 or perms & required != required:
            raise FakeDiscordError(
                f"{member.name} cannot see /{name}: default_member_permissions={required} but has {perms}"
            )

    def _build_options(
        self,
        guild: FakeGuild,
        channel: FakeChannel,
        cmd: dict[str, Any],
        parts: list[str],
        values: dict[str, Any],
        *,
        focused: str | None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        top: list[dict[str, Any]] = []
        container = top
        node = cmd
        for part in parts[1:]:
            sub = next(o for o in node.get("options", []) if o["name"] == part and o["type"] in (1, 2))
            entry: dict[str, Any] = {"type": sub["type"], "name": part, "options": []}
            container.append(entry)
            container = entry["options"]
            node = sub
        defs = {o["name"]: o for o in node.get("options", [])}
        unknown = set(values) - set(defs)
        label = "/" + " ".join(parts)
        if unknown:
            raise FakeDiscordError(f"{label} has no option(s) {sorted(unknown)}; options: {list(defs)}")
        resolved: dict[str, Any] = {}
        for oname, odef in defs.items():
            if oname not in values or values[oname] is None:
                if odef.get("required") and focused is None:
                    raise FakeDiscordError(f"{label}: required option {oname!r} missing")
                continue
            value = values[oname]
            if oname == focused:
                container.append({"type": odef["type"], "name": oname, "value": str(value), "focused": True})
                continue
            container.append(
                {
                    "type": odef["type"],
                    "name": oname,
                    "value": self._option_value(guild, channel, label, odef, value, resolved),
                }
            )
        return top, resolved

    def _option_value(
        self,
        guild: FakeGuild,
        channel: FakeChannel,
        label: str,
        odef: Mapping[str, Any],
        value: Any,
        resolved: dict[str, Any],
    ) -> Any:
        try:
            return self._checked_option_value(guild, channel, label, odef, value, resolved)
        except (TypeError, ValueError, KeyError):
            # Discord's client only sends what its pickers offer: an id that names nothing is refused.
            raise FakeDiscordError(
                f"{label} {odef['name']}: {value!r} is not a valid {_OPTION_TYPE_NAMES.get(odef['type'], 'value')}"
            ) from None

    def _checked_option_value(
        self,
        guild: FakeGuild,
        channel: FakeChannel,
        label: str,
        odef: Mapping[str, Any],
        value: Any,
        resolved: dict[str, Any],
    ) -> Any:
        otype = odef["type"]
        oname = odef["name"]
        if otype == 3:  # string
            value = str(value)
            if "min_length" in odef and len(value) < odef["min_length"]:
                raise FakeDiscordError(f"{label} {oname}: shorter than min_length {odef['min_length']}")
            if "max_length" in odef and len(value) > odef["max_length"]:
                raise FakeDiscordError(f"{label} {oname}: longer than max_length {odef['max_length']}")
        elif otype == 4:  # integer
            if isinstance(value, bool) or not isinstance(value, int):
                raise FakeDiscordError(f"{label} {oname}: expected an int, got {value!r}")
        elif otype == 5:  # boolean
            if not isinstance(value, bool):
                raise FakeDiscordError(f"{label} {oname}: expected a bool, got {value!r}")
        elif otype == 10:  # number
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FakeDiscordError(f"{label} {oname}: expected a number, got {value!r}")
        elif otype == 6:  # user
            return self._resolve_user(guild, channel, value, resolved)
        elif otype == 7:  # channel
            ch = self._channel(value)
            types_ok = odef.get("channel_types")
            if types_ok and ch.type not in types_ok:
                raise FakeDiscordError(f"{label} {oname}: channel type {ch.type} not in {types_ok}")
            data = ch.to_payload()
            data["permissions"] = str(self.permissions_for(self._member_in(guild), ch))
            resolved.setdefault("channels", {})[str(ch.id)] = data
            return str(ch.id)
        elif otype == 8:  # role
            role = guild.roles.get(_id_of(value))
            if role is None:
                raise FakeDiscordError(f"{label} {oname}: unknown role {value!r}")
            resolved.setdefault("roles", {})[str(role.id)] = role.to_payload()
            return str(role.id)
        elif otype == 9:  # mentionable
            rid = _id_of(value)
            if isinstance(value, FakeRole) or rid in guild.roles:
                resolved.setdefault("roles", {})[str(rid)] = guild.roles[rid].to_payload()
                return str(rid)
            return self._resolve_user(guild, channel, value, resolved)
        elif otype == 11:  # attachment
            if isinstance(value, FakeFile):
                file = value
            elif (
                isinstance(value, tuple | list)
                and len(value) >= 2
                and isinstance(value[0], str)
                and isinstance(value[1], bytes)
            ):
                file = FakeFile(*value)
            else:
                raise FakeDiscordError(f"{label} {oname}: expected an uploaded file, got {value!r}")
            att = self._make_attachment(channel.id, file)
            att["ephemeral"] = True
            resolved.setdefault("attachments", {})[att["id"]] = att
            return att["id"]
        else:
            raise FakeDiscordError(f"{label} {oname}: unsupported option type {otype}")
        choices = odef.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise FakeDiscordError(f"{label} {oname}: {value!r} is not one of the choices {choices}")
        if otype in (4, 10):
            if "min_value" in odef and value < odef["min_value"]:
                raise FakeDiscordError(f"{label} {oname}: below min_value {odef['min_value']}")
            if "max_value" in odef and value > odef["max_value"]:
                raise FakeDiscordError(f"{label} {oname}: above max_value {odef['max_value']}")
        return value

    def _member_in(self, guild: FakeGuild) -> FakeMember:
        return guild.members[self.bot_user.id]

    def _resolve_user(self, guild: FakeGuild, channel: FakeChannel, value: Any, resolved: dict[str, Any]) -> str:
        user = self._user(value)
        resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
        member = guild.members.get(user.id)
        if member is not None:
            data = member.to_payload(with_user=False)
            data["permissions"] = str(self.permissions_for(member, channel))
            resolved.setdefault("members", {})[str(user.id)] = data
        return str(user.id)

    def _select_values(
        self, guild: FakeGuild, channel: FakeChannel, comp: Mapping[str, Any], values: Sequence[Any]
    ) -> dict[str, Any]:
        ctype = comp["type"]
        lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
        if not lo <= len(values) <= hi:
            raise FakeDiscordError(f"select {comp['custom_id']!r} needs {lo}..{hi} values, got {len(values)}")
        resolved: dict[str, Any] = {}
        out: list[str] = []
        if ctype == 3:
            allowed = [o["value"] for o in comp.get("options", [])]
            for v in values:
                if v not in allowed:
                    raise FakeDiscordError(f"{v!r} is not an option of select {comp['custom_id']!r}: {allowed}")
                out.append(v)
            return {"values": out}
        for v in values:
            if ctype == 5 or (ctype == 7 and not (isinstance(v, FakeRole) or _id_of(v) in guild.roles)):
                out.append(self._resolve_user(guild, channel, v, resolved))
            elif ctype in (6, 7):
                role = guild.roles[_id_of(v)]
                resolved.setdefault("roles", {})[str(role.id)] = role.to_payload()
                out.append(str(role.id))
            elif ctype == 8:
                ch = self._channel(v)
                data = ch.to_payload()
                data["permissions"] = str(self.permissions_for(self._member_in(guild), ch))
                resolved.setdefault("channels", {})[str(ch.id)] = data
                out.append(str(ch.id))
            else:
                raise FakeDiscordError(f"unsupported component type {ctype}")
        return {"values": out, "resolved": resolved}

    def _fill_modal(
        self, components: list[dict[str, Any]], values: Mapping[str, Any], unknown: set[str]
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for comp in components:
            ctype = comp.get("type")
            if ctype == 1:
                out.append({"type": 1, "components": self._fill_modal(comp.get("components", []), values, unknown)})
            elif ctype == 18:
                inner = self._fill_modal([comp["component"]], values, unknown)
                if inner:
                    out.append({"type": 18, "id": comp.get("id"), "component": inner[0]})
            elif ctype == 4:
                cid = comp["custom_id"]
                unknown.discard(cid)
                value = str(values.get(cid, comp.get("value") or ""))
                if comp.get("required", True) and not value:
                    raise FakeDiscordError(f"modal text input {cid!r} is required")
                if "max_length" in comp and len(value) > comp["max_length"]:
                    raise FakeDiscordError(f"modal text input {cid!r} longer than {comp['max_length']}")
                if value and "min_length" in comp and len(value) < comp["min_length"]:
                    raise FakeDiscordError(f"modal text input {cid!r} shorter than {comp['min_length']}")
                out.append({"type": 4, "id": comp.get("id"), "custom_id": cid, "value": value})
            elif "custom_id" in comp:
                cid = comp["custom_id"]
                unknown.discard(cid)
                vals = values.get(cid, [])
                out.append(
                    {
                        "type": ctype,
                        "id": comp.get("id"),
                        "custom_id": cid,
                        "values": [str(_id_of(v)) if not isinstance(v, str) else v for v in vals],
                    }
                )
        return out

    # ------------------------------------------------------------------ internals: interaction flow

    async def _send_interaction(
        self,
        itype: int,
        guild: FakeGuild,
        member: FakeMember,
        channel: FakeChannel,
        data: dict[str, Any],
        *,
        message: dict[str, Any] | None = None,
        component_message_id: int | None = None,
        locale: str = "en-US",
    ) -> _PendingInteraction:
        if not self.connected:
            raise FakeDiscordError("no bot is connected to the fake gateway")
        iid = snowflake()
        token = f"fake-interaction.{iid}.{secrets.token_urlsafe(24)}"
        member_perms = self.permissions_for(member, channel)
        channel_data = channel.to_payload()
        channel_data["permissions"] = str(member_perms)
        member_data = member.to_payload()
        member_data["permissions"] = str(member_perms)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "token": token,
            "version": 1,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": list(guild.features)},
            "channel_id": str(channel.id),
            "channel": channel_data,
            "member": member_data,
            "app_permissions": str(self.permissions_for(self.bot_user, channel)),
            "locale": locale,
            "guild_locale": guild.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
            "data": data,
        }
        if message is not None:
            payload["message"] = message
        loop = asyncio.get_running_loop()
        pi = _PendingInteraction(
            id=iid,
            token=token,
            type=itype,
            payload=payload,
            guild_id=guild.id,
            channel_id=channel.id,
            created=loop.time(),
            component_message_id=component_message_id,
        )
        self._interactions[iid] = pi
        self._interactions_by_token[token] = pi
        await self.dispatch("INTERACTION_CREATE", payload, sync=False)
        return pi

    async def _await_result(
        self, pi: _PendingInteraction, *, timeout: float, settle: float, expect_response: bool
    ) -> InteractionResult:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        res = InteractionResult(self, pi)
        label = pi.payload["data"].get("name") or pi.payload["data"].get("custom_id")
        await self._wait_until(lambda: pi.callback is not None or pi.done, deadline)
        if pi.callback is None and pi.done:
            # handler finished (or failed) without answering: give in-flight requests a moment
            await self._wait_until(lambda: pi.callback is not None, min(deadline, loop.time() + 0.25))
        if pi.callback is None:
            if not expect_response:
                await self._settle(settle, deadline)
                return res
            if pi.error is not None:
                why = f": the command raised {pi.error!r}"
            elif pi.done:
                why = ": the command finished without responding"
            else:
                why = f" within {timeout}s"
            raise InteractionTimeout(f"the bot did not respond to interaction {label!r}{why}") from pi.error
        if pi.callback_type == 5:
            await self._wait_until(lambda: not pi.loading or pi.done, deadline)
            if pi.loading and pi.done:
                await self._wait_until(lambda: not pi.loading, min(deadline, loop.time() + 0.25))
            if pi.loading and expect_response:
                why = f"; the command raised {pi.error!r}" if pi.error else ""
                raise InteractionTimeout(
                    f"interaction {label!r} was deferred but never followed up / edited within {timeout}s{why}"
                ) from pi.error
        elif pi.callback_type == 6:
            await self._wait_until(lambda: pi.updates > 0 or pi.done, min(deadline, loop.time() + 1.0))
        if pi.type == ITYPE_COMMAND and any(not b.is_closed() for b in self._watched):
            # watched bot: wait for the command handler to finish so its later REST calls count
            await self._wait_until(lambda: pi.done, deadline)
        await self._settle(settle, deadline + settle)
        return res

    async def _settle(self, quiet: float, hard_deadline: float) -> None:
        """Wait until no REST request has been in flight for ``quiet`` seconds."""
        if quiet <= 0:
            return
        loop = asyncio.get_running_loop()
        while loop.time() < hard_deadline:
            idle = loop.time() - self._last_activity
            if self._inflight == 0 and idle >= quiet:
                return
            await self._wait_until(lambda: False, min(hard_deadline, loop.time() + max(quiet - idle, 0.005)))

    async def _wait_until(self, predicate: Callable[[], bool], deadline: float) -> bool:
        loop = asyncio.get_running_loop()
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return predicate()
            if self._changed is None:
                self._changed = asyncio.Event()
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
        return True

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ internals: messages

    @staticmethod
    def _public(msg: Mapping[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(dict(msg))

    def _export(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(msg))
        for att in out.get("attachments", []):
            att["data"] = self._attachment_data.get(int(att["id"]), b"")
        return out

    def _make_attachment(self, channel_id: int, file: FakeFile, description: str | None = None) -> dict[str, Any]:
        aid = snowflake()
        self._attachment_data[aid] = file.data
        url = f"{self.base_url}/attachments/{channel_id}/{aid}/{file.filename}"
        att: dict[str, Any] = {
            "id": str(aid),
            "filename": file.filename,
            "size": len(file.data),
            "url": url,
            "proxy_url": url,
            # Discord reads the type from the file name when the upload names none (discord.py sends
            # application/octet-stream for every file): a .png is an image, drawn inline.
            "content_type": _content_type(file),
            "flags": 0,
        }
        desc = description if description is not None else file.description
        if desc is not None:
            att["description"] = desc
        return att

    def _build_attachments(
        self, channel_id: int, body: Mapping[str, Any], files: list[FakeFile], existing: list[dict[str, Any]] | None
    ) -> list[dict[str, Any]] | None:
        """Attachments for a create/edit: ``None`` means "leave unchanged" (edit without the key)."""
        by_index = dict(enumerate(files))
        if "attachments" not in body:
            if not files:
                return None if existing is not None else []
            keep = list(existing or [])
            return keep + [self._make_attachment(channel_id, f) for f in files]
        out = []
        used: set[int] = set()
        old = {a["id"]: a for a in existing or []}
        for item in body.get("attachments") or []:
            raw_id = int(item["id"])
            if raw_id < _SNOWFLAKE_MIN and raw_id in by_index:
                used.add(raw_id)
                f = by_index[raw_id]
                if item.get("filename"):
                    f = FakeFile(item["filename"], f.data, f.content_type, f.description)
                out.append(self._make_attachment(channel_id, f, item.get("description")))
            elif str(raw_id) in old:
                out.append(old[str(raw_id)])
        out.extend(self._make_attachment(channel_id, f) for i, f in by_index.items() if i not in used)
        return out

    def _validate_message(
        self, body: Mapping[str, Any], files: list[FakeFile], *, edit: bool = False
    ) -> web.Response | None:
        errors: dict[str, Any] = {}
        content = body.get("content")
        if content is not None and len(str(content)) > 2000:
            errors["content"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        embeds = body.get("embeds") or []
        if len(embeds) > 10:
            errors["embeds"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        total = 0
        limits = {"title": 256, "description": 4096}
        for i, embed in enumerate(embeds):
            e_err: dict[str, Any] = {}
            for key, limit in limits.items():
                text = embed.get(key) or ""
                total += len(text)
                if len(text) > limit:
                    e_err[key] = _field_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
            fields_ = embed.get("fields") or []
            if len(fields_) > 25:
                e_err["fields"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            for j, f in enumerate(fields_):
                name, value = str(f.get("name", "")), str(f.get("value", ""))
                total += len(name) + len(value)
                if not name or len(name) > 256 or not value or len(value) > 1024:
                    e_err.setdefault("fields", {})[str(j)] = _field_error(
                        "BASE_TYPE_BAD_LENGTH", "Field name must be 1-256 and value 1-1024 characters."
                    )
            for key, sub, limit in (("footer", "text", 2048), ("author", "name", 256)):
                text = (embed.get(key) or {}).get(sub) or ""
                total += len(text)
                if len(text) > limit:
                    e_err[key] = {sub: _field_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")}
            if e_err:
                errors.setdefault("embeds", {})[str(i)] = e_err
        if total > 6000:
            errors.setdefault("embeds", {})["_errors"] = [
                {"code": "MAX_EMBED_SIZE_EXCEEDED", "message": "Embed size exceeds maximum size of 6000"}
            ]
        comp_errors = self._validate_components(body.get("components") or [], int(body.get("flags") or 0))
        if comp_errors:
            errors["components"] = comp_errors
        if errors:
            return _form_error(errors)
        if not edit and not (
            content
            or embeds
            or files
            or body.get("attachments")
            or body.get("components")
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            return _error_response(400, 50006, "Cannot send an empty message")
        return None

    @staticmethod
    def _validate_components(components: list[dict[str, Any]], flags: int) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        v2 = bool(flags & (1 << 15))
        if not v2 and len(components) > 5:
            errors["_errors"] = [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 5 or fewer in length."}]
        seen: set[str] = set()
        for i, row in enumerate(components):
            if not v2 and row.get("type") != 1:
                errors[str(i)] = _field_error("COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Top-level must be action rows")
                continue
            if row.get("type") == 1 and len(row.get("components", [])) > 5:
                errors[str(i)] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
            for comp in _walk_components(row.get("components", [])):
                cid = comp.get("custom_id")
                if cid is not None:
                    if len(cid) > 100:
                        errors[str(i)] = _field_error("BASE_TYPE_MAX_LENGTH", "custom_id must be 100 or fewer.")
                    if cid in seen:
                        errors[str(i)] = _field_error("COMPONENT_CUSTOM_ID_DUPLICATED", f"Duplicate {cid!r}")
                    seen.add(cid)
                if comp.get("type") == 2 and len(comp.get("label") or "") > 80:
                    errors[str(i)] = _field_error("BASE_TYPE_MAX_LENGTH", "label must be 80 or fewer.")
        return errors

    def _compute_mentions(
        self, content: str, allowed: Mapping[str, Any] | None, guild: FakeGuild | None
    ) -> tuple[list[dict[str, Any]], list[str], bool]:
        user_ids = [int(x) for x in re.findall(r"<@!?(\d+)>", content)]
        role_ids = [int(x) for x in re.findall(r"<@&(\d+)>", content)]
        everyone = "@everyone" in content or "@here" in content
        if allowed is None:
            parse = {"users", "roles", "everyone"}
            allowed_users: set[int] = set()
            allowed_roles: set[int] = set()
        else:
            parse = set(allowed.get("parse") or [])
            allowed_users = {int(x) for x in allowed.get("users") or []}
            allowed_roles = {int(x) for x in allowed.get("roles") or []}
        mentions = []
        for uid in dict.fromkeys(user_ids):
            if ("users" in parse or uid in allowed_users) and uid in self.users:
                data = self.users[uid].to_payload()
                if guild is not None and uid in guild.members:
                    data["member"] = guild.members[uid].to_payload(with_user=False)
                mentions.append(data)
        roles = [str(r) for r in dict.fromkeys(role_ids) if "roles" in parse or r in allowed_roles]
        return mentions, roles, everyone and "everyone" in parse

    def _create_message(
        self,
        channel: FakeChannel,
        author: FakeUser,
        body: Mapping[str, Any],
        files: list[FakeFile],
        *,
        pi: _PendingInteraction | None = None,
        flags: int | None = None,
        store_in_channel: bool = True,
    ) -> dict[str, Any]:
        guild = self.guilds.get(channel.guild_id) if channel.guild_id else None
        now = self._now()
        if self.clock is None:
            mid = snowflake()
        else:
            mid = self._last_clocked_id = snowflake(now, after=self._last_clocked_id)
        content = str(body.get("content") or "")
        allowed = body.get("allowed_mentions")
        mentions, mention_roles, mention_everyone = self._compute_mentions(content, allowed, guild)
        msg_flags = int(body.get("flags") or 0) if flags is None else flags
        msg: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel.id),
            "type": 0,
            "content": content,
            "author": author.to_payload(),
            "timestamp": now.isoformat(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": mention_everyone,
            "mentions": mentions,
            "mention_roles": mention_roles,
            "mention_channels": [],
            "attachments": self._build_attachments(channel.id, body, files, None) or [],
            "embeds": [self._normalize_embed(e) for e in body.get("embeds") or []],
            "reactions": [],
            "pinned": False,
            "components": copy.deepcopy(body.get("components") or []),
            "flags": msg_flags,
            "allowed_mentions": copy.deepcopy(allowed),
        }
        if "nonce" in body:
            msg["nonce"] = body["nonce"]
        if guild is not None:
            msg["guild_id"] = str(guild.id)
            if author.id in guild.members:
                msg["member"] = guild.members[author.id].to_payload(with_user=False)
        ref = body.get("message_reference")
        if ref and ref.get("message_id"):
            msg["type"] = 19
            msg["message_reference"] = {
                "message_id": str(ref["message_id"]),
                "channel_id": str(channel.id),
                "guild_id": str(guild.id) if guild else None,
            }
            referenced = self._messages.get(int(ref["message_id"]))
            msg["referenced_message"] = self._public(referenced) if referenced else None
        if pi is not None:
            msg["type"] = 20 if pi.type == ITYPE_COMMAND else 0
            msg["webhook_id"] = str(self.application_id)
            msg["application_id"] = str(self.application_id)
            user = pi.payload["member"]["user"]
            msg["interaction_metadata"] = {
                "id": str(pi.id),
                "type": pi.type,
                "user": user,
                "authorizing_integration_owners": {"0": str(pi.guild_id)},
            }
            if pi.type == ITYPE_COMMAND:
                msg["interaction"] = {
                    "id": str(pi.id),
                    "type": pi.type,
                    # Discord names the subcommand too: "goal add", not "goal".
                    "name": _qualified_name(pi.payload["data"]),
                    "user": user,
                }
        self._messages[mid] = msg
        if store_in_channel and not msg_flags & FLAG_EPHEMERAL:
            self._channel_messages.setdefault(channel.id, []).append(mid)
        return msg

    @staticmethod
    def _normalize_embed(embed: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(embed))
        out.setdefault("type", "rich")
        return out

    def _edit_message(self, msg: dict[str, Any], body: Mapping[str, Any], files: list[FakeFile]) -> None:
        guild = self.guilds.get(int(msg["guild_id"])) if msg.get("guild_id") else None
        if "content" in body:
            msg["content"] = str(body.get("content") or "")
        if "embeds" in body:
            msg["embeds"] = [self._normalize_embed(e) for e in body.get("embeds") or []]
        if "components" in body:
            msg["components"] = copy.deepcopy(body.get("components") or [])
        if "allowed_mentions" in body:
            msg["allowed_mentions"] = copy.deepcopy(body.get("allowed_mentions"))
        if "flags" in body and body["flags"] is not None:
            keep = int(msg.get("flags", 0)) & FLAG_EPHEMERAL
            msg["flags"] = (int(body["flags"]) & ~(FLAG_EPHEMERAL | FLAG_LOADING)) | keep
        attachments = self._build_attachments(int(msg["channel_id"]), body, files, msg.get("attachments", []))
        if attachments is not None:
            msg["attachments"] = attachments
        mentions, roles, everyone = self._compute_mentions(msg["content"], msg.get("allowed_mentions"), guild)
        msg.update(mentions=mentions, mention_roles=roles, mention_everyone=everyone)
        msg["edited_timestamp"] = self._now().isoformat()

    def _delete_message(self, mid: int) -> dict[str, Any] | None:
        msg = self._messages.pop(mid, None)
        if msg is None:
            return None
        ids = self._channel_messages.get(int(msg["channel_id"]), [])
        if mid in ids:
            ids.remove(mid)
        self.deleted_messages.append(self._export(msg))
        return msg

    async def _echo_message_event(self, event: str, msg: Mapping[str, Any], *, sync: bool = False) -> None:
        """Send MESSAGE_CREATE/UPDATE to sessions whose intents cover the channel."""
        is_dm = "guild_id" not in msg
        needed = INTENT_DIRECT_MESSAGES if is_dm else INTENT_GUILD_MESSAGES
        for session in list(self._sessions.values()):
            if not session.intents & needed:
                continue
            data = self._public(msg)
            data.pop("allowed_mentions", None)
            mentioned = any(int(u["id"]) == self.bot_user.id for u in data.get("mentions", []))
            own = int(data["author"]["id"]) == self.bot_user.id
            if not (session.intents & INTENT_MESSAGE_CONTENT or is_dm or mentioned or own):
                data.update(content="", embeds=[], attachments=[], components=[])
            await self._dispatch_to(session, event, data)
        if sync and self.connected:
            await self.sync()

    # ------------------------------------------------------------------ internals: gateway

    @staticmethod
    def shard_of(guild_id: int, shard_count: int) -> int:
        """The shard Discord gives a guild: ``(guild_id >> 22) % shard_count``."""
        return (guild_id >> 22) % shard_count

    def _for_session(self, session: _Session, event: str, data: Mapping[str, Any]) -> bool:
        """Like Discord, send a guild's events only to the shard that holds the guild, and DMs to shard 0."""
        if session.shard is None or event in ("READY", "RESUMED"):
            return True
        shard_id, shard_count = int(session.shard[0]), int(session.shard[1])
        if "guild_id" in data and data["guild_id"] is not None:
            return self.shard_of(int(data["guild_id"]), shard_count) == shard_id
        if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE") and "id" in data:
            return self.shard_of(int(data["id"]), shard_count) == shard_id
        if event in ("INTERACTION_CREATE", "MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"):
            return shard_id == 0  # no guild: a DM
        return True

    async def _dispatch_to(self, session: _Session, event: str, data: dict[str, Any]) -> None:
        if not self._for_session(session, event, data):
            return
        async with session.lock:
            session.seq += 1
            payload = {"op": 0, "t": event, "s": session.seq, "d": data}
            session.events.append(payload)
            conn = session.conn
            if conn is not None and not conn.closed:
                await conn.send(payload)

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        query = dict(request.query)
        compress = query.get("compress")
        problem = None
        if query.get("encoding", "json") != "json":
            problem = f"unsupported encoding {query.get('encoding')!r} (the fake speaks json)"
        elif query.get("v", "10") != "10":
            problem = f"unsupported gateway version {query.get('v')!r}"
        else:
            try:
                _make_stream_compressor(compress)
            except (ValueError, ImportError) as exc:
                problem = f"unsupported compression {compress!r}: {exc}"
        if problem is not None:
            # 4012 is a close code discord.py does not reconnect on, so this fails loudly
            self.gateway_errors.append(problem)
            _log.error("fake gateway: %s", problem)
            await ws.close(code=4012, message=problem.encode()[:120])
            return ws
        if self.gateway_hold is not None:
            await self.gateway_hold.wait()
        conn = _GatewayConnection(ws, compress=compress, path=request.path, query=query)
        self.gateway_connections.append(conn)
        self._conns.add(conn)
        try:
            await conn.send(
                {
                    "op": 10,
                    "s": None,
                    "t": None,
                    "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000), "_trace": ["fake"]},
                }
            )
            async for msg in ws:
                if msg.type in (web.WSMsgType.TEXT, web.WSMsgType.BINARY):
                    try:
                        payload = json.loads(msg.data)
                    except ValueError:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                        break
                    conn.received.append(payload)
                    await self._on_gateway_payload(conn, payload)
                elif msg.type == web.WSMsgType.ERROR:
                    break
        finally:
            conn.closed = True
            self._conns.discard(conn)
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            for fut in conn.heartbeat_waiters:
                if not fut.done():
                    fut.set_result(None)
            self._notify()
        return ws

    async def _ack_heartbeat(self, conn: _GatewayConnection) -> None:
        await asyncio.sleep(self.heartbeat_ack_delay)
        await conn.send({"op": 11, "s": None, "t": None, "d": None})

    async def _on_gateway_payload(self, conn: _GatewayConnection, payload: Mapping[str, Any]) -> None:
        op = payload.get("op")
        d = payload.get("d")
        if op == 1:  # heartbeat
            # Acknowledged after a network's round trip, not at once. discord.py's keep-alive thread
            # notes the time of its heartbeat only once the send has returned; an ACK handled before
            # that (easy in one process on a busy machine) reads as a whole interval of latency:
            # "Can't keep up, shard ID 0 websocket is 41.3s behind" in the playground's log.
            ack = asyncio.create_task(self._ack_heartbeat(conn), name="fake-discord-heartbeat-ack")
            self._acks.add(ack)
            ack.add_done_callback(self._acks.discard)
            waiters, conn.heartbeat_waiters = conn.heartbeat_waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
        elif op == 2:
            await self._on_identify(conn, d or {})
        elif op == 3:
            self.presence = d
        elif op == 6:
            await self._on_resume(conn, d or {})
        elif op == 8:
            await self._on_request_members(conn, d or {})
        elif op == 4:
            pass  # voice state update: ignored
        else:
            _log.warning("fake gateway: unexpected op %r", op)

    async def _on_identify(self, conn: _GatewayConnection, d: Mapping[str, Any]) -> None:
        if d.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        intents = int(d.get("intents", 0))
        allowed = 0
        for name in self.privileged_intents:
            allowed |= _PRIVILEGED_INTENTS[name]
        disallowed = sum(_PRIVILEGED_INTENTS.values()) & intents & ~allowed
        if disallowed:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        session = _Session(intents=intents, shard=d.get("shard"))
        self._sessions[session.id] = session
        session.conn = conn
        conn.session = session
        self.identify_count += 1
        app_flags = 1 << 23  # APPLICATION_COMMAND_BADGE
        if "presences" in self.privileged_intents:
            app_flags |= 1 << 13
        if "members" in self.privileged_intents:
            app_flags |= 1 << 15
        if "message_content" in self.privileged_intents:
            app_flags |= 1 << 19
        user = self.bot_user.to_payload()
        user.update(verified=True, mfa_enabled=False, email=None, locale="en-US")
        ready: dict[str, Any] = {
            "v": 10,
            "user": user,
            "guilds": [
                {"id": str(g), "unavailable": True}
                for g in self.guilds
                if session.shard is None or self.shard_of(g, int(session.shard[1])) == int(session.shard[0])
            ],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": str(self.application_id), "flags": app_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["rotterdam"],
            "auth": {},
            "_trace": ["fake-discord"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        await self._dispatch_to(session, "READY", ready)
        for guild in list(self.guilds.values()):
            await self._dispatch_to(session, "GUILD_CREATE", self.guild_payload(guild, intents=intents))
        self._connect_generation += 1
        self._notify()

    async def _on_resume(self, conn: _GatewayConnection, d: Mapping[str, Any]) -> None:
        session = self._sessions.get(str(d.get("session_id")))
        if session is None or d.get("token") != self.token or session.live or not session.resumable:
            await conn.send({"op": 9, "s": None, "t": None, "d": False})
            return
        last = int(d.get("seq") or 0)
        session.conn = conn
        conn.session = session
        conn.resumed = True
        async with session.lock:
            for event in list(session.events):
                if event["s"] > last:
                    await conn.send(event)
            session.seq += 1
            resumed = {"op": 0, "t": "RESUMED", "s": session.seq, "d": {"_trace": ["fake-discord"]}}
            session.events.append(resumed)
            await conn.send(resumed)
        self.resume_count += 1
        self._connect_generation += 1
        self._notify()

    async def _on_request_members(self, conn: _GatewayConnection, d: Mapping[str, Any]) -> None:
        session = conn.session
        if session is None:
            await conn.ws.close(code=4003, message=b"Not authenticated.")
            return
        guild = self.guilds.get(int(d.get("guild_id", 0)))
        if guild is None:
            return
        members = list(guild.members.values())
        not_found: list[str] = []
        user_ids = d.get("user_ids")
        if user_ids:
            ids = [int(x) for x in (user_ids if isinstance(user_ids, list) else [user_ids])]
            not_found = [str(i) for i in ids if i not in guild.members]
            members = [guild.members[i] for i in ids if i in guild.members]
        else:
            query = (d.get("query") or "").lower()
            if query:
                members = [
                    m for m in members if m.name.lower().startswith(query) or (m.nick or "").lower().startswith(query)
                ]
            limit = int(d.get("limit") or 0)
            if limit:
                members = members[:limit]
        chunks = [members[i : i + 1000] for i in range(0, len(members), 1000)] or [[]]
        for index, chunk in enumerate(chunks):
            data: dict[str, Any] = {
                "guild_id": str(guild.id),
                "members": [m.to_payload() for m in chunk],
                "chunk_index": index,
                "chunk_count": len(chunks),
            }
            if index == 0 and not_found:
                data["not_found"] = not_found
            if d.get("nonce") is not None:
                data["nonce"] = d["nonce"]
            if d.get("presences"):
                data["presences"] = [
                    {"user": {"id": str(m.id)}, "status": "online", "activities": [], "client_status": {}}
                    for m in chunk
                ]
            await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", data)

    # ------------------------------------------------------------------ internals: REST plumbing

    async def _attachment_handler(self, request: web.Request) -> web.StreamResponse:
        data = self._attachment_data.get(int(request.match_info["attachment_id"]))
        if data is None:
            return web.Response(status=404, text="not found")
        ctype = mimetypes.guess_type(request.match_info["filename"])[0] or "application/octet-stream"
        return web.Response(body=data, content_type=ctype)

    async def _rest_handler(self, request: web.Request) -> web.StreamResponse:
        full_path = request.path
        path = full_path[len(API_PREFIX) :] if full_path.startswith(API_PREFIX) else full_path
        body: Any = None
        files: list[FakeFile] = []
        try:
            if request.content_type == "multipart/form-data":
                form = await request.post()
                indexed: list[tuple[int, FakeFile]] = []
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        m = re.fullmatch(r"files\[(\d+)\]", key)
                        idx = int(m.group(1)) if m else len(indexed)
                        indexed.append((idx, FakeFile(value.filename, value.file.read(), value.content_type)))
                    elif key == "payload_json":
                        body = json.loads(value)
                files = [f for _, f in sorted(indexed, key=lambda p: p[0])]
            else:
                raw = await request.read()
                if raw:
                    body = json.loads(raw)
        except ValueError:
            return _error_response(400, 50109, "The request body contains invalid JSON.")
        rec = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            json=body,
            files=files,
        )
        self.requests.append(rec)
        loop = asyncio.get_running_loop()
        self._inflight += 1
        self._last_activity = loop.time()
        try:
            if self.rest_delay:
                await asyncio.sleep(self.rest_delay)
            response = await self._route(request, rec)
        except Exception:
            _log.exception("fake discord handler crashed on %s %s", rec.method, rec.path)
            response = _error_response(500, 0, "500: fake discord handler crashed")
        finally:
            self._inflight -= 1
            self._last_activity = loop.time()
        rec.status = response.status
        if isinstance(response, web.Response) and response.body and response.content_type == "application/json":
            with contextlib.suppress(ValueError, TypeError):
                rec.response = json.loads(response.body)  # type: ignore[arg-type]
        self._notify()
        return response

    async def _route(self, request: web.Request, rec: RecordedRequest) -> web.StreamResponse:
        for rule in self._faults:
            if rule.matches(rec.method, rec.path):
                rule.remaining -= 1
                rule.hits.append(rec)
                return _json_response(rule.body, rule.status, rule.headers)
        if not rec.path.startswith("/") or not request.path.startswith(API_PREFIX):
            self.unhandled.append(rec)
            return _error_response(404, 0, "404: Not Found")
        if self.outage:
            return _error_response(503, 0, "503: Service Unavailable")
        limited = self._channel_rate(rec)
        if isinstance(limited, web.Response):
            return limited
        path_matched = False
        for method, pattern, handler, needs_auth in self._routes:
            m = pattern.fullmatch(rec.path)
            if m is None:
                continue
            path_matched = True
            if method != rec.method:
                continue
            if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                return _error_response(401, 0, "401: Unauthorized")
            response = await handler(rec, **m.groupdict())
            if limited is not None and isinstance(response, web.Response):
                response.headers.update(limited)
            return response
        self.unhandled.append(rec)
        if path_matched:
            return _error_response(405, 0, "405: Method Not Allowed")
        return _error_response(404, 0, "404: Not Found")

    def _channel_rate(self, rec: RecordedRequest) -> web.Response | dict[str, str] | None:
        """Count a message post against its channel's window: a 429, the headers to send, or None."""
        if self.channel_rate_limit is None or rec.method != "POST":
            return None
        m = re.fullmatch(r"/channels/(\d+)/messages", rec.path)
        if m is None:
            return None
        limit, per = self.channel_rate_limit
        now = time.monotonic()
        start, used = self._channel_windows.get(m.group(1), (now, 0))
        if now - start >= per:
            start, used = now, 0
        reset_after = round(max(0.001, per - (now - start)), 3)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Reset-After": str(reset_after),
            "X-RateLimit-Reset": str(round(time.time() + reset_after, 3)),
            "X-RateLimit-Bucket": "fake-channel-messages",
        }
        if used >= limit:
            self.rate_limited += 1
            body = self._default_error_body(429, retry_after=reset_after)
            headers |= {"X-RateLimit-Remaining": "0", "X-RateLimit-Scope": "user", "Via": "1.1 google"}
            headers["Retry-After"] = str(max(1, int(reset_after + 0.999)))
            return _json_response(body, 429, headers)
        self._channel_windows[m.group(1)] = (start, used + 1)
        return headers | {"X-RateLimit-Remaining": str(limit - used - 1)}

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any], bool]]:
        table: list[tuple[str, str, Callable[..., Any], bool]] = [
            ("GET", "/gateway", self._h_gateway, False),
            ("GET", "/gateway/bot", self._h_gateway_bot, True),
            ("GET", "/users/@me", self._h_me, True),
            ("GET", "/users/(?P<user_id>\\d+)", self._h_get_user, True),
            ("POST", "/users/@me/channels", self._h_create_dm, True),
            ("GET", "/oauth2/applications/@me", self._h_app_info, True),
            ("GET", "/applications/@me", self._h_app_info, True),
            ("PATCH", "/applications/@me", self._h_app_info, True),
            # application commands
            ("GET", "/applications/(?P<app_id>\\d+)/commands", self._h_list_commands, True),
            ("PUT", "/applications/(?P<app_id>\\d+)/commands", self._h_bulk_commands, True),
            ("POST", "/applications/(?P<app_id>\\d+)/commands", self._h_upsert_command, True),
            ("GET", "/applications/(?P<app_id>\\d+)/commands/(?P<cmd_id>\\d+)", self._h_get_command, True),
            ("PATCH", "/applications/(?P<app_id>\\d+)/commands/(?P<cmd_id>\\d+)", self._h_edit_command, True),
            ("DELETE", "/applications/(?P<app_id>\\d+)/commands/(?P<cmd_id>\\d+)", self._h_delete_command, True),
            ("GET", "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands", self._h_list_commands, True),
            ("PUT", "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands", self._h_bulk_commands, True),
            ("POST", "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands", self._h_upsert_command, True),
            (
                "GET",
                "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands/(?P<cmd_id>\\d+)",
                self._h_get_command,
                True,
            ),
            (
                "PATCH",
                "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands/(?P<cmd_id>\\d+)",
                self._h_edit_command,
                True,
            ),
            (
                "DELETE",
                "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands/(?P<cmd_id>\\d+)",
                self._h_delete_command,
                True,
            ),
            (
                "GET",
                "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands/permissions",
                self._h_command_permissions,
                True,
            ),
            # interactions / webhooks
            ("POST", "/interactions/(?P<iid>\\d+)/(?P<token>[^/]+)/callback", self._h_callback, False),
            ("POST", "/webhooks/(?P<app_id>\\d+)/(?P<token>[^/]+)", self._h_followup, False),
            (
                "GET",
                "/webhooks/(?P<app_id>\\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\\d+)",
                self._h_webhook_get,
                False,
            ),
            (
                "PATCH",
                "/webhooks/(?P<app_id>\\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\\d+)",
                self._h_webhook_edit,
                False,
            ),
            (
                "DELETE",
                "/webhooks/(?P<app_id>\\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\\d+)",
                self._h_webhook_delete,
                False,
            ),
            # channels / messages
            ("GET", "/channels/(?P<cid>\\d+)", self._h_get_channel, True),
            ("GET", "/channels/(?P<cid>\\d+)/messages", self._h_history, True),
            ("POST", "/channels/(?P<cid>\\d+)/messages", self._h_post_message, True),
            ("GET", "/channels/(?P<cid>\\d+)/messages/(?P<mid>\\d+)", self._h_get_message, True),
            ("PATCH", "/channels/(?P<cid>\\d+)/messages/(?P<mid>\\d+)", self._h_edit_message, True),
            ("DELETE", "/channels/(?P<cid>\\d+)/messages/(?P<mid>\\d+)", self._h_delete_message, True),
            ("POST", "/channels/(?P<cid>\\d+)/typing", self._h_typing, True),
            (
                "PUT",
                "/channels/(?P<cid>\\d+)/messages/(?P<mid>\\d+)/reactions/(?P<emoji>[^/]+)/@me",
                self._h_add_reaction,
                True,
            ),
            (
                "DELETE",
                "/channels/(?P<cid>\\d+)/messages/(?P<mid>\\d+)/reactions/(?P<emoji>[^/]+)/@me",
                self._h_remove_reaction,
                True,
            ),
            # guilds
            ("GET", "/guilds/(?P<gid>\\d+)", self._h_get_guild, True),
            ("GET", "/guilds/(?P<gid>\\d+)/channels", self._h_guild_channels, True),
            ("GET", "/guilds/(?P<gid>\\d+)/roles", self._h_guild_roles, True),
            ("GET", "/guilds/(?P<gid>\\d+)/members", self._h_guild_members, True),
            ("GET", "/guilds/(?P<gid>\\d+)/members/(?P<uid>\\d+)", self._h_get_member, True),
            ("PATCH", "/guilds/(?P<gid>\\d+)/members/(?P<uid>\\d+)", self._h_edit_member, True),
            ("PUT", "/guilds/(?P<gid>\\d+)/members/(?P<uid>\\d+)/roles/(?P<rid>\\d+)", self._h_add_role, True),
            ("DELETE", "/guilds/(?P<gid>\\d+)/members/(?P<uid>\\d+)/roles/(?P<rid>\\d+)", self._h_remove_role, True),
        ]
        return [(m, re.compile(p), h, auth) for m, p, h, auth in table]

    # ------------------------------------------------------------------ REST handlers: misc

    async def _h_gateway(self, rec: RecordedRequest) -> web.Response:
        return _json_response({"url": self.gateway_url})

    async def _h_gateway_bot(self, rec: RecordedRequest) -> web.Response:
        return _json_response(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1},
            }
        )

    async def _h_me(self, rec: RecordedRequest) -> web.Response:
        data = self.bot_user.to_payload()
        data.update(verified=True, mfa_enabled=False, email=None, locale="en-US", bio="")
        return _json_response(data)

    async def _h_get_user(self, rec: RecordedRequest, user_id: str) -> web.Response:
        user = self.users.get(int(user_id))
        if user is None:
            return _error_response(404, 10013, "Unknown User")
        return _json_response(user.to_payload())

    async def _h_app_info(self, rec: RecordedRequest) -> web.Response:
        return _json_response(
            {
                "id": str(self.application_id),
                "name": self.bot_user.name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "bot": self.bot_user.to_payload(),
                "owner": self.app_owner.to_payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": 1 << 23,
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "approximate_guild_count": len(self.guilds),
                "integration_types_config": {"0": {}},
            }
        )

    async def _h_create_dm(self, rec: RecordedRequest) -> web.Response:
        rid = int((rec.json or {}).get("recipient_id", 0))
        user = self.users.get(rid)
        if user is None or user is self.bot_user:
            return _error_response(400, 50033, "Invalid Recipient(s)")
        ch = self.dm_channels.get(rid)
        if ch is None:
            ch = FakeChannel(id=snowflake(), name=None, type=CHANNEL_DM, recipients=[user])
            self.dm_channels[rid] = ch
            self._channel_messages[ch.id] = []
        return _json_response(ch.to_payload())

    # ------------------------------------------------------------------ REST handlers: commands

    def _check_app(self, app_id: str) -> web.Response | None:
        if int(app_id) != self.application_id:
            return _error_response(403, 50001, "Missing Access")
        return None

    def _validate_command(self, cmd: Mapping[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        ctype = cmd.get("type", 1)
        name = cmd.get("name") or ""
        name_rx = r"[-_'\w]{1,32}"
        if ctype == 1 and (not re.fullmatch(name_rx, name) or name != name.lower()):
            errors["name"] = _field_error("APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")
        elif ctype != 1 and not 1 <= len(name) <= 32:
            errors["name"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
        desc = cmd.get("description") or ""
        if ctype == 1 and not 1 <= len(desc) <= 100:
            errors["description"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")

        def check_options(options: list[dict[str, Any]], where: dict[str, Any]) -> None:
            if len(options) > 25:
                where["_errors"] = [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."}]
            seen_optional = False
            names: set[str] = set()
            for i, opt in enumerate(options):
                o_err: dict[str, Any] = {}
                oname = opt.get("name") or ""
                if not re.fullmatch(name_rx, oname) or oname != oname.lower():
                    o_err["name"] = _field_error("APPLICATION_COMMAND_INVALID_NAME", f"Invalid name {oname!r}")
                if oname in names:
                    o_err["name"] = _field_error("APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Duplicate name")
                names.add(oname)
                if not 1 <= len(opt.get("description") or "") <= 100:
                    o_err["description"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100.")
                if opt.get("type") in (1, 2):
                    check_options(opt.get("options") or [], o_err.setdefault("options", {}))
                    if not o_err["options"]:
                        del o_err["options"]
                else:
                    if opt.get("required"):
                        if seen_optional:
                            o_err["required"] = _field_error(
                                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                                "Required options must be placed before non-required options",
                            )
                    else:
                        seen_optional = True
                    choices = opt.get("choices") or []
                    if len(choices) > 25:
                        o_err["choices"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
                    if choices and opt.get("autocomplete"):
                        o_err["autocomplete"] = _field_error(
                            "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE", "Cannot have choices and autocomplete"
                        )
                if o_err:
                    where[str(i)] = o_err

        opt_errors: dict[str, Any] = {}
        check_options(cmd.get("options") or [], opt_errors)
        if opt_errors:
            errors["options"] = opt_errors
        return errors

    def _store_command(
        self, scope: int | None, cmd: Mapping[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        ctype = cmd.get("type", 1)
        obj: dict[str, Any] = {
            "id": existing["id"] if existing else str(snowflake()),
            "application_id": str(self.application_id),
            "version": str(snowflake()),
            "type": ctype,
            "name": cmd["name"],
            "name_localizations": cmd.get("name_localizations"),
            "description": cmd.get("description", ""),
            "description_localizations": cmd.get("description_localizations"),
            "options": copy.deepcopy(cmd.get("options") or []),
            "default_member_permissions": cmd.get("default_member_permissions"),
            "dm_permission": cmd.get("dm_permission", True),
            "contexts": cmd.get("contexts"),
            "integration_types": cmd.get("integration_types", [0]),
            "nsfw": cmd.get("nsfw", False),
        }
        if scope is not None:
            obj["guild_id"] = str(scope)
        return obj

    async def _h_list_commands(self, rec: RecordedRequest, app_id: str, guild_id: str | None = None) -> web.Response:
        if err := self._check_app(app_id):
            return err
        scope = int(guild_id) if guild_id else None
        return _json_response(list(self._commands.get(scope, {}).values()))

    async def _h_bulk_commands(self, rec: RecordedRequest, app_id: str, guild_id: str | None = None) -> web.Response:
        if err := self._check_app(app_id):
            return err
        scope = int(guild_id) if guild_id else None
        if scope is not None and scope not in self.guilds:
            return _error_response(403, 50001, "Missing Access")
        payload = rec.json or []
        if len([c for c in payload if c.get("type", 1) == 1]) > 100:
            return _form_error({"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Max 100 commands"}]})
        errors = {str(i): e for i, c in enumerate(payload) if (e := self._validate_command(c))}
        keys = [(c.get("type", 1), c.get("name")) for c in payload]
        for i, key in enumerate(keys):
            if keys.index(key) != i:
                errors.setdefault(str(i), {})["name"] = _field_error(
                    "APPLICATION_COMMANDS_DUPLICATE_NAME", f"Application command names must be unique: {key[1]}"
                )
        if errors:
            return _form_error(errors)
        old = self._commands.get(scope, {})
        new: dict[tuple[int, str], dict[str, Any]] = {}
        for cmd in payload:
            key = (cmd.get("type", 1), cmd["name"])
            new[key] = self._store_command(scope, cmd, old.get(key))
        self._commands[scope] = new
        return _json_response(list(new.values()))

    async def _h_upsert_command(self, rec: RecordedRequest, app_id: str, guild_id: str | None = None) -> web.Response:
        if err := self._check_app(app_id):
            return err
        scope = int(guild_id) if guild_id else None
        cmd = rec.json or {}
        if errors := self._validate_command(cmd):
            return _form_error(errors)
        store = self._commands.setdefault(scope, {})
        key = (cmd.get("type", 1), cmd["name"])
        created = key not in store
        store[key] = self._store_command(scope, cmd, store.get(key))
        return _json_response(store[key], 201 if created else 200)

    def _command_by_id(self, scope: int | None, cmd_id: str) -> tuple[tuple[int, str], dict[str, Any]] | None:
        for key, cmd in self._commands.get(scope, {}).items():
            if cmd["id"] == cmd_id:
                return key, cmd
        return None

    async def _h_get_command(
        self, rec: RecordedRequest, app_id: str, cmd_id: str, guild_id: str | None = None
    ) -> web.Response:
        found = self._command_by_id(int(guild_id) if guild_id else None, cmd_id)
        if found is None:
            return _error_response(404, 10063, "Unknown application command")
        return _json_response(found[1])

    async def _h_edit_command(
        self, rec: RecordedRequest, app_id: str, cmd_id: str, guild_id: str | None = None
    ) -> web.Response:
        scope = int(guild_id) if guild_id else None
        found = self._command_by_id(scope, cmd_id)
        if found is None:
            return _error_response(404, 10063, "Unknown application command")
        key, cmd = found
        merged = {**cmd, **(rec.json or {})}
        if errors := self._validate_command(merged):
            return _form_error(errors)
        store = self._commands[scope]
        del store[key]
        new_key = (merged.get("type", 1), merged["name"])
        store[new_key] = self._store_command(scope, merged, cmd)
        return _json_response(store[new_key])

    async def _h_delete_command(
        self, rec: RecordedRequest, app_id: str, cmd_id: str, guild_id: str | None = None
    ) -> web.Response:
        scope = int(guild_id) if guild_id else None
        found = self._command_by_id(scope, cmd_id)
        if found is None:
            return _error_response(404, 10063, "Unknown application command")
        del self._commands[scope][found[0]]
        return web.Response(status=204)

    async def _h_command_permissions(self, rec: RecordedRequest, app_id: str, guild_id: str) -> web.Response:
        return _json_response([])

    # ------------------------------------------------------------------ REST handlers: interactions

    def _pending_for_token(self, app_id: str, token: str) -> _PendingInteraction | None:
        if int(app_id) != self.application_id:
            return None
        return self._interactions_by_token.get(token)

    async def _h_callback(self, rec: RecordedRequest, iid: str, token: str) -> web.Response:
        pi = self._interactions.get(int(iid))
        if pi is None or pi.token != token:
            return _error_response(404, 10062, "Unknown interaction")
        if pi.callback is not None:
            return _error_response(400, 40060, "Interaction has already been acknowledged.")
        loop = asyncio.get_running_loop()
        if self.interaction_deadline is not None and loop.time() - pi.created > self.interaction_deadline:
            return _error_response(404, 10062, "Unknown interaction")
        body = rec.json or {}
        ctype = body.get("type")
        if ctype not in _ALLOWED_CALLBACKS[pi.type] or (ctype in (6, 7) and pi.component_message_id is None):
            return _form_error(
                {
                    "type": _field_error(
                        "INTERACTION_RESPONSE_TYPE_INVALID", f"Invalid interaction response type {ctype}"
                    )
                }
            )
        data = body.get("data") or {}
        channel = self._channel(pi.channel_id)
        resource_message: dict[str, Any] | None = None
        if ctype == 4:
            if err := self._validate_message(data, rec.files):
                return err
            msg = self._create_message(channel, self.bot_user, data, rec.files, pi=pi)
            pi.original_id = int(msg["id"])
            resource_message = msg
        elif ctype == 5:
            flags = FLAG_LOADING | (int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            msg = self._create_message(channel, self.bot_user, {"content": ""}, [], pi=pi, flags=flags)
            pi.original_id = int(msg["id"])
            pi.loading = True
            resource_message = msg
        elif ctype == 6:
            pi.original_id = pi.component_message_id
        elif ctype == 7:
            target = self._messages.get(pi.component_message_id or 0)
            if target is None:
                return _error_response(404, 10008, "Unknown Message")
            if err := self._validate_message(data, rec.files, edit=True):
                return err
            self._edit_message(target, data, rec.files)
            pi.original_id = int(target["id"])
            resource_message = target
        elif ctype == 8:
            if err := self._validate_choices(data.get("choices") or []):
                return err
        elif ctype == 9 and not (data.get("custom_id") and data.get("title") and data.get("components")):
            return _form_error({"data": _field_error("BASE_TYPE_REQUIRED", "Modal needs custom_id/title/components")})
        pi.callback = body
        pi.callback_type = ctype
        if resource_message is not None and ctype in (4, 7) and not resource_message["flags"] & FLAG_EPHEMERAL:
            await self._echo_message_event("MESSAGE_CREATE" if ctype == 4 else "MESSAGE_UPDATE", resource_message)
        self._notify()
        if rec.query.get("with_response", "").lower() not in ("1", "true"):
            return web.Response(status=204)
        result: dict[str, Any] = {"interaction": {"id": str(pi.id), "type": pi.type}}
        if resource_message is not None:
            result["interaction"].update(
                response_message_id=resource_message["id"],
                response_message_loading=bool(resource_message["flags"] & FLAG_LOADING),
                response_message_ephemeral=bool(resource_message["flags"] & FLAG_EPHEMERAL),
            )
            result["resource"] = {"type": ctype, "message": self._public(resource_message)}
        return _json_response(result)

    @staticmethod
    def _validate_choices(choices: list[dict[str, Any]]) -> web.Response | None:
        errors: dict[str, Any] = {}
        if len(choices) > 25:
            errors["_errors"] = [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."}]
        for i, choice in enumerate(choices):
            name = str(choice.get("name", ""))
            value = choice.get("value")
            if not 1 <= len(name) <= 100:
                errors[str(i)] = {"name": _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100.")}
            if isinstance(value, str) and len(value) > 100:
                errors[str(i)] = {"value": _field_error("BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer.")}
        if errors:
            return _form_error({"data": {"choices": errors}})
        return None

    def _webhook_message(self, pi: _PendingInteraction, mid: str) -> dict[str, Any] | None:
        if mid == "@original":
            if pi.original_id is None:
                return None
            return self._messages.get(pi.original_id)
        message_id = int(mid)
        if message_id != pi.original_id and message_id not in pi.followup_ids:
            return None
        return self._messages.get(message_id)

    async def _h_followup(self, rec: RecordedRequest, app_id: str, token: str) -> web.Response:
        pi = self._pending_for_token(app_id, token)
        if pi is None or pi.callback is None:
            return _error_response(404, 10015, "Unknown Webhook")
        body = rec.json or {}
        if err := self._validate_message(body, rec.files):
            return err
        channel = self._channel(pi.channel_id)
        original = self._messages.get(pi.original_id or 0)
        if pi.loading and original is not None:
            # the first follow-up after a deferred ("thinking...") response replaces it
            self._edit_message(original, {**body, "flags": body.get("flags") or 0}, rec.files)
            original["flags"] = int(original["flags"]) & ~FLAG_LOADING
            original["edited_timestamp"] = None
            pi.loading = False
            msg = original
            if not msg["flags"] & FLAG_EPHEMERAL:
                await self._echo_message_event("MESSAGE_UPDATE", msg)
        else:
            msg = self._create_message(channel, self.bot_user, body, rec.files, pi=pi)
            if not msg["flags"] & FLAG_EPHEMERAL:
                await self._echo_message_event("MESSAGE_CREATE", msg)
        pi.followup_ids.append(int(msg["id"]))
        pi.updates += 1
        self._notify()
        if rec.query.get("wait", "").lower() in ("1", "true"):
            return _json_response(self._public(msg))
        return web.Response(status=204)

    async def _h_webhook_get(self, rec: RecordedRequest, app_id: str, token: str, mid: str) -> web.Response:
        pi = self._pending_for_token(app_id, token)
        if pi is None:
            return _error_response(404, 10015, "Unknown Webhook")
        msg = self._webhook_message(pi, mid)
        if msg is None:
            return _error_response(404, 10008, "Unknown Message")
        return _json_response(self._public(msg))

    async def _h_webhook_edit(self, rec: RecordedRequest, app_id: str, token: str, mid: str) -> web.Response:
        pi = self._pending_for_token(app_id, token)
        if pi is None:
            return _error_response(404, 10015, "Unknown Webhook")
        msg = self._webhook_message(pi, mid)
        if msg is None:
            return _error_response(404, 10008, "Unknown Message")
        body = rec.json or {}
        if err := self._validate_message(body, rec.files, edit=True):
            return err
        was_loading = bool(msg["flags"] & FLAG_LOADING)
        self._edit_message(msg, body, rec.files)
        if was_loading:
            msg["flags"] = int(msg["flags"]) & ~FLAG_LOADING
            pi.loading = False
        pi.updates += 1
        if not msg["flags"] & FLAG_EPHEMERAL:
            await self._echo_message_event("MESSAGE_UPDATE", msg)
        self._notify()
        return _json_response(self._public(msg))

    async def _h_webhook_delete(self, rec: RecordedRequest, app_id: str, token: str, mid: str) -> web.Response:
        pi = self._pending_for_token(app_id, token)
        if pi is None:
            return _error_response(404, 10015, "Unknown Webhook")
        msg = self._webhook_message(pi, mid)
        if msg is None:
            return _error_response(404, 10008, "Unknown Message")
        self._delete_message(int(msg["id"]))
        pi.loading = False
        pi.updates += 1
        await self._send_message_delete(msg)
        return web.Response(status=204)

    # ------------------------------------------------------------------ REST handlers: channels

    def _channel_or_404(self, cid: str) -> FakeChannel | web.Response:
        ch = self._find_channel(int(cid))
        if ch is None:
            return _error_response(404, 10003, "Unknown Channel")
        if ch.type != CHANNEL_DM and not self.permissions_for(self.bot_user, ch) & VIEW_CHANNEL:
            return _error_response(403, 50001, "Missing Access")
        return ch

    def _message_or_404(self, ch: FakeChannel, mid: str) -> dict[str, Any] | web.Response:
        msg = self._messages.get(int(mid))
        if msg is None or int(msg["channel_id"]) != ch.id or msg["flags"] & FLAG_EPHEMERAL:
            return _error_response(404, 10008, "Unknown Message")
        return msg

    async def _h_get_channel(self, rec: RecordedRequest, cid: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        return _json_response(ch.to_payload())

    async def _h_history(self, rec: RecordedRequest, cid: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        limit = min(int(rec.query.get("limit", 50)), 100)
        ids = list(self._channel_messages.get(ch.id, []))
        if "before" in rec.query:
            ids = [i for i in ids if i < int(rec.query["before"])]
        if "after" in rec.query:
            ids = [i for i in ids if i > int(rec.query["after"])][:limit]
        ids = sorted(ids, reverse=True)[:limit]
        return _json_response([self._public(self._messages[i]) for i in ids if i in self._messages])

    async def _h_post_message(self, rec: RecordedRequest, cid: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        body = rec.json or {}
        if ch.type == CHANNEL_DM:
            if not ch.recipients[0].dms_open:
                return _error_response(403, 50007, "Cannot send messages to this user")
        else:
            perms = self.permissions_for(self.bot_user, ch)
            if not perms & SEND_MESSAGES or (rec.files and not perms & ATTACH_FILES):
                return _error_response(403, 50013, "Missing Permissions")
        if err := self._validate_message(body, rec.files):
            return err
        if body.get("enforce_nonce") and body.get("nonce") is not None:
            # Discord answers a repeated nonce (from the same author, within minutes) with the
            # message it already created, instead of posting it again.
            for existing in self.messages_in(ch, include_interactions=False):
                if existing.get("nonce") == body["nonce"] and existing["author"]["id"] == str(self.bot_user.id):
                    return _json_response(self._public(existing))
        msg = self._create_message(ch, self.bot_user, body, rec.files)
        await self._echo_message_event("MESSAGE_CREATE", msg)
        return _json_response(self._public(msg))

    async def _h_get_message(self, rec: RecordedRequest, cid: str, mid: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        msg = self._message_or_404(ch, mid)
        if isinstance(msg, web.Response):
            return msg
        return _json_response(self._public(msg))

    async def _h_edit_message(self, rec: RecordedRequest, cid: str, mid: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        msg = self._message_or_404(ch, mid)
        if isinstance(msg, web.Response):
            return msg
        if int(msg["author"]["id"]) != self.bot_user.id:
            return _error_response(403, 50005, "Cannot edit a message authored by another user")
        body = rec.json or {}
        if err := self._validate_message(body, rec.files, edit=True):
            return err
        self._edit_message(msg, body, rec.files)
        for pi in self._interactions.values():
            if pi.component_message_id == int(mid) and pi.callback_type == 6:
                pi.updates += 1
        await self._echo_message_event("MESSAGE_UPDATE", msg)
        self._notify()
        return _json_response(self._public(msg))

    async def _h_delete_message(self, rec: RecordedRequest, cid: str, mid: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        msg = self._message_or_404(ch, mid)
        if isinstance(msg, web.Response):
            return msg
        own = int(msg["author"]["id"]) == self.bot_user.id
        if not own and ch.type != CHANNEL_DM and not self.permissions_for(self.bot_user, ch) & MANAGE_MESSAGES:
            return _error_response(403, 50013, "Missing Permissions")
        self._delete_message(int(mid))
        await self._send_message_delete(msg)
        return web.Response(status=204)

    async def _send_message_delete(self, msg: Mapping[str, Any]) -> None:
        if msg["flags"] & FLAG_EPHEMERAL:
            return
        data = {"id": msg["id"], "channel_id": msg["channel_id"]}
        if "guild_id" in msg:
            data["guild_id"] = msg["guild_id"]
        needed = INTENT_GUILD_MESSAGES if "guild_id" in msg else INTENT_DIRECT_MESSAGES
        for session in list(self._sessions.values()):
            if session.intents & needed:
                await self._dispatch_to(session, "MESSAGE_DELETE", dict(data))

    async def _h_typing(self, rec: RecordedRequest, cid: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        return web.Response(status=204)

    async def _h_add_reaction(self, rec: RecordedRequest, cid: str, mid: str, emoji: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        msg = self._message_or_404(ch, mid)
        if isinstance(msg, web.Response):
            return msg
        name, _, eid = emoji.partition(":")
        for reaction in msg["reactions"]:
            if reaction["emoji"]["name"] == name:
                if not reaction["me"]:
                    reaction["me"] = True
                    reaction["count"] += 1
                break
        else:
            msg["reactions"].append(
                {
                    "emoji": {"id": eid or None, "name": name},
                    "count": 1,
                    "me": True,
                    "count_details": {"burst": 0, "normal": 1},
                    "burst_colors": [],
                    "me_burst": False,
                    "burst_me": False,
                    "burst_count": 0,
                }
            )
        return web.Response(status=204)

    async def _h_remove_reaction(self, rec: RecordedRequest, cid: str, mid: str, emoji: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        msg = self._message_or_404(ch, mid)
        if isinstance(msg, web.Response):
            return msg
        name = emoji.partition(":")[0]
        for reaction in list(msg["reactions"]):
            if reaction["emoji"]["name"] == name and reaction["me"]:
                reaction["me"] = False
                reaction["count"] -= 1
                if reaction["count"] <= 0:
                    msg["reactions"].remove(reaction)
        return web.Response(status=204)

    # ------------------------------------------------------------------ REST handlers: guilds

    def _guild_or_404(self, gid: str) -> FakeGuild | web.Response:
        guild = self.guilds.get(int(gid))
        if guild is None:
            return _error_response(404, 10004, "Unknown Guild")
        return guild

    async def _h_get_guild(self, rec: RecordedRequest, gid: str) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        data = self.guild_payload(guild, full=False)
        if rec.query.get("with_counts", "").lower() in ("1", "true"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return _json_response(data)

    async def _h_guild_channels(self, rec: RecordedRequest, gid: str) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        return _json_response([c.to_payload() for c in guild.channels.values()])

    async def _h_guild_roles(self, rec: RecordedRequest, gid: str) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        return _json_response([r.to_payload() for r in guild.roles.values()])

    async def _h_guild_members(self, rec: RecordedRequest, gid: str) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        limit = min(int(rec.query.get("limit", 1)), 1000)
        after = int(rec.query.get("after", 0))
        members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)[:limit]
        return _json_response([m.to_payload() for m in members])

    async def _h_get_member(self, rec: RecordedRequest, gid: str, uid: str) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        member = guild.members.get(int(uid))
        if member is None:
            return _error_response(404, 10007, "Unknown Member")
        return _json_response(member.to_payload())

    def _can_manage_role(self, guild: FakeGuild, role: FakeRole) -> bool:
        perms = self.permissions_for(self.bot_user, guild=guild)
        if not perms & MANAGE_ROLES:
            return False
        bot_top = max(guild.roles[r].position for r in guild.members[self.bot_user.id].role_ids)
        return role.position < bot_top and not role.managed and role.id != guild.id

    async def _member_updated(self, guild: FakeGuild, member: FakeMember) -> None:
        data = self.member_payload(member)
        for session in list(self._sessions.values()):
            if session.intents & INTENT_GUILD_MEMBERS:
                await self._dispatch_to(session, "GUILD_MEMBER_UPDATE", dict(data))

    async def _h_edit_member(self, rec: RecordedRequest, gid: str, uid: str) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        member = guild.members.get(int(uid))
        if member is None:
            return _error_response(404, 10007, "Unknown Member")
        body = rec.json or {}
        if "roles" in body:
            new_ids = [int(r) for r in body["roles"] or []]
            for rid in set(new_ids) ^ set(member.role_ids):
                role = guild.roles.get(rid)
                if role is None:
                    return _form_error({"roles": _field_error("UNKNOWN_ROLE", f"Unknown role {rid}")})
                if not self._can_manage_role(guild, role):
                    return _error_response(403, 50013, "Missing Permissions")
            member.role_ids = new_ids
        if "nick" in body:
            member.nick = body["nick"]
        await self._member_updated(guild, member)
        return _json_response(member.to_payload())

    async def _h_add_role(self, rec: RecordedRequest, gid: str, uid: str, rid: str) -> web.Response:
        return await self._change_role(gid, uid, rid, add=True)

    async def _h_remove_role(self, rec: RecordedRequest, gid: str, uid: str, rid: str) -> web.Response:
        return await self._change_role(gid, uid, rid, add=False)

    async def _change_role(self, gid: str, uid: str, rid: str, *, add: bool) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        member = guild.members.get(int(uid))
        if member is None:
            return _error_response(404, 10007, "Unknown Member")
        role = guild.roles.get(int(rid))
        if role is None:
            return _error_response(404, 10011, "Unknown Role")
        if not self._can_manage_role(guild, role):
            return _error_response(403, 50013, "Missing Permissions")
        if add and role.id not in member.role_ids:
            member.role_ids.append(role.id)
        elif not add and role.id in member.role_ids:
            member.role_ids.remove(role.id)
        await self._member_updated(guild, member)
        return web.Response(status=204)
