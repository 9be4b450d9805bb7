"""What the fake's server holds: users, roles, members, channels, guilds, files and recorded requests,
and the records its sections share: fault rules, gateway connections and sessions, interactions.

A leaf of the package: it imports only ``constants``, so ``base`` (the ``Fake`` protocol) can name
these types without importing a section that imports ``base`` back.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
import mimetypes
import re
import secrets
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

from bot.playground.fake_discord.constants import (
    CHANNEL_DM,
    CHANNEL_NEWS,
    CHANNEL_TEXT,
    CHANNEL_VOICE,
    DISCORD_EPOCH_MS,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
)

_log = logging.getLogger("bot.playground.fake_discord")


class FakeDiscordError(AssertionError):
    """The bot (or the test driving the fake) did something the fake considers wrong."""


class InteractionTimeout(FakeDiscordError):
    """The bot did not answer (or did not finish answering) an interaction in time."""


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


def id_of(obj: Any) -> int:
    if isinstance(obj, int):
        return obj
    if isinstance(obj, str) and obj.isdigit():
        return int(obj)
    if isinstance(obj, Mapping) and "id" in obj:
        return int(obj["id"])
    if hasattr(obj, "id"):
        return int(obj.id)
    raise TypeError(f"cannot get a Discord id from {obj!r}")


def guess_content_type(file: FakeFile) -> str | None:
    if file.content_type and file.content_type != "application/octet-stream":
        return file.content_type
    return mimetypes.guess_type(file.filename)[0] or file.content_type


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


def walk_components(components: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for comp in components or ():
        yield comp
        yield from walk_components(comp.get("components") or ())
        if isinstance(comp.get("accessory"), Mapping):
            yield from walk_components([comp["accessory"]])
        if isinstance(comp.get("component"), Mapping):
            yield from walk_components([comp["component"]])


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


def make_stream_compressor(kind: str | None) -> Callable[[bytes], bytes] | None:
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


class GatewayConnection:
    def __init__(self, ws: web.WebSocketResponse, *, compress: str | None, path: str, query: dict[str, str]):
        self.ws = ws
        self.compress = compress
        self.path = path
        self.query = query
        self.session: GatewaySession | None = None
        self.resumed = False
        self.closed = False
        self.received: list[dict[str, Any]] = []
        self.heartbeat_waiters: list[asyncio.Future[None]] = []
        self._lock = asyncio.Lock()
        self._compress = make_stream_compressor(compress)

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


class GatewaySession:
    def __init__(self, *, intents: int, shard: list[int] | None):
        self.id = secrets.token_hex(16)
        self.intents = intents
        self.shard = shard
        self.seq = 0
        self.conn: GatewayConnection | None = None
        self.events: deque[dict[str, Any]] = deque(maxlen=5000)
        self.lock = asyncio.Lock()
        self.resumable = True

    @property
    def live(self) -> bool:
        return self.conn is not None and not self.conn.closed


@dataclass(eq=False)
class PendingInteraction:
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


class MessageStore(Protocol):
    """What an :class:`InteractionResult` reads from the fake (``FakeDiscord`` is one): the part
    of ``base.Fake`` it needs, so this module does not import ``base``, which imports it."""

    def get_message(self, message_id: int | str) -> dict[str, Any] | None: ...

    def files_of(self, message: Mapping[str, Any]) -> list[FakeFile]: ...

    async def _wait_until(self, predicate: Callable[[], bool], deadline: float) -> bool: ...


class InteractionResult:
    """What happened to one interaction, seen from the member's side.

    ``message`` is what the member sees as the answer: the initial response message (type 4),
    the deferred "thinking" message once it was completed by a follow-up or an edit of
    ``@original`` (type 5), or the component's message after an update (types 6/7).  The
    properties below read from it and are always up to date (edits, deletions).
    """

    def __init__(self, fake: MessageStore, pending: PendingInteraction):
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
        return [c["custom_id"] for c in walk_components(self.components) if "custom_id" in c]

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
