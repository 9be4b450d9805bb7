"""The Shiplog bot: a commands.Bot that owns the database, the web server, the cogs and the workers."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import logging
import pkgutil
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import discord
import httpx
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import cogs
from bot.config import Settings
from bot.db.base import utcnow
from bot.db.models import AppState
from bot.db.session import ping, reading, transaction, upsert
from bot.metrics import Metrics
from bot.services.github.api import GitHubAPI
from bot.services.github.device import DeviceFlow
from bot.services.github.radar import Radar
from bot.tree import ShiplogTree
from bot.web import WebServer, build_app
from bot.web.health import GatewayWatch
from bot.workers.base import Action, Renderer
from bot.workers.scheduler import Scheduler
from bot.workers.wiring import Workers, build_workers

log = logging.getLogger(__name__)

# Webhooks count as "arriving now" for this long after the last one was stored: the GitHub
# processor then leaves the intake most of the process (see bot/workers/github.py).
INTAKE_QUIET = 0.05
_heap_frozen = False

# How long a stop waits for work in hand (sends, a batch of deliveries, webhooks in flight) before
# handing what is left back to the database. Docker's `docker stop` waits 10 s before SIGKILL: the
# hand-back and the close fit in compose.yaml's stop_grace_period of 15 s.
STOP_GRACE_SECONDS = 10.0


def extension_names() -> list[str]:
    """Return every cog module in `cogs/`; modules whose name starts with `_` are helpers."""
    return sorted(
        f"{cogs.__name__}.{module.name}"
        for module in pkgutil.iter_modules(cogs.__path__)
        if not module.name.startswith("_")
    )


class Shiplog(commands.AutoShardedBot):
    """The bot. Everything it needs is handed in; nothing is created at import time.

    Always an AutoShardedBot: with SHARD_COUNT unset it runs every shard Discord recommends (one,
    below 2,500 servers), with SHARD_COUNT and SHARD_IDS it is one process of a fleet.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        http_client: httpx.AsyncClient,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        workers: Workers | None = None,
    ) -> None:
        intents = discord.Intents.default()
        # Privileged, opt-in (MEMBERS_INTENT): member leaves and rejoins (cogs/departures.py).
        intents.members = settings.members_intent
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            # The members intent is only for leave and join events: no member list of every server
            # is fetched at start (as without the intent), which would slow the start of a big bot.
            chunk_guilds_at_startup=False,
            tree_cls=ShiplogTree,
            # Nothing the bot posts may ping anyone unless a message names its users explicitly.
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            shard_count=settings.shard_count,
            # discord.py's annotation says list[int], but it reads None as "every shard" (its default).
            shard_ids=list(settings.shard_ids) if settings.shard_ids is not None else None,  # type: ignore[arg-type]
        )
        self.settings = settings
        self.engine = engine
        self.sessionmaker = sessionmaker
        self.http_client = http_client
        self.clock = clock
        # Waits measured on `clock` (a test's or the playground's clock moves them along).
        self.sleep = sleep
        self.gateway = GatewayWatch(clock=clock)
        self.github = GitHubAPI(
            http_client,
            token=settings.github_token,
            base_url=settings.github_api_url,
            graphql_url=settings.github_graphql_url,
        )
        # Long-running work (bot/workers/): started in setup_hook, drained on stop.
        self.workers = workers if workers is not None else build_workers(settings)
        self.metrics = self._metrics() if settings.metrics else None
        self.web = WebServer(
            build_app(
                engine,
                sessionmaker=sessionmaker,
                webhook_secret=settings.github_webhook_secret,
                on_delivery=self.wake_github,
                gateway=self.gateway,
                public_url=settings.public_url,
                now=self.now,
                metrics=self.metrics,
            ),
            settings.http_host,
            settings.http_port,
            shutdown_timeout=STOP_GRACE_SECONDS,
        )
        # Set when a stop begins: the loops take no new work, workers finish what they hold.
        self.stopping = asyncio.Event()
        self._shutdown: asyncio.Task[None] | None = None
        self.renderers: dict[str, Renderer] = {}
        self.actions: dict[str, Action] = {}
        self.outbox_wakeup = asyncio.Event()
        self.github_wakeup = asyncio.Event()
        self.github_last_delivery = float("-inf")  # time.monotonic() of the last stored delivery
        # Linking in one step (GITHUB_OAUTH_CLIENT_ID); None: members link with a code in their bio.
        self.device_flow = (
            DeviceFlow(
                http_client,
                client_id=settings.github_oauth_client_id,
                web_url=settings.github_web_url,
                api_url=settings.github_api_url,
                now=self.now,
                sleep=self.sleep,
            )
            if settings.github_oauth_client_id
            else None
        )

    def _metrics(self) -> Metrics:
        """The process's metrics (METRICS=true): the database's, and what this process knows."""
        metrics = Metrics(self.sessionmaker, now=self.now)
        metrics.rate_limits = self.github.limits
        metrics.gateway_latency = lambda: self.latency
        radar = self.workers.radar
        metrics.radar_checked = lambda: radar.radar.checked_total if radar.radar is not None else 0
        return metrics

    def now(self) -> datetime:
        """Return the current aware UTC time (a test can move this clock)."""
        return self.clock()

    def wake_github(self) -> None:
        """Tell the GitHub processor that a delivery was stored."""
        self.github_last_delivery = time.monotonic()
        self.github_wakeup.set()

    def intake_busy(self) -> bool:
        """Tell whether webhooks are arriving right now (one stored in the last INTAKE_QUIET seconds)."""
        return time.monotonic() - self.github_last_delivery < INTAKE_QUIET

    @property
    def runs_fleet_jobs(self) -> bool:
        """Tell whether this process runs the work a fleet needs once: the radar (the process holding shard 0).

        Every process of a fleet would otherwise search GitHub for every member, and spend the
        search budget (per token, or per address without one) as many times over.
        """
        shard_ids = self.settings.shard_ids
        return shard_ids is None or 0 in shard_ids

    @property
    def radar(self) -> Radar | None:
        """The radar (bot/services/github/radar.py), once its worker has started."""
        return self.workers.radar.radar

    @property
    def scheduler(self) -> Scheduler | None:
        """The scheduler (bot/workers/scheduler.py) while it runs."""
        return self.workers.scheduler.scheduler

    def wake_radar(self) -> None:
        """Tell the radar to start a pass now (a member just linked: import their history)."""
        self.workers.radar.wake()

    def wake_outbox(self) -> None:
        """Tell the delivery loop that new messages were queued."""
        self.outbox_wakeup.set()

    async def login(self, token: str) -> None:
        """Start the web server, then log in: /healthz answers ("starting") while the bot logs in,
        and a busy port stops the start before Discord is asked anything."""
        if not self.web.running:
            await self.web.start()
        await super().login(token)

    async def setup_hook(self) -> None:
        """Check the database, load the cogs, start the workers and sync commands."""
        await ping(self.engine)
        for name in extension_names():
            await self.load_extension(name)
        # After the cogs: the renderers and actions the outbox sender needs are registered by then.
        for worker in self.workers.all():
            if self.stopping.is_set():  # a stop came during the start: a worker started now would leak
                return
            await worker.start(self)
        await self.sync_commands()

    async def on_shard_connect(self, shard_id: int) -> None:
        self.gateway.connected(shard_id)

    async def on_shard_resumed(self, shard_id: int) -> None:
        self.gateway.connected(shard_id)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self.gateway.disconnected(shard_id)

    async def on_ready(self) -> None:
        # Freeze what the process holds once the gateway is up (modules, the command tree, the
        # first member cache): the garbage collector no longer walks it on every full collection.
        # Those walks stalled the event loop for up to 80 ms under webhook load (bench/pipeline.py).
        # Once per process only: objects frozen and later dropped in a cycle are never collected.
        global _heap_frozen
        if not _heap_frozen:
            _heap_frozen = True
            gc.collect()
            gc.freeze()

    async def sync_commands(self) -> None:
        """Sync app commands (to DEV_GUILD_ID if set) only when they changed since the last sync."""
        guild = discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        key = f"commands:{self.application_id}:{guild.id if guild else 'global'}"
        async with reading(self.sessionmaker) as session:
            state = await session.get(AppState, key)
            if state is not None and state.value == digest:
                log.info("app commands unchanged since the last sync; not syncing")
                return
        synced = await self.tree.sync(guild=guild)
        log.info("synced %d app commands to %s", len(synced), f"guild {guild.id}" if guild else "all servers")
        async with transaction(self.sessionmaker) as session:
            await upsert(session, AppState, {"key": key, "value": digest, "updated_at": self.now()}, key="key")

    async def shutdown(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop gracefully: refuse new webhooks, finish work in hand for up to `grace` seconds, hand
        the rest back to the database, then close the gateway. Calling it again waits for the first."""
        if self._shutdown is None:
            self._shutdown = asyncio.create_task(self._stop_gracefully(grace), name="shiplog-shutdown")
        await asyncio.shield(self._shutdown)

    async def _stop_gracefully(self, grace: float) -> None:
        log.info("stopping: new webhooks get 503; finishing the work in hand for up to %g s", grace)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        # The web server keeps listening while the work drains: a load balancer reads "stopping" on
        # /healthz, and a webhook arriving now gets a 503 it can be redelivered from, not a refused connection.
        self.web.drain()
        self.stopping.set()
        self.wake_outbox()
        self.wake_github()
        workers = self.workers.all()
        work = [asyncio.create_task(worker.drain(), name=f"shiplog-drain-{worker.name}") for worker in workers]
        late: set[asyncio.Task[None]] = set()
        if work:
            _, late = await asyncio.wait(work, timeout=grace)
        for task in late:
            task.cancel()
        for result in await asyncio.gather(*work, return_exceptions=True):
            if isinstance(result, Exception):
                log.error("stopping: could not finish some work: %r", result)
        handed = await self._hand_back()
        # Requests in flight (a webhook being stored) finish within what is left of the grace.
        self.web.shutdown_timeout = max(deadline - loop.time(), 1.0)
        await self.web.stop()
        await self.close()
        log.info(
            "stopped cleanly: %s; %d unsent message%s handed back to the database",
            f"cut off after {grace:g} s" if late else "all work in hand finished",
            handed,
            "" if handed == 1 else "s",
        )

    async def _hand_back(self) -> int:
        """Stop every worker and give back what they hold; return how many outbox rows were given back."""
        handed = 0
        for worker in self.workers.all():
            try:
                handed += await worker.hand_back()
            except Exception:  # the leases then run out by themselves within seconds
                log.exception("stopping: could not hand the %s worker's work back", worker.name)
        return handed

    async def close(self) -> None:
        """Stop the web server and the workers, then disconnect from Discord."""
        self.stopping.set()
        await self.web.stop()
        await self._hand_back()
        await super().close()
