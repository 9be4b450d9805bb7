"""The gateway: websocket connections, sessions, IDENTIFY/RESUME, heartbeats and the events sent to bots."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.playground.fake_discord.constants import INTENT_GUILD_MEMBERS, INTENT_GUILDS, PRIVILEGED_INTENTS
from bot.playground.fake_discord.models import (
    FakeChannel,
    FakeDiscordError,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    GatewayConnection,
    GatewaySession,
    InteractionTimeout,
    id_of,
    make_stream_compressor,
)

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake

_log = logging.getLogger("bot.playground.fake_discord")


class GatewayMixin:
    """The gateway side of the fake: events to connected bots, reconnects, and the websocket handler."""

    # ------------------------------------------------------------------ gateway API

    @property
    def connected(self: Fake) -> bool:
        return any(s.live for s in self._sessions.values())

    async def dispatch(
        self: Fake, event: str, data: Mapping[str, Any], *, sync: bool = True, intent: int | None = None
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

    async def sync(self: Fake, timeout: float = 5.0) -> None:
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
        self: Fake, code: int = 4000, *, wait_for_reconnect: bool = True, timeout: float = 5.0
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

    def invalidate_sessions(self: Fake) -> None:
        """Make every existing session non-resumable: the client's next RESUME gets
        INVALID_SESSION (op 9, d=false) and it has to IDENTIFY again."""
        for session in self._sessions.values():
            session.resumable = False

    async def request_reconnect(self: Fake) -> None:
        """Send op 7 RECONNECT to every live connection (the client then resumes)."""
        for conn in list(self._conns):
            if conn.session is not None and not conn.closed:
                await conn.send({"op": 7, "d": None})

    async def member_join(self: Fake, guild: FakeGuild | int, name: str | None = None, **kwargs: Any) -> FakeMember:
        """add_member() + GUILD_MEMBER_ADD to sessions with the members intent."""
        member = self.add_member(guild, name, **kwargs)
        await self.dispatch("GUILD_MEMBER_ADD", self.member_payload(member), intent=INTENT_GUILD_MEMBERS)
        return member

    async def create_role(self: Fake, guild: FakeGuild | int, name: str, **kwargs: Any) -> FakeRole:
        """add_role() + GUILD_ROLE_CREATE (for roles created while the bot is connected)."""
        role = self.add_role(guild, name, **kwargs)
        await self.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(role.guild_id), "role": role.to_payload()})
        return role

    async def create_channel(self: Fake, guild: FakeGuild | int, name: str, **kwargs: Any) -> FakeChannel:
        """add_channel() + CHANNEL_CREATE (for channels created while the bot is connected)."""
        channel = self.add_channel(guild, name, **kwargs)
        await self.dispatch("CHANNEL_CREATE", channel.to_payload())
        return channel

    async def member_leave(self: Fake, member: FakeMember) -> None:
        guild = self._guild(member.guild_id)
        guild.members.pop(member.id, None)
        await self.dispatch(
            "GUILD_MEMBER_REMOVE",
            {"guild_id": str(guild.id), "user": member.user.to_payload()},
            intent=INTENT_GUILD_MEMBERS,
        )

    async def remove_bot(self: Fake, guild: FakeGuild | int) -> None:
        """Kick the bot from a guild: GUILD_DELETE without ``unavailable`` (a removal, not an outage)
        to sessions with the guilds intent. From then on the guild and its channels are unknown to
        the bot's REST calls (404), and a new connection's READY no longer lists it."""
        guild = self._guild(guild)
        self.guilds.pop(guild.id, None)
        self.departed_guilds[guild.id] = guild
        await self.dispatch("GUILD_DELETE", {"id": str(guild.id)}, intent=INTENT_GUILDS)

    async def invite_bot(self: Fake, guild: FakeGuild | int) -> None:
        """Add the bot to a guild (again): GUILD_CREATE without ``unavailable``, which discord.py
        reads as a join (``on_guild_join``), to sessions with the guilds intent."""
        gid = id_of(guild)
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

    async def member_rejoin(self: Fake, member: FakeMember) -> FakeMember:
        """A member who left joins again (same user): GUILD_MEMBER_ADD to sessions with the members intent."""
        return await self.member_join(member.guild_id, user=member.user)

    async def user_message(
        self: Fake, channel: FakeChannel | int, author: FakeMember | FakeUser, content: str = "", **fields: Any
    ) -> dict[str, Any]:
        """A (non-bot) user posts a message: stored and sent as MESSAGE_CREATE (content is
        blanked for bots without the message_content intent, like Discord does)."""
        channel = self._channel(channel)
        user = author.user if isinstance(author, FakeMember) else author
        body = {"content": content, **fields}
        msg = self._create_message(channel, user, body, [])
        await self._echo_message_event("MESSAGE_CREATE", msg, sync=True)
        return self._export(msg)

    # ------------------------------------------------------------------ internals: gateway

    @staticmethod
    def shard_of(guild_id: int, shard_count: int) -> int:
        """The shard Discord gives a guild: ``(guild_id >> 22) % shard_count``."""
        return (guild_id >> 22) % shard_count

    def _for_session(self: Fake, session: GatewaySession, event: str, data: Mapping[str, Any]) -> bool:
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

    async def _dispatch_to(self: Fake, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        if not self._for_session(session, event, data):
            return
        async with session.lock:
            session.seq += 1
            payload = {"op": 0, "t": event, "s": session.seq, "d": data}
            session.events.append(payload)
            conn = session.conn
            if conn is not None and not conn.closed:
                await conn.send(payload)

    async def _ws_handler(self: Fake, request: web.Request) -> web.StreamResponse:
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
                make_stream_compressor(compress)
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
        conn = GatewayConnection(ws, compress=compress, path=request.path, query=query)
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

    async def _ack_heartbeat(self: Fake, conn: GatewayConnection) -> None:
        await asyncio.sleep(self.heartbeat_ack_delay)
        await conn.send({"op": 11, "s": None, "t": None, "d": None})

    async def _on_gateway_payload(self: Fake, conn: GatewayConnection, payload: Mapping[str, Any]) -> None:
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

    async def _on_identify(self: Fake, conn: GatewayConnection, d: Mapping[str, Any]) -> None:
        if d.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        intents = int(d.get("intents", 0))
        allowed = 0
        for name in self.privileged_intents:
            allowed |= PRIVILEGED_INTENTS[name]
        disallowed = sum(PRIVILEGED_INTENTS.values()) & intents & ~allowed
        if disallowed:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        session = GatewaySession(intents=intents, shard=d.get("shard"))
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

    async def _on_resume(self: Fake, conn: GatewayConnection, d: Mapping[str, Any]) -> None:
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

    async def _on_request_members(self: Fake, conn: GatewayConnection, d: Mapping[str, Any]) -> None:
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
