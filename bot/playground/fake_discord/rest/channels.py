"""REST routes of channels: messages, history, typing, reactions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.playground.fake_discord.constants import (
    ATTACH_FILES,
    CHANNEL_DM,
    FLAG_EPHEMERAL,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    MANAGE_MESSAGES,
    SEND_MESSAGES,
    VIEW_CHANNEL,
)
from bot.playground.fake_discord.models import FakeChannel, RecordedRequest
from bot.playground.fake_discord.rest.responses import error_response, json_response

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake


class ChannelRoutes:
    """``/channels/{id}/...``: what the bot posts, edits and deletes."""

    # ------------------------------------------------------------------ REST handlers: channels

    def _channel_or_404(self: Fake, cid: str) -> FakeChannel | web.Response:
        ch = self._find_channel(int(cid))
        if ch is None:
            return error_response(404, 10003, "Unknown Channel")
        if ch.type != CHANNEL_DM and not self.permissions_for(self.bot_user, ch) & VIEW_CHANNEL:
            return error_response(403, 50001, "Missing Access")
        return ch

    def _message_or_404(self: Fake, ch: FakeChannel, mid: str) -> dict[str, Any] | web.Response:
        msg = self._messages.get(int(mid))
        if msg is None or int(msg["channel_id"]) != ch.id or msg["flags"] & FLAG_EPHEMERAL:
            return error_response(404, 10008, "Unknown Message")
        return msg

    async def _h_get_channel(self: Fake, rec: RecordedRequest, cid: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        return json_response(ch.to_payload())

    async def _h_history(self: Fake, rec: RecordedRequest, cid: str) -> web.Response:
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
        return json_response([self._public(self._messages[i]) for i in ids if i in self._messages])

    async def _h_post_message(self: Fake, rec: RecordedRequest, cid: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        body = rec.json or {}
        if ch.type == CHANNEL_DM:
            if not ch.recipients[0].dms_open:
                return error_response(403, 50007, "Cannot send messages to this user")
        else:
            perms = self.permissions_for(self.bot_user, ch)
            if not perms & SEND_MESSAGES or (rec.files and not perms & ATTACH_FILES):
                return error_response(403, 50013, "Missing Permissions")
        if err := self._validate_message(body, rec.files):
            return err
        if body.get("enforce_nonce") and body.get("nonce") is not None:
            # Discord answers a repeated nonce (from the same author, within minutes) with the
            # message it already created, instead of posting it again.
            for existing in self.messages_in(ch, include_interactions=False):
                if existing.get("nonce") == body["nonce"] and existing["author"]["id"] == str(self.bot_user.id):
                    return json_response(self._public(existing))
        msg = self._create_message(ch, self.bot_user, body, rec.files)
        await self._echo_message_event("MESSAGE_CREATE", msg)
        return json_response(self._public(msg))

    async def _h_get_message(self: Fake, rec: RecordedRequest, cid: str, mid: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        msg = self._message_or_404(ch, mid)
        if isinstance(msg, web.Response):
            return msg
        return json_response(self._public(msg))

    async def _h_edit_message(self: Fake, rec: RecordedRequest, cid: str, mid: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        msg = self._message_or_404(ch, mid)
        if isinstance(msg, web.Response):
            return msg
        if int(msg["author"]["id"]) != self.bot_user.id:
            return error_response(403, 50005, "Cannot edit a message authored by another user")
        body = rec.json or {}
        if err := self._validate_message(body, rec.files, edit=True):
            return err
        self._edit_message(msg, body, rec.files)
        for pi in self._interactions.values():
            if pi.component_message_id == int(mid) and pi.callback_type == 6:
                pi.updates += 1
        await self._echo_message_event("MESSAGE_UPDATE", msg)
        self._notify()
        return json_response(self._public(msg))

    async def _h_delete_message(self: Fake, rec: RecordedRequest, cid: str, mid: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        msg = self._message_or_404(ch, mid)
        if isinstance(msg, web.Response):
            return msg
        own = int(msg["author"]["id"]) == self.bot_user.id
        if not own and ch.type != CHANNEL_DM and not self.permissions_for(self.bot_user, ch) & MANAGE_MESSAGES:
            return error_response(403, 50013, "Missing Permissions")
        self._delete_message(int(mid))
        await self._send_message_delete(msg)
        return web.Response(status=204)

    async def _send_message_delete(self: Fake, msg: Mapping[str, Any]) -> None:
        if msg["flags"] & FLAG_EPHEMERAL:
            return
        data = {"id": msg["id"], "channel_id": msg["channel_id"]}
        if "guild_id" in msg:
            data["guild_id"] = msg["guild_id"]
        needed = INTENT_GUILD_MESSAGES if "guild_id" in msg else INTENT_DIRECT_MESSAGES
        for session in list(self._sessions.values()):
            if session.intents & needed:
                await self._dispatch_to(session, "MESSAGE_DELETE", dict(data))

    async def _h_typing(self: Fake, rec: RecordedRequest, cid: str) -> web.Response:
        ch = self._channel_or_404(cid)
        if isinstance(ch, web.Response):
            return ch
        return web.Response(status=204)

    async def _h_add_reaction(self: Fake, rec: RecordedRequest, cid: str, mid: str, emoji: str) -> web.Response:
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

    async def _h_remove_reaction(self: Fake, rec: RecordedRequest, cid: str, mid: str, emoji: str) -> web.Response:
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
