"""The fake Discord itself: its state, starting and stopping it, and running bots against it."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import types
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord
import discord.client
import discord.gateway
import discord.http
import discord.state
import discord.webhook.async_
import yarl
from aiohttp import web

from bot.playground.fake_discord.builders import BuildersMixin
from bot.playground.fake_discord.commands import CommandsMixin
from bot.playground.fake_discord.constants import (
    API_PREFIX,
    DEFAULT_BOT_PERMISSIONS,
    PRIVILEGED_INTENTS,
    permission_value,
)
from bot.playground.fake_discord.faults import FaultsMixin
from bot.playground.fake_discord.gateway import GatewayMixin
from bot.playground.fake_discord.interactions import InteractionsMixin
from bot.playground.fake_discord.messages import MessagesMixin
from bot.playground.fake_discord.models import (
    FakeChannel,
    FakeDiscordError,
    FakeGuild,
    FakeUser,
    FaultRule,
    GatewayConnection,
    GatewaySession,
    InteractionTimeout,
    PendingInteraction,
    RecordedRequest,
    snowflake,
)
from bot.playground.fake_discord.queries import QueriesMixin
from bot.playground.fake_discord.rest.channels import ChannelRoutes
from bot.playground.fake_discord.rest.commands import CommandRoutes
from bot.playground.fake_discord.rest.guilds import GuildRoutes
from bot.playground.fake_discord.rest.interactions import InteractionRoutes
from bot.playground.fake_discord.rest.misc import MiscRoutes
from bot.playground.fake_discord.rest.routing import RestRouting
from bot.playground.fake_discord.validation import ValidationMixin

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake


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


class FakeDiscord(
    BuildersMixin,
    QueriesMixin,
    FaultsMixin,
    GatewayMixin,
    InteractionsMixin,
    CommandsMixin,
    MessagesMixin,
    ValidationMixin,
    RestRouting,
    MiscRoutes,
    CommandRoutes,
    InteractionRoutes,
    ChannelRoutes,
    GuildRoutes,
):
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
        self.bot_permissions = permission_value(bot_permissions)
        unknown = set(privileged_intents) - set(PRIVILEGED_INTENTS)
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
        self.gateway_connections: list[GatewayConnection] = []
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
        self._interactions: dict[int, PendingInteraction] = {}
        self._interactions_by_token: dict[str, PendingInteraction] = {}
        self._sessions: dict[str, GatewaySession] = {}
        self._conns: set[GatewayConnection] = set()
        self._connect_generation = 0
        self._bots: dict[discord.Client, asyncio.Task[None]] = {}
        self._inflight = 0
        self._last_activity = 0.0
        self._changed = asyncio.Event()
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
            # Patching discord.py's class on purpose, with a wrapper whose signature is looser than its own.
            discord.state.ConnectionState.__init__ = __init__  # type: ignore[method-assign,assignment]

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


if TYPE_CHECKING:

    def _is_a_fake(fake: FakeDiscord) -> Fake:
        """Have mypy check that FakeDiscord has all its sections use of each other (the ``Fake`` protocol)."""
        return fake
