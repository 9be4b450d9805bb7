"""The pretend server behind the playground: the real bot, logged into the Discord stand-in.

`Playground` builds a server (an admin, a few members, the channels Shiplog posts in), a loopback
GitHub for the radar, and the real `Shiplog` bot on its own SQLite file, with a clock that can be
moved forward. It sets the server up the way an admin would, with the bot's own slash commands,
then does what the page asks: run a command as a member, click a button, send a signed GitHub
delivery to the bot's webhook intake, fake an upstream merge for the radar, move the clock.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import re
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import discord
import httpx
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bot import Shiplog
from bot.config import Settings
from bot.db.base import utcnow
from bot.db.session import create_engine, create_sessionmaker
from bot.playground import samples
from bot.playground.clock import Clock
from bot.playground.fake_discord import (
    ADMINISTRATOR,
    FLAG_EPHEMERAL,
    Channel,
    FakeChannel,
    FakeDiscord,
    FakeDiscordError,
    FakeGuild,
    FakeMember,
    InteractionResult,
    InteractionTimeout,
    Member,
    ServerSpec,
    build_server,
)
from bot.playground.fake_github import FakeGitHub
from bot.playground.fake_github import FakeUser as GitHubUser
from bot.services.rhythm.settings import get_schedule
from bot.services.rhythm.when import next_run

log = logging.getLogger(__name__)

MANAGE_GUILD = discord.Permissions(manage_guild=True).value

# The playground's own secret: it signs the deliveries it sends, as GitHub would with yours.
WEBHOOK_SECRET = "playground-webhook-secret"  # noqa: S105 (a pretend secret, for a pretend GitHub)
REPO = "octo-org/Hello-World"  # the repository the sample deliveries are about, relayed into #github
UPSTREAM_REPOS = ("python/cpython", "pallets/flask", "django/django", "psf/requests")
LINKED_LOGIN = "Codertocat"  # the sample payloads' pull request author, linked to alice
LINKED_ID = 21031067
CHANNELS = (
    ("general", "Say hello; slash commands work in any channel."),
    ("goals", "New goals are announced here."),
    ("accountability", "Check-ins and the weekly ping."),
    ("celebrations", "Merged pull requests and milestones."),
    ("digest", "The weekly digest."),
    ("github", f"Events of {REPO}, relayed."),
)
MEMBERS = ("alice", "bob", "carol")
ADMIN = "ada"  # the server's owner, who sets it up
# The channels first, then the members (their ids follow that order).
SERVER = ServerSpec(
    name="Open Source Builders",
    owner=ADMIN,
    general=False,
    contents=(*(Channel(name, topic) for name, topic in CHANNELS), *(Member(name) for name in MEMBERS)),
)
MAX_BIO = 160  # GitHub's own limit
DEVICE_APPROVAL_DELAY = timedelta(seconds=3)  # how long the pretend member takes to type the code on GitHub
SWEEP_STEP = timedelta(hours=3)  # how often `advance` sweeps for streak DMs on its way
ISSUE_TITLES = (
    "Typo in the installation guide",
    "Crash when the config file is empty",
    "Add a dark mode to the docs",
    "Flaky test on Windows",
    "Document the --port option",
)


@dataclass
class Viewer:
    """What one person at the page did: the interactions whose private answers only they see."""

    results: list[InteractionResult] = field(default_factory=list)


class PlaygroundError(Exception):
    """Something the page asked cannot be done; the message says why, for the page to show."""


class Playground:
    """A server with members and channels, the real bot connected to it, and a movable clock."""

    def __init__(self, *, database_url: str, port: int = 0, start: datetime | None = None) -> None:
        self.database_url = database_url
        self.port = port
        self.clock = Clock(start or utcnow())
        # Messages are stamped with the playground's clock: a ping sent at "Mon 08:01" says 08:01.
        self.fake = FakeDiscord(retry_sleep_scale=None, guild_ready_timeout=0.1, clock=self.clock)
        # A generous pretend GitHub: the radar paces itself by the limit GitHub announces, so it looks in seconds.
        self.github = FakeGitHub(now=self.clock, search_limits={False: 600, True: 600})
        self.members: dict[int, FakeMember] = {}
        self.departed: set[int] = set()  # members who left the server (still Discord users)
        self.bot: Shiplog | None = None
        self.viewers: dict[int, Viewer] = {}
        self.setup_log: list[str] = []
        self.community_url: str | None = None  # the demo server's community page, published at set-up
        self.events: list[dict[str, Any]] = []  # the GitHub deliveries and merges sent, newest last
        # Issues and pull requests share one repository's numbers on GitHub: each sample takes the next.
        self._numbers = itertools.count(2)
        self._merges = itertools.count(1)
        self._engine: AsyncEngine | None = None
        self._http: httpx.AsyncClient | None = None
        self._exit = contextlib.AsyncExitStack()
        # The server exists before the bot connects: it arrives in the gateway's GUILD_CREATE.
        self.github_accounts: dict[int, GitHubUser] = {}  # each person's pretend GitHub account
        self.guild, self.admin, self._github_user = self._build_server()

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self, add_routes: Callable[[web.Application], None] | None = None) -> None:
        """Start the stand-ins and the bot, then set the server up; `add_routes(app)` adds the page's routes."""
        await self._exit.enter_async_context(self.fake)
        await self._exit.enter_async_context(self.github)
        self._engine = create_engine(self.database_url)
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), headers={"User-Agent": "shiplog-playground"})
        if self.port == 0:
            # The public pages' address names the port, and is set before the server starts: pick it now.
            self.port = _free_port()
        settings = Settings(
            discord_token=self.fake.token,
            database_url=self.database_url,
            http_host="127.0.0.1",
            http_port=self.port,
            dev_guild_id=self.guild.id,
            github_webhook_secret=WEBHOOK_SECRET,
            github_api_url=self.github.url,
            # The loopback GitHub takes any token. With one the radar reads GraphQL, which the pretend
            # GitHub answers only where graphql-core is installed (a dev dependency): without it, no
            # token, and the radar reads REST search as it does for a bot without one.
            github_token="playground-token" if self.github.graphql is not None else None,
            github_poll_seconds=3600,  # the radar makes a pass when woken: at a link, at a fake merge
            # /github link with no username: the device flow, on the pretend GitHub (approved for you).
            github_web_url=self.github.url,
            github_oauth_client_id="playground-oauth-app",
            # Its own address, where its web server serves members' public pages (/me page).
            public_url=f"http://127.0.0.1:{self.port}",
        )
        self.bot = Shiplog(
            settings=settings,
            engine=self._engine,
            sessionmaker=create_sessionmaker(self._engine),
            http_client=self._http,
            clock=self.clock,
            sleep=self.clock.sleep,  # moving the clock forward hurries the device flow's polls along
        )
        if add_routes is not None:
            add_routes(self.bot.web.app)  # the page is served by the bot's own web server
        # Entered as `shiplog run` enters it: a bot whose start fails (a busy port) still closes.
        await self._exit.enter_async_context(self.bot)
        await self.fake.start_bot(self.bot, timeout=30)
        self.port = self.bot.web.port
        await self._set_up()

    async def close(self) -> None:
        """Stop the bot, then the stand-ins."""
        if self.bot is not None:
            await self.fake.stop_bot(self.bot)
            self.bot = None
        if self._http is not None:
            await self._http.aclose()
        if self._engine is not None:
            await self._engine.dispose()
        await self._exit.aclose()

    def _build_server(self) -> tuple[FakeGuild, FakeMember, GitHubUser]:
        server = build_server(self.fake, SERVER)
        guild, admin = server.guild, server.members[ADMIN]
        self.members.update((member.id, member) for member in server.members.values())
        self.github.add_repo(REPO)
        for repo in UPSTREAM_REPOS:
            self.github.add_repo(repo)
        linked = self.github.add_user(LINKED_LOGIN, LINKED_ID)
        for member in self.members.values():
            # alice is linked to the sample payloads' author; the others each have an account of
            # their own (bob-codes, ...) to link themselves, with /github link and a code in its bio.
            account = linked if member.name == "alice" else self.github.add_user(f"{member.name}-codes")
            self.github_accounts[member.id] = account
        return guild, admin, linked

    @property
    def running_bot(self) -> Shiplog:
        if self.bot is None:
            raise PlaygroundError("The bot isn't running: start the playground again.")
        return self.bot

    async def _set_up(self) -> None:
        """Set the server up as its admin would, with the bot's own commands."""
        guild = self.guild
        for purpose in ("goals", "accountability", "celebrations", "digest", "github"):
            await self._admin_runs("settings channel", purpose=purpose, channel=guild.channel_named(purpose))
        alice = guild.member_named("alice")
        await self._admin_runs("github-admin link-member", member=alice, username=LINKED_LOGIN)
        await self._admin_runs("github-admin subscribe", repo=REPO, channel=guild.channel_named("github"))
        # Members' pages, and the server's community page, whose address the intro gives.
        published = await self._admin_runs("settings pages", enabled=True, community=True)
        found = re.search(r"https?://\S+/c/[a-z0-9-]+", published)
        self.community_url = found.group(0) if found else None

    async def _admin_runs(self, command: str, **options: Any) -> str:
        """Run a command as the admin; return the bot's answer."""
        shown = " ".join(f"{k}:{self._shown(v)}" for k, v in options.items())
        result = await self.fake.invoke(self.guild, self.admin, command, options=options, timeout=15)
        self.setup_log.append(f"/{command} {shown}")
        log.info("playground set-up: /%s %s → %s", command, shown, (result.content or "").split("\n")[0])
        return result.content or ""

    @staticmethod
    def _shown(value: Any) -> str:
        if isinstance(value, FakeChannel):
            return f"#{value.name}"
        if isinstance(value, FakeMember):
            return f"@{value.name}"
        return str(value)

    # --- what the page shows -------------------------------------------------------------------

    def member(self, user_id: int | str) -> FakeMember:
        """Someone in the server, to act as; who left must rejoin first."""
        member = self.person_named_by(user_id)
        if member.id in self.departed:
            raise PlaygroundError(f"{member.name} has left the server: make them rejoin first.")
        return member

    def person_named_by(self, user_id: Any) -> FakeMember:
        """One of the playground's people, in the server or not."""
        try:
            return self.members[int(user_id)]
        except (KeyError, ValueError, TypeError):
            raise PlaygroundError("Pick who you are first: that person isn't in this server.") from None

    def channel(self, channel_id: int | str) -> FakeChannel:
        with contextlib.suppress(ValueError, TypeError):
            wanted = int(channel_id)
            dms = (c for c in self.fake.dm_channels.values() if c.id == wanted)
            channel = self.guild.channels.get(wanted) or next(dms, None)
            if channel is not None:
                return channel
        raise PlaygroundError("That channel doesn't exist here.")

    def commands_for(self, member: FakeMember) -> list[dict[str, Any]]:
        """The synced slash commands, as the page lists them for `member` (admin ones only for admins)."""
        perms = self.fake.permissions_for(member, guild=self.guild)
        out = []
        for command in self.fake.commands(self.guild):
            if command.get("type", 1) != 1:
                continue
            needed = command.get("default_member_permissions")
            if needed is not None and int(needed) & perms != int(needed) and not perms & ADMINISTRATOR:
                continue
            out.append(command)
        return sorted(out, key=lambda c: c["name"])

    async def state(self, viewer: FakeMember) -> dict[str, Any]:
        """Who is here, the channels and DMs `viewer` sees, the clock and the next weekly run."""
        channels = [
            {"id": str(c.id), "name": c.name, "topic": c.topic, "count": len(self.fake.messages_in(c))}
            for c in sorted(self.guild.channels.values(), key=lambda c: c.position)
            if c.type == 0
        ]
        dm = self.fake.dm_channel(viewer)
        schedule = await get_schedule(self.running_bot.sessionmaker, self.guild.id)
        now = self.clock()
        return {
            "server": {"id": str(self.guild.id), "name": self.guild.name, "owner": str(self.guild.owner_id)},
            "me": self.person(viewer),
            "people": [self.person(m) for m in self.members.values()],
            "bot": {"id": str(self.fake.bot_user.id), "name": self.fake.bot_user.name},
            "roles": [
                {"id": str(r.id), "name": r.name, "color": r.color}
                for r in self.guild.roles.values()
                if r.id != self.guild.id and not r.managed
            ],
            "channels": channels,
            "dm": None if dm is None else {"id": str(dm.id), "count": len(self.fake.messages_in(dm))},
            "clock": now.isoformat(),
            "next_run": next_run(schedule, now).isoformat(),
            "schedule": schedule.describe(),
            "setup": self.setup_log,
            "events": self.events[-8:],
            "repo": REPO,
            "linked": {"member": "alice", "login": LINKED_LOGIN},
            "community": self.community_url,
        }

    def person(self, member: FakeMember) -> dict[str, Any]:
        here = member.id not in self.departed
        perms = self.fake.permissions_for(member, guild=self.guild) if here else 0
        return {
            "id": str(member.id),
            "name": member.name,
            "admin": member.id == self.guild.owner_id or bool(perms & (MANAGE_GUILD | ADMINISTRATOR)),
            "here": here,
            "github": {"login": account.login, "bio": account.bio or ""}
            if (account := self.github_accounts.get(member.id))
            else None,
        }

    def messages(self, viewer: FakeMember, channel: FakeChannel) -> list[dict[str, Any]]:
        """The channel's messages as `viewer` sees them: everyone's, and the private answers to them."""
        if channel.type == 1 and channel is not self.fake.dm_channel(viewer):
            raise PlaygroundError("Those are someone else's DMs.")
        shown = {m["id"]: m for m in self.fake.messages_in(channel)}
        for result in self.viewers.get(viewer.id, Viewer()).results:
            if result.interaction["channel_id"] != str(channel.id):
                continue
            for message in result.messages:
                if message["flags"] & FLAG_EPHEMERAL:
                    shown[message["id"]] = message
        out = []
        for message in sorted(shown.values(), key=lambda m: int(m["id"])):
            message = copy.deepcopy(message)
            for attachment in message.get("attachments", []):
                attachment.pop("data", None)  # the page loads the bytes from the attachment's URL
            out.append(message)
        return out

    # --- what the page does ------------------------------------------------------------------------

    def _remember(self, member: FakeMember, result: InteractionResult) -> None:
        self.viewers.setdefault(member.id, Viewer()).results.append(result)

    async def invoke(
        self, member: FakeMember, channel: FakeChannel, command: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        """Run a slash command as `member` in `channel`; refusals Discord's client makes come back as errors."""
        if channel.type != 0:
            raise PlaygroundError("Shiplog's commands work in the server's channels, not in DMs.")
        try:
            result = await self.fake.invoke(
                self.guild, member, command, in_channel=channel, options=options, timeout=10, expect_response=False
            )
        except InteractionTimeout as exc:
            raise PlaygroundError(f"The application did not respond ({exc}).") from None
        except FakeDiscordError as exc:
            raise PlaygroundError(_client_refusal(str(exc))) from None
        self._remember(member, result)
        if not result.acknowledged:
            raise PlaygroundError("The application did not respond.")
        if command.strip().lstrip("/") == "github link" and not options.get("username"):
            self._approve_device_code(member, result)
        return {"ok": True, "ephemeral": result.ephemeral}

    def _approve_device_code(self, member: FakeMember, result: InteractionResult) -> None:
        """Play the member typing the code on GitHub and approving, a few seconds from now (the bot polls every 5)."""
        account = self.github_accounts.get(member.id)
        shown = result.content or ""
        code = next((c for c in reversed(self.github.device.codes) if c.user_code in shown), None)
        if account is not None and code is not None and code.user is None and not code.denied:
            self.github.device.approve(code.user_code, account, after=DEVICE_APPROVAL_DELAY)

    async def autocomplete(
        self, member: FakeMember, channel: FakeChannel, command: str, option: str, options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Ask the bot for the choices of an autocompleted option while `member` types."""
        value = str(options.pop(option, ""))
        try:
            return await self.fake.autocomplete(
                self.guild, member, command, option, value, in_channel=channel, options=options, timeout=5
            )
        except FakeDiscordError as exc:
            raise PlaygroundError(_client_refusal(str(exc))) from None

    async def click(self, member: FakeMember, message_id: str, custom_id: str) -> dict[str, Any]:
        """Click a button on a message as `member`."""
        message = self.fake.get_message(message_id) if message_id.isdigit() else None
        if message is None:
            raise PlaygroundError("That message is gone.")
        try:
            result = await self.fake.click(self.guild, member, message, custom_id, timeout=10, expect_response=False)
        except InteractionTimeout:
            raise PlaygroundError("This interaction failed: the application did not respond.") from None
        except FakeDiscordError as exc:
            raise PlaygroundError(_client_refusal(str(exc))) from None
        self._remember(member, result)
        return {"ok": True}

    async def say(self, member: FakeMember, channel: FakeChannel, text: str) -> dict[str, Any]:
        """Post a plain message as `member` (Shiplog reads no message content; it is there to chat)."""
        if not text.strip():
            raise PlaygroundError("Type something first.")
        if len(text) > 2000:
            raise PlaygroundError("Messages are at most 2000 characters.")
        await self.fake.user_message(channel, member, text)
        return {"ok": True}

    async def membership(self, member: FakeMember, action: str) -> dict[str, Any]:
        """`member` leaves the server or joins it again (GUILD_MEMBER_REMOVE / ADD, which only a bot
        with the members intent hears: the playground's bot has it not, so an admin tells Shiplog
        with /settings member-left)."""
        if member.id == self.guild.owner_id:
            raise PlaygroundError("The server's owner cannot leave it.")
        if action == "leave":
            if member.id in self.departed:
                raise PlaygroundError(f"{member.name} has already left.")
            await self.fake.member_leave(member)
            self.departed.add(member.id)
        elif action == "rejoin":
            if member.id not in self.departed:
                raise PlaygroundError(f"{member.name} is in the server.")
            self.members[member.id] = await self.fake.member_rejoin(member)
            self.departed.discard(member.id)
        else:
            raise PlaygroundError("`action` is leave or rejoin.")
        return {"ok": True, "person": self.person(self.members[member.id])}

    def set_bio(self, member: FakeMember, bio: str) -> dict[str, Any]:
        """Write `member`'s pretend GitHub bio: where /github link's code goes for /github verify to find."""
        if len(bio) > MAX_BIO:
            raise PlaygroundError(f"A GitHub bio is at most {MAX_BIO} characters.")
        account = self.github_accounts.get(member.id)
        if account is None:
            raise PlaygroundError(f"{member.name} has no pretend GitHub account.")
        account.bio = bio.strip() or None
        return {"ok": True, "person": self.person(member)}

    async def send_github(self, kind: str) -> dict[str, Any]:
        """Send a sample GitHub delivery (signed with the webhook secret) or make an upstream merge."""
        if kind == "merged_pr":
            number = next(self._numbers)
            body = samples.merged_pr_payload(
                number=number,
                title=f"Fix the README's install steps (part {next(self._merges)})",
                repo=REPO,
                merged_at=_iso(self.clock()),
            )
            status = await self._deliver("pull_request", body)
            self._event(f"pull_request closed (merged): {REPO}#{number} by {LINKED_LOGIN}", status)
        elif kind == "issue_burst":
            statuses = []
            for title in ISSUE_TITLES:
                number = next(self._numbers)
                statuses.append(
                    await self._deliver("issues", samples.issue_payload(number=number, title=title, repo=REPO))
                )
            self._event(f"{len(ISSUE_TITLES)} × issues opened on {REPO}, within a second", max(statuses))
        elif kind == "upstream_merge":
            repo = UPSTREAM_REPOS[len([e for e in self.events if e["kind"] == "upstream"]) % len(UPSTREAM_REPOS)]
            now = self.clock()
            pr = self.github.add_pr(
                self._github_user,
                repo,
                created_at=now - timedelta(days=3),
                merged_at=now,  # not before the link: the radar celebrates what merged since
                title="Clarify an error message for first-time contributors",
            )
            self.running_bot.wake_radar()
            self.events.append(
                {"kind": "upstream", "text": f"merged upstream: {repo}#{pr.number} by {LINKED_LOGIN} (the radar looks)"}
            )
            return {"ok": True}
        else:
            raise PlaygroundError(f"There is no sample GitHub event called {kind!r}.")
        return {"ok": True}

    def _event(self, text: str, status: int) -> None:
        self.events.append({"kind": "webhook", "text": f"{text} → HTTP {status}"})

    async def _deliver(self, event: str, body: bytes) -> int:
        """POST a delivery to the bot's real /github/webhook, signed as GitHub signs it."""
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": samples.sign(WEBHOOK_SECRET, body),
            "User-Agent": "GitHub-Hookshot/playground",
        }
        url = f"http://127.0.0.1:{self.running_bot.web.port}/github/webhook"
        async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
            answer = await response.text()
            if response.status >= 400:
                raise PlaygroundError(f"The webhook intake answered {response.status}: {answer}")
            return response.status

    async def advance(self, *, hours: float = 0, to_next_run: bool = False) -> dict[str, Any]:
        """Move the clock forward, doing on the way what the scheduler would have done in that time.

        APScheduler keeps real time, so the playground fires its jobs itself: each weekly run at
        its instant, as its trigger would, and the streak-DM sweep (every 15 minutes in the bot)
        every SWEEP_STEP, often enough to meet every DM's window (a day before a weekly period
        ends, six hours before a daily one).
        """
        bot = self.running_bot
        scheduler = bot.scheduler
        if scheduler is None:
            raise PlaygroundError("The scheduler isn't running.")
        schedule = await get_schedule(bot.sessionmaker, self.guild.id)
        now = self.clock()
        target = next_run(schedule, now) + timedelta(minutes=1) if to_next_run else now + timedelta(hours=hours)
        delivery = bot.workers.outbox
        ran = []
        step = now
        while step < target:
            upcoming = next_run(schedule, step)
            step = min(step + SWEEP_STEP, target)
            if upcoming <= step:
                step = upcoming + timedelta(minutes=1)
                self.clock.advance_to(step)
                result = await scheduler.run_guild(self.guild.id, schedule.key)
                ran.append(upcoming.isoformat())
                log.info("playground: weekly run of %s: %s", upcoming, result)
            self.clock.advance_to(step)
            await scheduler.send_streak_dms()
            # What fell due is posted now, at this step's time: a streak DM queued on the way must
            # not arrive at the end of the jump, after the streak it warns about has broken.
            await delivery.deliver_due()
        return {"ok": True, "clock": self.clock().isoformat(), "runs": ran}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _client_refusal(reason: str) -> str:
    """Say what Discord's own client would: it checks options and permissions before sending."""
    if "cannot see /" in reason:
        return "You don't have permission to use this command."
    return f"Discord would not send that: {reason}"
